"""deblur.batch: the one-file unit of work, the runners, the summary."""

import csv
import io
import json
import multiprocessing
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from deblur.options import SolveOptions
from deblur import batch, pipeline


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(tmp_path / name)
        paths.append(tmp_path / name)
    (tmp_path / "bad.png").write_bytes(b"nope")
    paths.append(tmp_path / "bad.png")
    return paths


def _job(path, out_dir, **kw):
    options = batch.RestoreOptions(psf="box:size=3", solve=SolveOptions(max_num_iter=2), **kw)
    return batch.FileJob(input=str(path), output=str(out_dir / path.name), options=options, label=path.name)


def test_jobs_and_rows_are_picklable(tmp_path):
    job = _job(tmp_path / "a.png", tmp_path, color="luma")
    assert pickle.loads(pickle.dumps(job)) == job
    row = batch.Row(file="a.png", status="ok", iterations=3)
    assert pickle.loads(pickle.dumps(row)) == row


def test_options_map_onto_solve():
    options = batch.RestoreOptions(psf="box:size=3", color="rgb",
                                   solve=SolveOptions(precision="float64", max_num_iter=7, lr=0.5))
    solver = options.solver_options
    assert solver.precision == "float64" and solver.max_num_iter == 7 and solver.lr == 0.5
    assert solver.color_space == "rgb" and options.solve.color_space == "opponent"
    assert batch.RestoreOptions(psf="box:size=3", color="luma").solver_options.color_space == "luma"
    import inspect
    from dataclasses import fields

    from deblur import api

    assert {f.name for f in fields(SolveOptions)} <= set(inspect.signature(api.solve).parameters)


def test_process_file_ok_and_failed(images, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    ok = batch.process_file(_job(images[0], out))
    assert ok.status == "ok" and ok.iterations == 2 and ok.final_cost > 0 and ok.error is None
    assert (out / "a.png").exists()
    bad = batch.process_file(_job(images[2], out))
    assert bad.status == "failed" and "not an image" in bad.error
    assert not (out / "bad.png").exists()


def test_serial_rows_in_completion_order(images, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    got = list(batch.iter_rows([_job(p, out) for p in images], n_jobs=1))
    assert [i for i, _ in got] == [0, 1, 2]
    assert [r.status for _, r in got] == ["ok", "ok", "failed"]


def test_process_pool(images, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    jobs = [_job(p, out) for p in images[1:]]  # one good file, one bad: enough to see both come back
    got = dict(batch.iter_rows(jobs, n_jobs=2))
    assert sorted(got) == [0, 1]
    assert got[0].status == "ok" and got[0].iterations == 2 and (out / "b.png").exists()
    assert got[1].status == "failed" and "not an image" in got[1].error


def test_stop_request_writes_nothing(images, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    stop = multiprocessing.get_context("spawn").Event()
    stop.set()
    monkeypatch.setattr(pipeline, "_STOP", stop)
    row = batch.process_file(_job(images[0], out))
    assert row.status == "interrupted"
    assert os.listdir(out) == []


def test_stop_request_mid_solve(images, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    stop = multiprocessing.get_context("spawn").Event()
    monkeypatch.setattr(pipeline, "_STOP", stop)

    def set_after_first(state):
        stop.set()

    with pytest.raises(batch.Interrupted):
        batch.restore_file(_job(images[0], out), callback=set_after_first)
    assert os.listdir(out) == []


def test_keyboard_interrupt_gives_every_row(images, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    real = batch.process_file

    def interrupt_second(job):
        if job.label == "b.png":
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(batch, "process_file", interrupt_second)
    with pytest.raises(batch.BatchInterrupted) as info:
        list(batch.iter_rows([_job(p, out) for p in images]))
    rows = info.value.rows
    assert [r.status for r in rows] == ["ok", "interrupted", "interrupted"]
    assert rows[1].error == "stopped; nothing written" and rows[2].error == "not started"


def test_find_images(tmp_path):
    for rel in ("x.PNG", "y.jpeg", "z.txt", ".hidden.png", "sub/w.tif", "out/v.png"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    names = lambda found: sorted(os.path.relpath(f, tmp_path) for f in found)  # noqa: E731
    assert names(batch.find_images(tmp_path, patterns=["*.png", "*.jpeg"])) == ["x.PNG", "y.jpeg"]
    found = batch.find_images(tmp_path, patterns=["*.png", "*.tif"], recursive=True, exclude=tmp_path / "out")
    assert names(found) == [os.path.join("sub", "w.tif"), "x.PNG"]


def test_summary_csv_json_and_table(tmp_path):
    rows = [
        batch.Row(file="a.png", status="ok", iterations=5, seconds=0.5, final_cost=1.25, stop_reason="tol", backoffs=0),
        batch.Row(file="b.png", status="failed", error="b.png is not an image " + "x" * 80),
    ]
    batch.write_summary(tmp_path / "s.csv", rows)
    parsed = list(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_text())))
    assert list(parsed[0]) == list(batch.SUMMARY_COLUMNS)
    assert parsed[0]["final_cost"] == "1.25" and parsed[1]["error"].startswith("b.png is not")
    batch.write_summary(tmp_path / "s.json", rows)
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc[1]["status"] == "failed" and doc[0]["iterations"] == 5
    table = batch.format_table(rows).splitlines()
    assert table[0].split()[:3] == ["file", "status", "iterations"] and len(table) == 4
    assert table[3].endswith("...")


def test_reference_of_other_size_is_an_input_error(images, tmp_path):
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "ref.png")
    options = batch.RestoreOptions(psf="box:size=3", solve=SolveOptions(max_num_iter=1))
    job = batch.FileJob(input=str(images[0]), output=str(tmp_path / "o.png"), options=options,
                        reference=str(tmp_path / "ref.png"))
    with pytest.raises(batch.InputError, match="does not match"):
        batch.restore_file(job)


def test_any_executor_plugs_in(images, tmp_path):
    """The hook a distributed backend uses: a concurrent.futures executor (Dask's client.get_executor())."""
    from concurrent.futures import ThreadPoolExecutor

    out = tmp_path / "out"
    out.mkdir()
    with ThreadPoolExecutor(2) as executor:
        got = dict(batch.iter_rows([_job(p, out) for p in images], executor=executor))
    assert [got[i].status for i in range(3)] == ["ok", "ok", "failed"]
