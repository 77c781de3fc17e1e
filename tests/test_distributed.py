"""Batches on a dask.distributed cluster (loopback): same bytes as local, retries, per-file failures."""

import csv
import os
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("distributed")

import cloudpickle  # noqa: E402  (a dependency of distributed)
import dask  # noqa: E402
import distributed  # noqa: E402
from distributed.diagnostics.plugin import WorkerPlugin  # noqa: E402

from deblur.options import SolveOptions
from deblur import batch, cli  # noqa: E402
from deblur import distributed as deblur_distributed  # noqa: E402

# A cluster shutting down can leave a socket for the garbage collector: the one warning let through.
pytestmark = pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning")

# The worker plugin below travels by value: workers cannot import this test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

OPTIONS = batch.RestoreOptions(psf="motion:length=5,angle=20", solve=SolveOptions(max_num_iter=8))


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread, started once for the module.

    One task per worker thread at a time (worker-saturation 1): a worker that dies then takes
    down only the image it was on, which the KilledWorker test relies on.
    """
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def folder(tmp_path):
    """in/: five small images (gray, colour, 16-bit) and a broken file."""
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(5)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40 + 4 * i, 36), dtype=np.uint8)).save(src / f"g{i}.png")
    Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)).save(src / "c.png")
    Image.fromarray(rng.integers(0, 65536, (36, 36), dtype=np.uint16)).save(src / "deep.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return src


def _jobs(src, out):
    out.mkdir(exist_ok=True)
    return [batch.FileJob(str(p), str(out / p.name), OPTIONS, label=p.name) for p in sorted(src.iterdir())]


def _comparable(row):
    return (row.file, row.status, row.iterations, row.final_cost, row.stop_reason, row.error)


def test_cluster_rows_and_bytes_match_the_local_run(client, folder, tmp_path):
    local = dict(batch.iter_rows(_jobs(folder, tmp_path / "local")))
    with deblur_distributed.cluster_executor(None, client=client) as pool:
        remote = dict(batch.iter_rows(_jobs(folder, tmp_path / "remote"), executor=pool))
    assert sorted(remote) == sorted(local) == list(range(6))
    assert [_comparable(remote[i]) for i in range(6)] == [_comparable(local[i]) for i in range(6)]
    assert [r.status for r in remote.values()].count("failed") == 1
    for name in ("g0.png", "g1.png", "g2.png", "c.png", "deep.png"):
        assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert not client.cluster.scheduler.tasks or all(  # nothing left behind on the scheduler
        ts.state in ("memory", "released", "forgotten") for ts in client.cluster.scheduler.tasks.values()
    )


def test_cli_batch_on_a_scheduler_address(client, folder, tmp_path):
    runner = CliRunner()
    common = ["--psf", "motion:length=5,angle=20", "--iterations", "8"]
    local = runner.invoke(cli.main, ["batch", str(folder), str(tmp_path / "a"), *common])
    remote = runner.invoke(cli.main, ["batch", str(folder), str(tmp_path / "b"), *common,
                                      "--scheduler", client.scheduler.address])
    assert local.exit_code == remote.exit_code == 1  # broken.png, reported per file both ways
    assert "note: running on the Dask scheduler" in remote.stderr and "2 worker(s)" in remote.stderr
    assert "broken.png" in remote.stderr and "1 of 6 file(s) failed" in remote.stderr
    assert _summary(tmp_path / "b") == _summary(tmp_path / "a")
    for name in ("g0.png", "c.png", "deep.png"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()


def _summary(out):
    """The summary table without its timings."""
    rows = list(csv.DictReader((out / "deblur-summary.csv").read_text().splitlines()))
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_cli_refuses_jobs_with_a_remote_scheduler(folder, tmp_path):
    result = CliRunner().invoke(cli.main, ["batch", str(folder), str(tmp_path / "o"), "--psf", "box:size=3",
                                           "--scheduler", "tcp://127.0.0.1:1", "--jobs", "2"])
    assert result.exit_code == 2 and "--jobs sets the workers of --scheduler local" in result.stderr


def test_unreachable_scheduler_is_a_failure(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(deblur_distributed, "CONNECT_TIMEOUT", 1)
    result = CliRunner().invoke(cli.main, ["batch", str(folder), str(tmp_path / "o"), "--psf", "box:size=3",
                                           "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr


class DieOnce(WorkerPlugin):
    """Makes a worker process exit when it starts an image called ``die*``: once per image, or always
    for ``die-always*`` (a marker file records the first death, so the restarted worker goes on)."""

    name = "deblur-test-die-once"

    def __init__(self, marker_dir):
        self.marker_dir = marker_dir

    def setup(self, worker):
        import deblur.pipeline as b

        original = getattr(b, "_original_restore_file", b.restore_file)
        b._original_restore_file = original
        marker_dir = self.marker_dir

        def restore_file(job, **kwargs):
            name = os.path.basename(job.input)
            marker = os.path.join(marker_dir, name + ".died")
            if name.startswith("die") and (name.startswith("die-always") or not os.path.exists(marker)):
                with open(marker, "a") as fh:
                    fh.write("died\n")
                os._exit(1)
            return original(job, **kwargs)

        b.restore_file = restore_file

    def teardown(self, worker):
        import deblur.pipeline as b

        b.restore_file = b._original_restore_file


@pytest.fixture
def dying(client, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    client.register_plugin(DieOnce(str(markers)))
    yield markers
    client.unregister_worker_plugin(DieOnce.name)


def test_a_worker_dying_mid_batch_gets_its_image_retried(client, folder, tmp_path, dying):
    os.rename(folder / "g1.png", folder / "die-g1.png")
    jobs = _jobs(folder, tmp_path / "out")
    with deblur_distributed.cluster_executor(None, client=client) as pool:
        rows = dict(batch.iter_rows(jobs, executor=pool))
    by_name = {r.file: r for r in rows.values()}
    assert (dying / "die-g1.png.died").read_text() == "died\n"  # its worker died once...
    assert by_name["die-g1.png"].status == "ok" and (tmp_path / "out" / "die-g1.png").exists()  # ...and it was redone
    assert by_name["broken.png"].status == "failed"
    assert sum(r.status == "ok" for r in rows.values()) == 5, [(r.file, r.status, r.error) for r in rows.values()]


def test_an_image_that_kills_every_worker_fails_alone(client, folder, tmp_path, dying):
    os.rename(folder / "g2.png", folder / "die-always.png")
    scheduler = client.cluster.scheduler
    allowed, scheduler.allowed_failures = scheduler.allowed_failures, 0  # give up at the first death
    try:
        with deblur_distributed.cluster_executor(None, client=client) as pool:
            rows = dict(batch.iter_rows(_jobs(folder, tmp_path / "out"), executor=pool))
    finally:
        scheduler.allowed_failures = allowed
    by_name = {r.file: r for r in rows.values()}
    assert by_name["die-always.png"].status == "failed" and "KilledWorker" in by_name["die-always.png"].error
    assert sum(r.status == "ok" for r in rows.values()) == 4
