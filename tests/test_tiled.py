"""Tiled restore on dask.array: tiles against the whole solve, the memory plan, the CLI switch, no-dask errors."""

import math
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from deblur.options import SolveOptions
import deblur
import naive
from deblur import cli, memory, psf, tiled, weights
from deblur.batch import FileJob, RestoreOptions, restore_file
from deblur.options import DEFAULTS

pytest.importorskip("dask.array")

KERNEL = psf.motion(7, 30)  # 7x7: a default overlap of 32 px


def _psnr(estimate, reference):
    mse = np.mean((np.clip(np.asarray(estimate, np.float64), 0, 1) - reference) ** 2)
    return 10 * math.log10(1.0 / mse)


@pytest.fixture(scope="module")
def case():
    """A 96x96 frame of a piecewise-smooth scene, blurred ('valid'), 1 % noise, 8-bit; and the scene."""
    scene = naive.scene((96, 96), seed=7)
    observed = naive.observe(scene, KERNEL, "valid", noise=0.01, seed=7)
    return np.round(np.clip(observed, 0, 1) * 255).astype(np.uint8), scene


# --------------------------------------------------------------------------- tiles against the whole


def test_tiles_agree_with_the_whole_solve(case):
    """Same iterations everywhere (tol=None): the tiled answer is the whole one, to 8-bit rounding."""
    observed, sharp = case
    whole = deblur.solve(observed, KERNEL, tol=None, max_num_iter=30)
    result = tiled.solve_tiled(observed, KERNEL, tile=48, tol=None, max_num_iter=30)
    assert result.settings["tiles"]["count"] == 4 and result.settings["tiles"]["overlap"] == 32
    assert result.image.dtype == np.uint8 and result.image.shape == observed.shape
    assert result.weight == pytest.approx(whole.weight, rel=1e-12)  # one lambda for every tile
    assert abs(_psnr(result.image / 255, sharp) - _psnr(whole.image / 255, sharp)) < 0.01
    assert np.abs(result.image.astype(int) - whole.image).max() <= 1
    assert result.iterations == 30 and len(result.history) == 31 and result.stop_reason == "max_iter"


def test_tiles_stopping_on_their_own_are_as_good(case):
    """With the default tol each tile stops by its own cost: not the same iterate, no worse (< 0.1 dB)."""
    observed, sharp = case
    whole = deblur.solve(observed, KERNEL)
    result = tiled.solve_tiled(observed, KERNEL, tile=48)
    assert _psnr(result.image / 255, sharp) > _psnr(whole.image / 255, sharp) - 0.1
    assert result.stop_reason in ("tol", "max_iter") and 1 <= result.iterations <= DEFAULTS["max_num_iter"]


def test_the_margin_is_what_makes_tiles_agree(case):
    observed, _ = case
    options = dict(tol=None, max_num_iter=30)
    whole = deblur.solve(observed.astype(np.float32) / 255, KERNEL, **options).image
    errors = [np.abs(tiled.solve_tiled(observed.astype(np.float32) / 255, KERNEL, tile=32, overlap=m,
                                       **options).image - whole).max() for m in (0, 8, 24)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.02 < errors[0]


def test_colour_is_tiled_per_channel_with_its_own_weight(case):
    observed, _ = case
    colour = np.stack([observed, observed[::-1], observed[:, ::-1]], axis=0)  # channels first
    whole = deblur.solve(colour, KERNEL, channel_axis=0, max_num_iter=10)
    result = tiled.solve_tiled(colour, KERNEL, channel_axis=0, tile=48, max_num_iter=10)
    assert result.image.shape == colour.shape and result.image.dtype == np.uint8
    assert result.weight == pytest.approx(whole.weight, rel=1e-12) and len(set(result.weight)) == 3
    assert np.abs(result.image.astype(int) - whole.image).mean() < 1.0


def test_lazy_colour_restore_matches_the_eager_one_in_both_colour_spaces(case):
    import dask.array as da

    observed, _ = case
    colour = np.stack([observed, observed[::-1], observed[:, ::-1]], axis=-1)
    for space in ("opponent", "rgb"):
        eager = tiled.solve_tiled(colour, KERNEL, channel_axis=-1, tile=48, max_num_iter=5, color_space=space).image
        lazy = tiled.restore_tiled(da.from_array(colour, chunks=(48, 48, 3)), KERNEL, channel_axis=-1,
                                   max_num_iter=5, color_space=space)
        assert lazy.dtype == np.uint8 and lazy.shape == colour.shape
        np.testing.assert_array_equal(lazy.compute(scheduler="threads"), eager)
    assert np.any(eager != tiled.solve_tiled(colour, KERNEL, channel_axis=-1, tile=48, max_num_iter=5).image)


def test_lazy_restore_of_a_dask_array_matches_the_eager_one(case):
    import dask.array as da

    observed, _ = case
    eager = tiled.solve_tiled(observed, KERNEL, tile=48, max_num_iter=10).image
    lazy = tiled.restore_tiled(da.from_array(observed, chunks=48), KERNEL, max_num_iter=10)
    assert isinstance(lazy, da.Array) and lazy.dtype == np.uint8 and lazy.chunksize == (48, 48)
    np.testing.assert_array_equal(lazy.compute(scheduler="threads"), eager)
    np.testing.assert_array_equal(tiled.restore_tiled(observed, KERNEL, tile=48, max_num_iter=10).compute(), eager)


def test_one_tile_is_the_whole_solve(case):
    observed, _ = case
    np.testing.assert_array_equal(tiled.solve_tiled(observed, KERNEL, tile=96, max_num_iter=10).image,
                                  deblur.solve(observed, KERNEL, max_num_iter=10).image)


def test_the_weight_is_the_whole_channels_on_a_large_image():
    """The rule reads a central crop; the tiles' lambda is computed from the crop cut first: same numbers."""
    image = np.random.default_rng(3).integers(0, 256, (1100, 1050), dtype=np.uint8)
    lam, sigma = tiled._channel_weight(image, np.dtype(np.float32), "auto", "hyper-laplacian")
    whole = np.ascontiguousarray(image.astype(np.float32) / np.float32(255))
    assert (lam, sigma) == weights.image_weight(whole, "hyper-laplacian")


def test_time_limit_and_callback_reach_every_tile(case):
    observed, _ = case
    seen = []
    tiled.solve_tiled(observed, KERNEL, tile=48, max_num_iter=3, tol=None, callback=lambda s: seen.append(s.iteration))
    assert seen == [1, 2, 3] * 4
    result = tiled.solve_tiled(observed, KERNEL, tile=48, time_limit=1e-6)
    assert result.stop_reason == "time_limit"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(boundary="reflect"), "boundary='valid'"),
        (dict(scheduler="processes"), "'synchronous' or 'threads'"),
        (dict(color_space="lab"), "unknown color_space 'lab'"),
    ],
)
def test_refusals(case, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiled.solve_tiled(case[0], KERNEL, tile=48, **kwargs)


def test_estimate_is_refused(case):
    with pytest.raises(ValueError, match="needs the PSF"):
        tiled.solve_tiled(case[0], "estimate", tile=48)


# --------------------------------------------------------------------------- the memory plan


def test_plan_fits_the_budget_and_keeps_small_images_whole():
    k = (13, 13)
    whole = tiled.plan((4096, 4096), k)
    assert not whole.tiled and whole.n_tiles == 1 and whole.depth == (0, 0)
    assert whole.whole_bytes == 2 * 4096**2 * 4 + tiled.WORK_FACTOR * 4108**2 * 4
    assert not tiled.plan((4096, 4096), k, memory_budget=whole.whole_bytes).tiled
    p = tiled.plan((4096, 4096), k, memory_budget="256MiB")
    assert p.tiled and p.tiled_bytes <= 256 * 2**20 < p.whole_bytes
    assert p.overlap == tiled.default_overlap(k) == 39 and p.depth == (39, 39)
    assert sum(p.chunks[0]) == 4096 and max(p.chunks[0]) - min(p.chunks[0]) <= 1
    assert "tiles" in p.describe() and "256.0 MiB" in p.describe()
    f64 = tiled.plan((4096, 4096), k, memory_budget="400MiB", precision="float64")
    assert f64.tiled_bytes <= 400 * 2**20 and f64.n_tiles > tiled.plan((4096, 4096), k, memory_budget="400MiB").n_tiles
    colour = tiled.plan((4096, 4096), k, channels=3, memory_budget="512MiB")
    assert colour.tiled_bytes <= 512 * 2**20
    assert colour.n_tiles > tiled.plan((4096, 4096), k, memory_budget="512MiB").n_tiles  # 3 images in and out
    with pytest.raises(tiled.MemoryBudgetError, match="too small"):
        tiled.plan((4096, 4096), k, memory_budget="100MB")  # the image alone takes 128 MiB
    with pytest.raises(tiled.MemoryBudgetError, match="estimating its noise 48.0 MiB"):
        tiled.plan((4096, 4096), k, memory_budget="150MiB")  # image 128 MiB + the noise estimate's 48 MiB


def test_default_overlap_grows_with_the_kernel():
    assert tiled.default_overlap((5, 5)) == tiled.MIN_OVERLAP
    assert tiled.default_overlap((31, 17)) == 3 * 31


@pytest.mark.parametrize("text, expected", [("2GB", 2 * 10**9), ("512MiB", 512 * 2**20), ("1.5g", 1.5e9),
                                            ("100000", 100000), (" 3 kib ", 3072), (7, 7)])
def test_parse_size(text, expected):
    assert tiled.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "2XB", "GB", "-1GB", "0", "nan GB", "inf"])
def test_parse_size_refuses(text):
    with pytest.raises(ValueError):
        tiled.parse_size(text)


def test_auto_budget_is_a_share_of_the_free_memory(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 8 * 2**30)
    assert tiled.resolve_budget("auto") == 6 * 2**30
    assert tiled.resolve_budget("auto", share=2) == 3 * 2**30
    assert tiled.resolve_budget(None) is None and tiled.resolve_budget("none") is None


# --------------------------------------------------------------------------- the file and the command line


# A 192x192 image in float64 (in float32, the noise estimate's peak would be above the solve's: no tile
# could make the whole thing smaller): BUDGET is what 96-px tiles need, so it gives 4 of them.
BUDGET = tiled.plan((192, 192), KERNEL.shape, tile=96, precision="float64").tiled_bytes
AUTO = tiled.format_size(int(memory.AUTO_SHARE * int(BUDGET / memory.AUTO_SHARE + 1)))


@pytest.fixture(scope="module")
def big():
    scene = naive.scene((192, 192), seed=8)
    return np.round(np.clip(naive.observe(scene, KERNEL, "valid", seed=8), 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def image_file(tmp_path, big):
    path = tmp_path / "blurry.png"
    Image.fromarray(big).save(path)
    return path


def run(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def test_restore_file_switches_to_tiles_over_the_budget(image_file, tmp_path, big):
    options = RestoreOptions(psf=KERNEL, memory_budget=BUDGET, solve=SolveOptions(max_num_iter=10, precision="float64"))
    heard = []
    outcome = restore_file(FileJob(str(image_file), str(tmp_path / "out.png"), options), on_note=heard.append)
    assert len(heard) == 1 and "tiles" in heard[0] and outcome.row.notes == heard
    assert outcome.result.settings["tiles"]["count"] == 4
    expected = tiled.solve_tiled(big, KERNEL, tile=96, max_num_iter=10, precision="float64")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.png")), expected.image)
    whole = restore_file(FileJob(str(image_file), str(tmp_path / "whole.png"),
                                 RestoreOptions(psf=KERNEL, memory_budget=10**9, solve=SolveOptions(max_num_iter=10, precision="float64"))))
    assert whole.row.notes is None and "tiles" not in whole.result.settings


def test_cli_restore_says_it_tiles(image_file, tmp_path):
    out = tmp_path / "out.png"
    result = run("restore", image_file, "-o", out, "--psf", "motion:length=7,angle=30", "--iterations", "5",
                 "--memory-budget", BUDGET, "--float64", "--history", tmp_path / "h.json")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("note:") == 1 and "tiles of up to" in result.stderr and "with dask" in result.stderr
    assert out.exists() and '"tiles"' in (tmp_path / "h.json").read_text()


def test_cli_restore_switches_by_itself_when_memory_is_short(image_file, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: int(BUDGET / memory.AUTO_SHARE + 1))  # 'auto': 3/4
    result = run("restore", image_file, "-o", tmp_path / "out.png", "--psf", "motion:length=7,angle=30",
                 "--iterations", "2", "--float64")
    assert result.exit_code == 0, result.output
    assert "4 tiles" in result.stderr and f"memory budget of {AUTO}" in result.stderr
    quiet = run("restore", image_file, "-o", tmp_path / "q.png", "--psf", "motion:length=7,angle=30",
                "--iterations", "2", "--float64", "-q")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_cli_batch_notes_the_tiled_files(image_file, tmp_path):
    result = run("batch", tmp_path, tmp_path / "out", "--psf", "motion:length=7,angle=30", "--iterations", "2",
                 "--memory-budget", BUDGET, "--float64")
    assert result.exit_code == 0, result.output
    assert "note: blurry.png: 192x192 px needs" in result.stderr


def test_cli_budget_too_small_is_a_usage_error(image_file, tmp_path):
    result = run("restore", image_file, "-o", tmp_path / "o.png", "--psf", "box:size=3", "--memory-budget", "10kB")
    assert result.exit_code == 2 and "too small" in result.stderr and not (tmp_path / "o.png").exists()


def test_cli_bad_size_is_a_usage_error(image_file):
    result = run("restore", image_file, "--psf", "box:size=3", "--memory-budget", "lots")
    assert result.exit_code == 2 and "not a size" in result.stderr


# --------------------------------------------------------------------------- without dask


@pytest.fixture
def no_dask(monkeypatch):
    """Make ``import dask`` fail, as on an install without the extra."""
    for name in list(sys.modules):
        if name == "dask" or name.startswith("dask.") or name == "distributed" or name.startswith("distributed."):
            monkeypatch.delitem(sys.modules, name)
    for name in ("dask", "dask.array", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)


def test_without_dask_the_library_names_the_extra(no_dask, case):
    with pytest.raises(tiled.DaskMissing, match=r"pip install 'deblur\[dask\]'"):
        tiled.solve_tiled(case[0], KERNEL, tile=48)
    assert tiled.plan_if_needed((96, 96), 1, KERNEL, None) is None  # no budget: dask never needed


@pytest.mark.parametrize("option", [["--memory-budget", "2GB"], ["--scheduler", "local"]])
def test_without_dask_the_options_are_usage_errors(no_dask, image_file, tmp_path, option):
    if option[0] == "--scheduler":
        result = run("batch", tmp_path, tmp_path / "out", "--psf", "box:size=3", *option)
    else:
        result = run("restore", image_file, "--psf", "box:size=3", *option)
    assert result.exit_code == 2
    assert "pip install 'deblur[dask]'" in result.stderr and option[0] in result.stderr


def test_without_dask_small_images_restore_as_before(no_dask, image_file, tmp_path):
    result = run("restore", image_file, "-o", tmp_path / "o.png", "--psf", "box:size=3", "--iterations", "2")
    assert result.exit_code == 0 and (tmp_path / "o.png").exists()


def test_without_dask_an_image_over_the_auto_budget_says_what_to_install(no_dask, image_file, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: int(BUDGET / memory.AUTO_SHARE + 1))
    result = run("restore", image_file, "-o", tmp_path / "o.png", "--psf", "box:size=3", "--iterations", "2",
                 "--float64")
    assert result.exit_code == 2
    assert "pip install 'deblur[dask]'" in result.stderr and "--memory-budget none" in result.stderr


def test_luma_tiles_are_the_luma_restored_and_the_chroma_kept():
    from deblur import color
    from deblur.images import from_float, to_float

    rgb = np.random.default_rng(3).random((96, 80, 3)).astype(np.float32)
    sharp = rgb[::-1].copy()
    new = tiled.solve_tiled(rgb, KERNEL, channel_axis=-1, tile=48, max_num_iter=5, color_space="luma", reference=sharp)
    luma, chroma = color.split_luma(to_float(rgb, np.dtype(np.float32)))
    old = tiled.solve_tiled(luma, KERNEL, tile=48, max_num_iter=5, reference=color.split_luma(sharp)[0])
    np.testing.assert_array_equal(new.history["psnr"], old.history["psnr"])
    assert np.array_equal(new.image, from_float(color.merge_luma(old.image, chroma), np.float32))
    assert new.weight == old.weight and new.settings["color_space"] == "luma"
    lazy = tiled.restore_tiled(rgb, KERNEL, channel_axis=-1, tile=48, max_num_iter=5, color_space="luma")
    assert np.array_equal(np.asarray(lazy), new.image)
