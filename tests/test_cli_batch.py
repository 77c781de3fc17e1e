"""``deblur batch`` through CliRunner: bad files, resuming, side outputs, summary, exit codes."""

import csv
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from deblur import cli

FAST = ["--psf", "gaussian:sigma=1", "--iterations", "2"]


def run(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def folder(tmp_path):
    """in/: two good images, a corrupt one, a text file, and sub/c.png."""
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (24, 24), dtype=np.uint8)).save(src / "a.png")
    Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(src / "b.jpg")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (src / "readme.txt").write_text("not an image")
    Image.fromarray(rng.integers(0, 256, (20, 24), dtype=np.uint8)).save(src / "sub" / "c.png")
    return src


def _no_part_files(root):
    return not [f for _, _, files in os.walk(root) for f in files if f.endswith(".part")]


def test_corrupt_file_does_not_stop_the_batch(folder, tmp_path):
    out = tmp_path / "out"
    result = run("batch", folder, out, *FAST)
    assert result.exit_code == 1
    assert "broken.png" in result.stderr and "1 of 3 file(s) failed" in result.stderr
    assert (out / "a.png").exists() and (out / "b.jpg").exists() and not (out / "broken.png").exists()
    assert not (out / "sub").exists()  # not recursive
    rows = list(csv.DictReader((out / "deblur-summary.csv").read_text().splitlines()))
    assert [r["file"] for r in rows] == ["a.png", "b.jpg", "broken.png"]
    status = {r["file"]: r for r in rows}
    assert status["a.png"]["status"] == "ok" and status["a.png"]["iterations"] == "2"
    assert float(status["a.png"]["final_cost"]) > 0 and float(status["a.png"]["seconds"]) >= 0
    assert status["broken.png"]["status"] == "failed" and "broken.png" in status["broken.png"]["error"]
    assert "file" in result.stdout and "status" in result.stdout  # the table
    assert _no_part_files(out)


def test_recursive_mirrors_and_side_outputs(folder, tmp_path):
    out = tmp_path / "out"
    result = run("batch", folder, out, *FAST, "--recursive", "--pattern", "*.png", "--plot", "--history", "json",
                 "--compare", "--summary", tmp_path / "summary.json")
    assert result.exit_code == 1  # broken.png still fails
    assert (out / "sub" / "c.png").exists() and not (out / "b.jpg").exists()
    for name in ("a", "sub/c"):
        assert (out / f"{name}.convergence.png").read_bytes().startswith(b"\x89PNG")
        assert (out / f"{name}.compare.png").exists()
        doc = json.loads((out / f"{name}.history.json").read_text())
        assert doc["iterations"] == 2 and len(doc["history"]["cost"]) == 3
    rows = json.loads((tmp_path / "summary.json").read_text())
    assert {r["file"] for r in rows} == {"a.png", "broken.png", os.path.join("sub", "c.png")}
    assert {r["status"] for r in rows} == {"ok", "failed"}


def test_existing_outputs_skip_or_refuse(folder, tmp_path):
    out = tmp_path / "out"
    run("batch", folder, out, *FAST, "--pattern", "a.png")
    before = (out / "a.png").read_bytes()
    result = run("batch", folder, out, *FAST, "--pattern", "a.png,b.jpg")
    assert result.exit_code == 2 and "--skip-existing" in result.stderr and "a.png" in result.stderr
    assert not (out / "b.jpg").exists()
    result = run("batch", folder, out, *FAST, "--pattern", "a.png,b.jpg", "--skip-existing")
    assert result.exit_code == 0, result.output
    assert (out / "a.png").read_bytes() == before and (out / "b.jpg").exists()
    assert "1 restored, 1 skipped, 0 failed" in result.stdout
    result = run("batch", folder, out, *FAST, "--pattern", "a.png", "--overwrite")
    assert result.exit_code == 0


def test_a_format_read_but_not_written_is_restored_to_png(folder, tmp_path):
    with Image.open(folder / "a.png") as image:
        image.save(folder / "a.gif")
        image.save(folder / "d.gif")
    out = tmp_path / "out"
    result = run("batch", folder, out, *FAST, "--pattern", "*.gif,a.png")
    assert result.exit_code == 0, result.output
    # d.gif has its stem to itself; a.gif shares "a" with a.png, so its output keeps the whole name
    assert sorted(p.name for p in out.glob("*.png")) == ["a.gif.png", "a.png", "d.png"]
    with Image.open(out / "d.png") as restored:
        assert restored.format == "PNG"


def test_usage_errors(folder, tmp_path):
    assert run("batch", folder, folder, *FAST).exit_code == 2
    result = run("batch", folder, tmp_path / "o", *FAST, "--pattern", "*.gif")
    assert result.exit_code == 2 and "no files matching" in result.stderr
    assert run("batch", tmp_path / "nope", tmp_path / "o", *FAST).exit_code == 2
    assert run("batch", folder, tmp_path / "o", *FAST, "--skip-existing", "--overwrite").exit_code == 2
    assert run("batch", folder, tmp_path / "o", *FAST, "--summary", tmp_path / "s.txt").exit_code == 2


def test_output_inside_input_is_not_rescanned(folder):
    result = run("batch", folder, folder / "restored", *FAST, "--recursive", "--pattern", "a.png")
    assert result.exit_code == 0, result.output
    result = run("batch", folder, folder / "restored", *FAST, "--recursive", "--pattern", "a.png", "--skip-existing")
    assert "restored/a.png" not in result.stdout


def test_ctrl_c_stops_cleanly(folder, tmp_path, monkeypatch):
    from deblur import batch

    calls = []

    def first_ok_then_interrupt(job):
        if calls:
            raise KeyboardInterrupt
        calls.append(job)
        return batch.Row(file=job.label, status="ok", iterations=1)

    monkeypatch.setattr(batch, "process_file", first_ok_then_interrupt)
    out = tmp_path / "out"
    result = run("batch", folder, out, *FAST)
    assert result.exit_code == 130
    assert "interrupted" in result.stderr and "--skip-existing" in result.stderr
    rows = list(csv.DictReader((out / "deblur-summary.csv").read_text().splitlines()))
    assert [r["status"] for r in rows] == ["ok", "interrupted", "interrupted"]
    assert _no_part_files(out)


def test_sigterm_stops_a_batch_cleanly_with_143(folder, tmp_path, monkeypatch):
    import signal
    import time

    from deblur import batch

    calls = []

    def first_ok_then_terminated(job):
        if calls:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        calls.append(job)
        return batch.Row(file=job.label, status="ok", iterations=1)

    monkeypatch.setattr(batch, "process_file", first_ok_then_terminated)
    out = tmp_path / "out"
    result = run("batch", folder, out, *FAST)
    assert result.exit_code == 143 and "interrupted" in result.stderr
    rows = list(csv.DictReader((out / "deblur-summary.csv").read_text().splitlines()))
    assert [r["status"] for r in rows] == ["ok", "interrupted", "interrupted"]
    assert _no_part_files(out)


def test_unwritable_output_folder_and_no_stray_folders(folder, tmp_path):
    (tmp_path / "afile").write_text("x")
    result = run("batch", folder, tmp_path / "afile" / "out", *FAST)
    assert result.exit_code == 1 and "cannot create the output folder" in result.stderr
    result = run("batch", folder, tmp_path / "o2", *FAST, "--reference-dir", tmp_path / "afile")
    assert result.exit_code == 2
    assert not (tmp_path / "o2").exists()  # a usage error creates nothing


def test_a_kernel_file_is_read_once_for_the_whole_batch(folder, tmp_path, monkeypatch):
    """The PSF is parsed where --psf is read, not again per file (nor in the library)."""
    from deblur import psf as _psf

    np.save(tmp_path / "k.npy", _psf.box(3))
    reads = []
    real = _psf.load
    monkeypatch.setattr(_psf, "load", lambda path: reads.append(path) or real(path))
    result = run("batch", folder, tmp_path / "out", "--psf", str(tmp_path / "k.npy"), "--iterations", "1")
    assert "restored" in result.output and len(reads) == 1


def test_a_photo_left_as_it_was_is_counted_apart_from_the_restored(tmp_path):
    """No --psf: a flat photo has no blur to estimate; it is written as it was and the count says so."""
    from deblur import psf, simulate

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save(src / "flat.png")
    rng = np.random.default_rng(3)
    blurry = simulate.blur(np.kron(rng.random((12, 12)), np.ones((8, 8))), psf.motion(7, 0), boundary="valid")
    Image.fromarray(np.round(np.clip(blurry, 0, 1) * 255).astype(np.uint8)).save(src / "blurry.png")
    out = tmp_path / "out"
    result = run("batch", src, out, "--iterations", "3")
    assert result.exit_code == 0, result.output
    assert "1 restored, 1 left as they were (no usable blur estimate), 0 skipped, 0 failed" in result.stdout
    assert np.array_equal(np.asarray(Image.open(out / "flat.png")), np.asarray(Image.open(src / "flat.png")))
