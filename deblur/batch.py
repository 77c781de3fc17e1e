"""Restoring many files: in this process, in a process pool, or on any executor.

The unit of work is :func:`deblur.pipeline.process_file`: a picklable
:class:`~deblur.pipeline.FileJob` in, a :class:`~deblur.summary.Row` out,
never raising for a bad file (the error goes in the row), so a backend only
has to map it over jobs. :func:`iter_rows` runs the jobs in this process, in
a process pool, or on any ``concurrent.futures`` executor - a Dask cluster
plugs in as ``iter_rows(jobs, executor=client.get_executor())``
(:mod:`deblur.distributed`), or maps the function itself::

    futures = client.map(process_file, jobs)
    for future in distributed.as_completed(futures):
        row = future.result()

The one-file pipeline and the summary writers are re-exported here, where
they were first defined. This module never imports click.
"""

import contextlib
import os

from . import pipeline
from .errors import InputError, Interrupted
from .pipeline import FileJob, FileOutcome, RestoreOptions, history_document, process_file, restore_file
from .summary import SUMMARY_COLUMNS, Row, format_table, write_summary

__all__ = [
    "RestoreOptions",
    "FileJob",
    "Row",
    "FileOutcome",
    "InputError",
    "Interrupted",
    "BatchInterrupted",
    "restore_file",
    "process_file",
    "history_document",
    "iter_rows",
    "find_images",
    "write_summary",
    "format_table",
    "SUMMARY_COLUMNS",
]


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch; ``rows`` holds every file's row (unfinished ones ``interrupted``)."""

    def __init__(self, rows):
        super().__init__("interrupted")
        self.rows = rows


def _worker_init(stop, pillow_limit):
    """Pool worker set-up: Ctrl-C is the parent's to handle; it asks us to stop through ``stop``.

    Pillow's own pixel limit is the parent's (the command line may have lifted it, see
    :func:`deblur.io.allow_pixels`), set once for the worker's life.
    """
    import signal

    from PIL import Image

    pipeline.set_stop_event(stop)
    Image.MAX_IMAGE_PIXELS = pillow_limit
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def iter_rows(jobs, *, n_jobs=1, executor=None):
    """Run :func:`process_file` over ``jobs``; yield ``(index, row)`` as each finishes.

    Parameters
    ----------
    jobs : iterable of FileJob
    n_jobs : int
        1: one file after the other, in this process. More: a pool of that
        many processes (started fresh, so Numba's threads are never forked;
        see :func:`_pool_context`).
    executor : concurrent.futures.Executor, optional
        Run the jobs there instead (``n_jobs`` is then ignored), e.g. a Dask
        cluster's ``client.get_executor()``. The caller owns it.

    On Ctrl-C, files not started are not started, running solvers stop at
    their next iteration without writing (in an outside executor they run
    to the end), and :class:`BatchInterrupted` is raised with a row for
    every job.
    """
    jobs = list(jobs)
    rows = [None] * len(jobs)
    running = None
    try:
        if executor is not None:
            yield from _iter_futures(executor, jobs, rows)
        elif n_jobs <= 1 or len(jobs) <= 1:
            for i, job in enumerate(jobs):
                running = i
                rows[i] = process_file(job)
                running = None
                yield i, rows[i]
        else:
            yield from _iter_pool(jobs, rows, n_jobs)
    except KeyboardInterrupt:
        for i, job in enumerate(jobs):
            if rows[i] is None:
                what = "stopped; nothing written" if i == running else "not started"
                rows[i] = Row(file=job.label or job.input, status="interrupted", error=what)
        raise BatchInterrupted(rows) from None


def _iter_pool(jobs, rows, n_jobs):
    from concurrent.futures import ProcessPoolExecutor

    from PIL import Image

    ctx = _pool_context()
    stop = ctx.Event()
    pool = ProcessPoolExecutor(max_workers=min(n_jobs, len(jobs)), mp_context=ctx,
                               initializer=_worker_init, initargs=(stop, Image.MAX_IMAGE_PIXELS))
    try:
        yield from _iter_futures(pool, jobs, rows, stop)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _iter_futures(executor, jobs, rows, stop=None):
    """Submit every job to ``executor`` and yield rows as they complete."""
    from concurrent.futures import FIRST_COMPLETED, wait

    futures = {}
    try:
        futures = {executor.submit(process_file, job): i for i, job in enumerate(jobs)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = futures[fut]
                rows[i] = _future_row(fut, jobs[i])
                yield i, rows[i]
    except KeyboardInterrupt:
        if stop is not None:
            stop.set()  # running solvers return at their next iteration and write nothing
        for fut in futures:
            fut.cancel()
        for fut, i in futures.items():
            if rows[i] is None and not fut.cancelled():
                with contextlib.suppress(Exception):
                    rows[i] = fut.result()
        raise


def _pool_context():
    """Workers start from a clean process, never a fork of this one (Numba's thread pool is not fork-safe).

    Where the platform has it, a fork server that has already imported deblur
    hands out the workers, so each one skips the imports; elsewhere, spawn.
    """
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["deblur.batch", "deblur.pipeline", "deblur.api"])
        return ctx
    return multiprocessing.get_context("spawn")


def _future_row(fut, job):
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - a worker that died (out of memory, say) fails its file only
        return Row(file=job.label or job.input, status="failed", error=f"worker failed: {pipeline.error_text(exc)}")


def find_images(folder, *, patterns, recursive=False, exclude=None):
    """Image files under ``folder`` matching any of ``patterns`` (case-insensitive globs), sorted.

    ``exclude``: a folder whose contents are skipped (the output folder, when it lies inside).
    """
    import fnmatch

    folder = os.path.abspath(folder)
    exclude = os.path.abspath(exclude) if exclude else None
    patterns = [p.lower() for p in patterns]
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and os.path.join(root, d) != exclude)
        for name in files:
            if name.startswith("."):
                continue
            if any(fnmatch.fnmatchcase(name.lower(), p) for p in patterns):
                found.append(os.path.join(root, name))
        if not recursive:
            break
    return sorted(found)
