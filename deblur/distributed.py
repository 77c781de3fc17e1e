"""Batches on a Dask cluster: one task per image.

:func:`deblur.pipeline.process_file` is the unit of work (a picklable
:class:`~deblur.pipeline.FileJob` in, a :class:`~deblur.summary.Row` out, never
raising for a bad file), so a cluster only has to run it:
:func:`cluster_executor` connects to a ``dask.distributed`` scheduler (or
starts a :class:`~distributed.LocalCluster`) and hands back the client's
``concurrent.futures`` executor, which :func:`deblur.batch.iter_rows` drives
like its own process pool::

    with cluster_executor("tcp://scheduler:8786") as pool:
        for i, row in batch.iter_rows(jobs, executor=pool):
            ...

What the cluster gives, and what it needs:

- **Same results.** Each worker runs the same code on the same bytes, so
  the outputs are byte-identical to a local run (with the same Numba
  thread count: reductions of the cost are summed per thread, and in rare
  cases their last bits can move a stopping decision).
- **Retries.** A worker that dies mid-image (killed, out of memory) loses
  its task; the scheduler runs it again on another worker, up to
  ``distributed.scheduler.allowed-failures`` times (Dask's default 3).
  Past that the image's row says ``failed`` with ``KilledWorker`` and the
  batch goes on. A bad file is a ``failed`` row, exactly as locally.
- **Re-runs are safe.** A task may run twice: its worker can die after
  writing the output and before the row came back. So a job whose outputs
  did not exist when it was submitted may replace them when it runs
  (:func:`rerunnable`); outputs that existed before the batch are still
  never replaced without ``overwrite``. A row is dropped from the cluster
  as soon as it has come back, so a later death does not re-run finished
  images.
- **Shared files.** Workers read the inputs and write the outputs at the
  paths the client gives: on a real cluster every worker must see the
  same file system (NFS, a parallel file system) at the same paths, and
  have deblur installed (checked when the batch starts).

Dask is imported only when a cluster is asked for; without it
:class:`deblur.errors.DaskMissing` names the extra to install.
"""

import concurrent.futures as cf
import contextlib
import dataclasses
import os

from .errors import ClusterError
from .memory import require_dask

__all__ = ["cluster_executor", "BatchExecutor", "rerunnable", "connect", "describe", "worker_versions",
           "ClusterError", "LOCAL"]

LOCAL = "local"
# Seconds to wait for the scheduler, and for a first worker to join it.
CONNECT_TIMEOUT = 30



def connect(address, *, n_workers=None, timeout=None):
    """A ``distributed.Client`` on ``address``; ``'local'`` starts a LocalCluster first.

    The local cluster has ``n_workers`` worker processes (default: one per
    core) of one thread each: deblur's solver is already multi-threaded
    inside, and whole processes keep a crashing image from taking others
    down. Returns ``(client, cluster)``; ``cluster`` is None for a remote
    scheduler. Raises :class:`ClusterError` when the scheduler cannot be
    reached or no worker joins it within ``timeout`` seconds
    (default :data:`CONNECT_TIMEOUT`).
    """
    require_dask("--scheduler", distributed=True)
    import distributed

    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    if address == LOCAL:
        n = n_workers or os.cpu_count() or 1
        cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        try:
            return distributed.Client(cluster), cluster
        except BaseException:
            cluster.close()
            raise
    try:
        client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        raise ClusterError(f"the Dask scheduler at {address} has no workers (none joined in {timeout} s); "
                           "start some with: dask worker " + address) from None
    return client, None


def _deblur_version():
    import deblur

    return deblur.__version__


def worker_versions(client):
    """``{worker address: deblur version}``; :class:`ClusterError` when a worker cannot import deblur."""
    try:
        return client.run(_deblur_version)
    except Exception as exc:  # noqa: BLE001 - whatever unpickling on the worker raised
        raise ClusterError(f"the Dask workers cannot run deblur ({type(exc).__name__}: {exc}); "
                           "install deblur (the same version) on every worker") from None


def rerunnable(job):
    """``job``, allowed to replace its own outputs if none of them exists yet (else unchanged).

    Submitted now, such a job finds an output at run time only when an
    earlier attempt of the same task wrote it before its worker died.
    """
    from .pipeline import FileJob

    if not isinstance(job, FileJob) or job.options.overwrite:
        return job
    targets = [p for p in (job.output, job.plot, job.history, job.compare) if p]
    if any(os.path.lexists(p) for p in targets):
        return job  # fails as it would locally: the output was there before the batch
    return dataclasses.replace(job, options=dataclasses.replace(job.options, overwrite=True))


class BatchExecutor(cf.Executor):
    """``concurrent.futures`` face of a ``distributed.Client``, for :func:`deblur.batch.iter_rows`.

    One task per ``submit`` (never deduplicated: ``pure=False``), with
    :class:`~deblur.pipeline.FileJob` arguments made :func:`rerunnable`. When a
    task's result has come back, its Dask future is released, so the
    cluster forgets it. ``client`` and ``cluster`` (a LocalCluster or None)
    are there for reporting.
    """

    def __init__(self, client, cluster=None):
        self.client, self.cluster = client, cluster

    def submit(self, fn, /, *args, **kwargs):
        future = self.client.submit(fn, *(rerunnable(a) for a in args), pure=False, **kwargs)
        outcome = cf.Future()

        def cancel_task(f):
            if f.cancelled():
                future.cancel()

        def deliver(done):  # Dask runs this in a thread of its own
            if outcome.cancelled():
                return
            try:
                outcome.set_result(done.result())
            except BaseException as exc:  # noqa: BLE001 - KilledWorker, CancelledError...: to the caller
                outcome.set_exception(exc)
            finally:
                done.release()

        outcome.add_done_callback(cancel_task)
        future.add_done_callback(deliver)
        return outcome

    def shutdown(self, wait=True, *, cancel_futures=False):
        """Nothing to do: the client belongs to :func:`cluster_executor` or the caller."""


@contextlib.contextmanager
def cluster_executor(address, *, n_workers=None, client=None):
    """A :class:`BatchExecutor` on a Dask cluster, closed (with a local cluster) on exit.

    Parameters
    ----------
    address : str
        The scheduler, ``'tcp://host:8786'`` (or any address ``Client``
        takes), or ``'local'`` for a LocalCluster on this machine.
    n_workers : int, optional
        Worker processes of a local cluster.
    client : distributed.Client, optional
        Use this client instead (the caller owns it; ``address`` is ignored).
    """
    own = client is None
    cluster = None
    if own:
        client, cluster = connect(address, n_workers=n_workers)
    try:
        yield BatchExecutor(client, cluster)
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()


def describe(executor):
    """One line about the cluster: where, how many workers, deblur's version on them."""
    client = executor.client
    versions = worker_versions(client)
    where = "a local Dask cluster" if executor.cluster is not None else f"the Dask scheduler {client.scheduler.address}"
    import deblur

    others = sorted({v for v in versions.values() if v != deblur.__version__})
    line = f"running on {where}: {len(versions)} worker(s)"
    if others:
        line += f"; warning: workers run deblur {', '.join(others)}, this is {deblur.__version__}"
    return line
