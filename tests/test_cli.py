"""The ``deblur`` command line, through click's CliRunner: every command and error path."""

import csv
import json
import os
import time

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageCms

from deblur import cli
from deblur import io as imio
from fresh import run_fresh

FAST = ["--iterations", "3"]
PSF = ["--psf", "gaussian:sigma=1"]


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def gray(tmp_path):
    """A 32x32 8-bit gray image with some structure."""
    y, x = np.mgrid[:32, :32]
    arr = (128 + 100 * np.sin(x / 3.0) * np.cos(y / 5.0)).astype(np.uint8)
    path = tmp_path / "gray.png"
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture
def rgba(tmp_path):
    rng = np.random.default_rng(3)
    arr = rng.integers(0, 256, (24, 28, 4), dtype=np.uint8)
    path = tmp_path / "rgba.png"
    Image.fromarray(arr).save(path)
    return path, arr


def run(runner, *args):
    return runner.invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def no_partial_files(folder):
    return not [n for n in os.listdir(folder) if n.endswith(".part")]


# --------------------------------------------------------------------------- group


def test_help_and_version(runner):
    result = run(runner, "--help")
    assert result.exit_code == 0
    for command in ("restore", "batch", "psf", "blur"):
        assert command in result.output
    assert run(runner, "--version").output.strip().endswith(__import__("deblur").__version__)
    for command in ("restore", "batch", "psf", "blur"):
        assert run(runner, command, "--help").exit_code == 0


def test_python_dash_m_and_light_start():
    """``python -m deblur --help`` (run as -m does) works without loading matplotlib or compiling."""
    code = (
        "import runpy, sys\n"
        "sys.argv = ['deblur', '--help']\n"
        "try:\n    runpy.run_module('deblur', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
    )
    output, heavy = run_fresh(code, ("matplotlib", "tifffile", "skimage"))
    assert "Usage: deblur" in output and heavy == []


# --------------------------------------------------------------------------- restore


def test_restore_default_output_and_summary(runner, gray, tmp_path):
    result = run(runner, "restore", gray, *PSF, *FAST)
    assert result.exit_code == 0, result.output
    out = tmp_path / "gray.deblurred.png"
    assert out.exists() and no_partial_files(tmp_path)
    assert "3 iterations" in result.stdout and "final cost" in result.stdout and str(out) in result.stdout
    with Image.open(out) as im:
        assert im.mode == "L" and im.size == (32, 32)


def test_restore_default_output_of_an_unwritable_format_is_png(runner, tmp_path):
    gif = tmp_path / "anim.gif"
    Image.fromarray(np.kron(np.eye(4, dtype=np.uint8) * 200, np.ones((8, 8), np.uint8))).save(gif)
    result = run(runner, "restore", gif, *PSF, *FAST)
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "anim.deblurred.png") as im:
        assert im.size == (32, 32)


def test_restore_never_overwrites_without_flag(runner, gray, tmp_path):
    out = tmp_path / "o.png"
    out.write_bytes(b"precious")
    result = run(runner, "restore", gray, *PSF, *FAST, "-o", out)
    assert result.exit_code == 2
    assert "already exists" in result.stderr and "--overwrite" in result.stderr
    assert out.read_bytes() == b"precious"
    result = run(runner, "restore", gray, *PSF, *FAST, "-o", out, "--overwrite")
    assert result.exit_code == 0
    assert out.read_bytes().startswith(b"\x89PNG")


def test_restore_refuses_to_replace_input(runner, gray):
    before = gray.read_bytes()
    result = run(runner, "restore", gray, *PSF, *FAST, "-o", gray)
    assert result.exit_code == 2 and "input" in result.stderr
    assert gray.read_bytes() == before


def test_estimation_fallback_is_said_once_and_is_no_warning(runner, tmp_path):
    """A flat photo: nothing to estimate from; one note line says so and why, no warning, exit 0."""
    path = tmp_path / "flat.png"
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save(path)
    result = run(runner, "restore", path, "-o", tmp_path / "out.png", "--iterations", 3)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("could not estimate the blur") == 1
    assert "note: PSF estimation: could not estimate the blur: the image has no edges" in result.stderr
    assert "left as it was" in result.stderr
    assert "warning" not in result.stderr.lower()
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(Image.open(path)))


def test_missing_psf_estimates_it_and_says_so(runner, tmp_path):
    """No --psf: the kernel is estimated from the image, announced in one line, and saved on request."""
    from deblur import psf as _psf
    from deblur import simulate

    rng = np.random.default_rng(3)
    scene = np.kron(rng.random((12, 12)), np.ones((8, 8)))  # blocks: strong edges
    blurry = simulate.blur(scene, _psf.motion(7, 0), boundary="valid")
    path = tmp_path / "blurry.png"
    Image.fromarray(np.round(np.clip(blurry, 0, 1) * 255).astype(np.uint8)).save(path)
    out, kernel = tmp_path / "out.png", tmp_path / "k.npy"
    result = run(runner, "restore", path, "-o", out, "--save-psf", kernel, "--iterations", 3)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("estimating the blur from the image") == 1
    k = np.load(kernel)
    assert k.min() >= 0 and k.sum() == pytest.approx(1.0)
    assert out.is_file()


def test_help_lists_the_psf_forms(runner):
    result = run(runner, "restore", "--help")
    for form in ("gaussian:sigma=2", "disk:radius=3", "motion:length=15,angle=30", "box:size=5", "estimate"):
        assert form in result.output


def test_save_psf_writes_the_given_kernel(runner, gray, tmp_path):
    kernel = tmp_path / "k.npy"
    result = run(runner, "restore", gray, "--psf", "box:size=3", "-o", tmp_path / "o.png", "--save-psf", kernel,
                 "--iterations", 2)
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(kernel), np.full((3, 3), 1 / 9))
    bad = run(runner, "restore", gray, "--psf", "box:size=3", "-o", tmp_path / "o2.png", "--save-psf", tmp_path / "k.jpg")
    assert bad.exit_code == 2 and "--save-psf" in bad.stderr


@pytest.mark.parametrize("spec", ["estimate:size=x", "estimate:width=3"])
def test_bad_estimate_spec_is_a_usage_error(runner, gray, spec):
    result = run(runner, "restore", gray, "--psf", spec)
    assert result.exit_code == 2 and "estimate:size=N" in result.stderr


@pytest.mark.parametrize(
    "spec, message",
    [
        ("blob:size=3", "unknown PSF kind"),
        ("gaussian:sigma=-1", "positive"),
        ("gaussian:sigma=abc", "number"),
        ("motion:angle=3", "missing parameter"),
        ("box:size", "key=value"),
        ("nokernel.npy", "not found"),
    ],
)
def test_bad_psf_specs_are_usage_errors(runner, gray, spec, message):
    result = run(runner, "restore", gray, "--psf", spec)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_psf_larger_than_image(runner, tmp_path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "small.png")
    result = run(runner, "restore", tmp_path / "small.png", "--psf", "box:size=11", *FAST)
    assert result.exit_code == 2 and "larger than the image" in result.stderr
    assert os.listdir(tmp_path) == ["small.png"]


def test_missing_input(runner, tmp_path):
    result = run(runner, "restore", tmp_path / "nope.png", *PSF)
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_non_image_and_truncated_input(runner, gray, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    result = run(runner, "restore", tmp_path / "notes.png", *PSF)
    assert result.exit_code == 1 and "not an image" in result.stderr and "Traceback" not in result.output
    blob = gray.read_bytes()
    (tmp_path / "cut.png").write_bytes(blob[: len(blob) // 2])
    result = run(runner, "restore", tmp_path / "cut.png", *PSF)
    assert result.exit_code == 1 and ("truncated" in result.stderr or "damaged" in result.stderr)
    assert not (tmp_path / "cut.deblurred.png").exists()


def test_unwritable_output_folder(runner, gray, tmp_path):
    result = run(runner, "restore", gray, *PSF, "-o", tmp_path / "missing" / "o.png")
    assert result.exit_code == 1 and "does not exist" in result.stderr
    (tmp_path / "afile").write_text("x")
    result = run(runner, "restore", gray, *PSF, "-o", tmp_path / "afile" / "o.png")
    assert result.exit_code == 1 and "cannot write" in result.stderr


def test_bad_option_values(runner, gray):
    for args, word in [
        (["--lr", "0"], "--lr"),
        (["--weight", "lots"], "--weight"),
        (["--schedule", "fast"], "--schedule"),
        (["--iterations", "0"], "--iterations"),
        (["-o", "out.xyz"], ".png"),
        (["--history", "h.txt"], ".json"),
        (["--plot", "p.gif"], ".png"),
    ]:
        result = run(runner, "restore", gray, *PSF, *args)
        assert result.exit_code == 2, args
        assert word in result.stderr, (args, result.stderr)


def test_plot_history_compare_reference(runner, gray, tmp_path):
    args = ["--plot", tmp_path / "conv.png", "--history", tmp_path / "h.json", "--compare", tmp_path / "cmp.png"]
    result = run(runner, "restore", gray, *PSF, "--iterations", "4", "--reference", gray, *args)
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "conv.png") as im:
        assert im.format == "PNG" and im.size[1] > 300
    doc = json.loads((tmp_path / "h.json").read_text())
    assert doc["iterations"] == 4 and doc["stop_reason"] == "max_iter"
    assert len(doc["history"]["cost"]) == 5 and all(v is not None for v in doc["history"]["psnr"][1:])
    assert doc["settings"]["schedule"] == "auto" and doc["input"].endswith("gray.png")
    with Image.open(tmp_path / "cmp.png") as im:
        assert im.size[0] >= 64
    result = run(runner, "restore", gray, *PSF, *FAST, "-o", tmp_path / "b.png", "--history", tmp_path / "h.csv")
    rows = list(csv.DictReader((tmp_path / "h.csv").read_text().splitlines()))
    assert len(rows) == 4 and float(rows[-1]["iteration"]) == 3 and float(rows[-1]["cost"]) > 0


def test_side_outputs_are_refused_too(runner, gray, tmp_path):
    (tmp_path / "h.json").write_text("{}")
    result = run(runner, "restore", gray, *PSF, *FAST, "--history", tmp_path / "h.json")
    assert result.exit_code == 2 and "h.json already exists" in result.stderr
    assert not (tmp_path / "gray.deblurred.png").exists()


def test_rgba_alpha_untouched(runner, rgba, tmp_path):
    path, arr = rgba
    result = run(runner, "restore", path, *PSF, *FAST, "--color", "luma", "--linear")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "rgba.deblurred.png") as im:
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im)[..., 3], arr[..., 3])


def test_colour_modes_differ_and_match_the_library(runner, rgba, tmp_path):
    path, arr = rgba
    outputs = {}
    for mode in ("opponent", "rgb", "luma"):
        out = tmp_path / f"{mode}.png"
        assert run(runner, "restore", path, *PSF, *FAST, "-o", out, "--color", mode).exit_code == 0
        outputs[mode] = imio.read_image(out).pixels
        assert outputs[mode].shape == (24, 28, 3)
    assert run(runner, "restore", path, *PSF, *FAST, "-o", tmp_path / "default.png").exit_code == 0
    np.testing.assert_array_equal(imio.read_image(tmp_path / "default.png").pixels, outputs["opponent"])
    assert not np.array_equal(outputs["opponent"], outputs["rgb"])
    assert not np.array_equal(outputs["rgb"], outputs["luma"])


def test_sixteen_bit_stays_sixteen_bit(runner, tmp_path):
    arr = (np.random.default_rng(4).random((24, 24)) * 65535).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    assert run(runner, "restore", tmp_path / "g16.png", *PSF, *FAST).exit_code == 0
    out = imio.read_image(tmp_path / "g16.deblurred.png")
    assert out.pixels.dtype == np.uint16
    rgb16 = (np.random.default_rng(5).random((24, 24, 3)) * 65535).astype(np.uint16)
    imio.write_image(tmp_path / "c16.png", imio.ImageData(rgb16))
    assert run(runner, "restore", tmp_path / "c16.png", *PSF, *FAST).exit_code == 0
    out = imio.read_image(tmp_path / "c16.deblurred.png")
    assert out.pixels.dtype == np.uint16 and out.pixels.shape == (24, 24, 3)
    assert len(np.unique(out.pixels)) > 256  # really 16 bits of levels, not 8 scaled up


def test_exif_and_icc_carried(runner, tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "DeblurCam"
    rgb = np.random.default_rng(6).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "p.jpg", exif=exif.tobytes(), icc_profile=icc, quality=95)
    result = run(runner, "restore", tmp_path / "p.jpg", *PSF, *FAST, "--quality", "80")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "p.deblurred.jpg") as im:
        assert im.info["icc_profile"] == icc
        assert im.getexif()[0x010F] == "DeblurCam"


def test_large_step_is_explained(runner, gray, tmp_path):
    result = run(runner, "restore", gray, *PSF, "--lr", "50", "--iterations", "6", "--momentum", "none")
    assert result.exit_code == 0, result.output
    assert "too large" in result.stderr and "--lr" in result.stderr and "--plot" in result.stderr


def test_quiet_prints_nothing_but_warnings(runner, gray, tmp_path):
    result = run(runner, "restore", gray, *PSF, *FAST, "--quiet")
    assert result.exit_code == 0 and result.stdout == ""


def test_failure_while_writing_leaves_no_file(runner, gray, tmp_path, monkeypatch):
    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half of it")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    result = run(runner, "restore", gray, *PSF, *FAST)
    assert result.exit_code != 0
    assert not (tmp_path / "gray.deblurred.png").exists() and no_partial_files(tmp_path)


def test_ctrl_c_during_solve(runner, gray, tmp_path, monkeypatch):
    from deblur import api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "solve_plan", interrupted)
    result = run(runner, "restore", gray, *PSF, *FAST)
    assert result.exit_code == 130 and "nothing was written" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["gray.png"]


def test_unknown_colour_mode_is_a_usage_error(runner, rgba, tmp_path):
    path, _ = rgba
    result = run(runner, "restore", path, *PSF, *FAST, "--color", "lab")
    assert result.exit_code == 2 and "--color" in result.stderr and "opponent" in result.stderr
    assert not (tmp_path / "rgba.deblurred.png").exists()


def test_sigterm_during_solve_stops_cleanly_with_143(runner, gray, tmp_path, monkeypatch):
    import signal

    from deblur import api

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        raise AssertionError("SIGTERM was not handled")

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(api, "solve_plan", terminated)
    result = run(runner, "restore", gray, *PSF, *FAST)
    assert result.exit_code == 143 and "nothing was written" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["gray.png"]
    assert signal.getsignal(signal.SIGTERM) == before  # the command put the handler back


def test_progress_bar_draws_and_clears(capsys):
    bar = cli.IterationProgress(10, enabled=True)
    bar.start(2, 10)
    state = type("S", (), {"iteration": 5, "cost": 1.5, "step": 0.5})()
    bar(state)
    bar.close()
    err = capsys.readouterr().err
    assert "5/10" in err and "channel 1/2" in err and "cost 1.5" in err


# --------------------------------------------------------------------------- psf and blur


@pytest.mark.parametrize("ext", [".png", ".npy", ".csv", ".tif"])
def test_psf_files_round_trip(runner, tmp_path, ext):
    from deblur import psf

    out = tmp_path / f"k{ext}"
    result = run(runner, "psf", "motion:length=7,angle=30", "-o", out)
    assert result.exit_code == 0 and "non-zero taps" in result.stdout
    np.testing.assert_allclose(psf.load(out), psf.parse("motion:length=7,angle=30"), atol=2e-5)
    assert run(runner, "psf", "box:size=3", "-o", out).exit_code == 2  # exists


def test_psf_bad_spec_and_extension(runner, tmp_path):
    assert run(runner, "psf", "blob:x=1", "-o", tmp_path / "k.png").exit_code == 2
    result = run(runner, "psf", "box:size=3", "-o", tmp_path / "k.jpg")
    assert result.exit_code == 2 and ".npy" in result.stderr


def test_blur_reproducible_and_valid_mode(runner, gray, tmp_path):
    args = ["blur", gray, "--psf", "disk:radius=2", "--noise", "0.02", "--seed", "3"]
    assert run(runner, *args, "-o", tmp_path / "b1.png").exit_code == 0
    assert run(runner, *args, "-o", tmp_path / "b2.png").exit_code == 0
    a, b = (imio.read_image(tmp_path / n).pixels for n in ("b1.png", "b2.png"))
    np.testing.assert_array_equal(a, b)
    assert run(runner, *args, "-o", tmp_path / "v.png", "--boundary", "valid").exit_code == 0
    assert imio.read_image(tmp_path / "v.png").pixels.shape == (28, 28)  # 5x5 disk: 2 px lost per side
    assert run(runner, *args, "-o", tmp_path / "b1.png").exit_code == 2


def test_blur_then_restore_gets_closer(runner, tmp_path):
    """End to end: blur a sharp image, restore it, and land nearer the original."""
    from skimage.data import camera

    sharp = camera()[::8, ::8][:48, :48]
    Image.fromarray(sharp).save(tmp_path / "sharp.png")
    result = run(runner, "blur", tmp_path / "sharp.png", "--psf", "gaussian:sigma=1.5", "-o", tmp_path / "b.png")
    assert result.exit_code == 0
    result = run(runner, "restore", tmp_path / "b.png", "--psf", "gaussian:sigma=1.5", "--iterations", "40",
                 "--boundary", "reflect")
    assert result.exit_code == 0, result.output
    blurred = imio.read_image(tmp_path / "b.png").pixels.astype(float)
    restored = imio.read_image(tmp_path / "b.deblurred.png").pixels.astype(float)
    err = lambda x: np.abs(x[4:-4, 4:-4] - sharp[4:-4, 4:-4]).mean()  # noqa: E731
    assert err(restored) < err(blurred)


def test_blur_psf_larger_than_image(runner, tmp_path):
    Image.fromarray(np.zeros((6, 6), np.uint8)).save(tmp_path / "s.png")
    result = run(runner, "blur", tmp_path / "s.png", "--psf", "box:size=9", "-o", tmp_path / "b.png")
    assert result.exit_code == 2 and "larger than the image" in result.stderr


def test_missing_psf_is_decided_in_one_place():
    """Only PSF_WHEN_MISSING and _resolve_psf decide what a missing --psf means."""
    import click

    ctx = click.Context(cli.main, info_name="deblur")
    ctx.params["quiet"] = True
    assert cli.PSF_WHEN_MISSING == "estimate"
    assert cli._resolve_psf(ctx, None) == "estimate"
    assert cli._resolve_psf(ctx, "box:size=3") == "box:size=3"


def test_shell_completion_offers_psf_forms():
    from click.shell_completion import ShellComplete

    complete = ShellComplete(cli.main, {}, "deblur", "_DEBLUR_COMPLETE")
    values = [c.value for c in complete.get_completions(["restore", "x.png", "--psf"], "mo")]
    assert "motion:length=" in values
    values = [c.value for c in complete.get_completions(["restore", "x.png", "--schedule"], "a")]
    assert set(values) == {"auto", "armijo"}


def test_solver_defaults_are_the_librarys(runner, gray, monkeypatch):
    """Options not given keep the schema's defaults (the library's); --help shows them."""
    from deblur import api

    seen = {}
    real = api.prepare

    def spy(image, psf, options, **kwargs):
        seen.update(options.chosen())
        return real(image, psf, options, **kwargs)

    monkeypatch.setattr(api, "prepare", spy)
    assert run(runner, "restore", gray, *PSF, "--tol", "0.1", "--float64").exit_code == 0
    assert seen == {"tol": 0.1, "precision": "float64"}
    monkeypatch.setattr(api, "prepare", real)
    help_text = "".join(run(runner, "restore", "--help").output.split())  # wrapping breaks at spaces and hyphens
    assert f"[default:{cli.library_defaults()['regularizer']}]" in help_text


def test_compilation_is_announced_only_without_a_fresh_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert cli._announce_compilation(quiet=False)
    assert "Compiling deblur's numerical kernels" in capsys.readouterr().err
    (tmp_path / "deblur").mkdir()
    (tmp_path / "deblur" / "_kernels.dot-10.py311.nbi").write_bytes(b"")  # newer than the source
    assert not cli._announce_compilation(quiet=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("spec", ["estimate", "estimate:size=5"])
def test_psf_command_refuses_estimate_clearly(runner, tmp_path, spec):
    """'deblur psf estimate:size=5 -o k.png' used to end in a traceback."""
    result = run(runner, "psf", spec, "-o", str(tmp_path / "k.png"))
    assert result.exit_code == 2 and "not a kernel" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "k.png").exists()


def test_blur_refuses_estimate_clearly(runner, gray, tmp_path):
    result = run(runner, "blur", gray, "--psf", "estimate:size=3", "-o", str(tmp_path / "b.png"))
    assert result.exit_code == 2 and "needs a kernel" in result.stderr


def test_a_3d_kernel_file_is_a_usage_error(runner, gray, tmp_path):
    np.save(tmp_path / "stack.npy", np.ones((5, 5, 7)))
    result = run(runner, "restore", gray, "--psf", str(tmp_path / "stack.npy"), *FAST)
    assert result.exit_code == 2 and "2-D" in result.stderr


@pytest.mark.parametrize("error", [RuntimeError("boom"), ValueError("operands could not be broadcast")])
def test_an_unexpected_exception_is_reported_as_a_bug(runner, gray, monkeypatch, error, tmp_path):
    """Not as the user's mistake (exit 2): a bug report, with where the traceback went."""
    from deblur import api

    def broken(plan):
        raise error

    monkeypatch.setattr(api, "solve_plan", broken)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    result = run(runner, "restore", gray, *PSF, *FAST, "-o", str(tmp_path / "out.png"))
    assert result.exit_code == 1
    assert "this is a bug in deblur, please report it" in result.stderr and str(error) in result.stderr
    saved = list(tmp_path.glob("deblur-bug-*.txt"))
    assert len(saved) == 1 and str(saved[0]) in result.stderr.replace("\n", "")
    assert "Traceback" in saved[0].read_text() and "broken" in saved[0].read_text()


def test_deblur_errors_keep_their_exit_codes(runner, gray, monkeypatch):
    from deblur import api, errors

    for exc, code in ((errors.ImageFileError("disk full"), 1), (errors.InputError("sizes differ"), 2)):
        def failing(plan, exc=exc):
            raise exc

        monkeypatch.setattr(api, "solve_plan", failing)
        result = run(runner, "restore", gray, *PSF, *FAST, "--overwrite")
        assert result.exit_code == code and str(exc) in result.stderr and "bug" not in result.stderr


def test_iteration_limit_hint_only_while_the_cost_still_falls(runner, tmp_path):
    """A run stopped by the iteration limit on a flat cost curve names no option; one cut off mid-descent does."""
    sample = os.path.join(os.path.dirname(__file__), os.pardir, "sample_images")
    blurred = os.path.join(sample, "camera_motion.blurred.png")
    psf = os.path.join(sample, "camera_motion.psf.png")
    flat = run(runner, "restore", blurred, "--psf", psf, "-o", tmp_path / "a.png")
    assert flat.exit_code == 0 and "iteration limit" in flat.stdout
    assert "--iterations" not in flat.stderr  # the default 30: the last 5 took 0.1 % of the descent
    cut = run(runner, "restore", blurred, "--psf", psf, "--iterations", 3, "-o", tmp_path / "b.png")
    assert cut.exit_code == 0 and "raise --iterations" in cut.stderr
