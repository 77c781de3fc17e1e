"""Clipped highlights in the restore: censored residuals (the light may exceed the white level)."""

import numpy as np
import pytest
from scipy.signal import fftconvolve

import deblur
from fresh import run_fresh
from deblur import _kernels, psf
from deblur.operators import BlurOperator
from deblur.regularizers import make_regularizer
from deblur.solver import Problem


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_censor_by_mask_matches_numpy(dtype):
    rng = np.random.default_rng(3)
    r = rng.standard_normal((37, 29)).astype(dtype)
    mask = rng.random((37, 29)) > 0.3
    want = np.where(mask, r, np.minimum(r, 0.0))
    _kernels.censor_by_mask(r, mask)
    np.testing.assert_array_equal(r, want)


def problem(censored):
    y = np.full((16, 16), 0.5)
    mask = np.ones_like(y, dtype=bool)
    mask[4:8, 4:8] = False
    op = BlurOperator(np.ones((1, 1)), y.shape, "periodic", np.dtype(np.float64))
    return Problem(op, y, make_regularizer("none"), 0.0, None, None, mask, censored=censored), y, mask


def test_censored_data_term_is_one_sided():
    """Above a clipped observation costs nothing; below it costs as anywhere else; ignored costs nothing."""
    prob, y, mask = problem(censored=True)
    above = y + 0.1 * ~mask
    below = y - 0.1 * ~mask
    assert prob.data_and_reg(above, above)[0] == 0.0
    assert prob.data_and_reg(below, below)[0] == pytest.approx(0.5 * 16 * 0.01)
    ignored, _, _ = problem(censored=False)
    assert ignored.data_and_reg(below, below)[0] == 0.0


def light_scene():
    """A dark scene with a small light four times brighter than white, blurred and then clipped."""
    scene = np.full((72, 72), 0.1)
    scene[34:38, 34:38] = 4.0
    kernel = psf.gaussian(1.5)
    y = np.clip(fftconvolve(scene, kernel, mode="valid"), 0.0, 1.0)
    return y, kernel


def test_a_clipped_light_stays_bright():
    """Fitted one-sided, the light keeps its 4x4 core at the white level and the dark stays dark."""
    y, kernel = light_scene()
    assert (y >= 254 / 255).sum() >= 9
    kept = deblur.restore(y, kernel, clipped="ignore", max_num_iter=60)
    assert (kept >= 0.95).sum() >= 16
    assert np.median(kept) < 0.15


def test_a_clipped_light_does_not_bloom_by_the_kernel():
    """A light brighter than white is not held at white: capped there, the one-sided fit would
    whiten the kernel's whole footprint round every clipped pixel (48 white pixels here, was)."""
    scene = np.full((72, 72), 0.1)
    scene[34:38, 34:38] = 4.0
    kernel = psf.motion(15, 30)
    y = np.clip(fftconvolve(scene, kernel, mode="valid"), 0.0, 1.0)
    clipped = int((y >= 254 / 255).sum())
    kept = deblur.restore(y, kernel, clipped="ignore", max_num_iter=60)
    white = int((kept >= 0.95).sum())
    assert 16 <= white <= clipped
    assert kept.max() <= 1.0  # the box of clip=True still holds the image returned


def test_the_command_line_fits_clipped_lights_one_sided_when_asked(tmp_path):
    """``--clipped ignore`` with a known kernel: the light keeps its core and does not spread."""
    from click.testing import CliRunner
    from PIL import Image

    from deblur import cli

    scene = np.full((96, 96), 0.1)
    scene[40:44, 40:44] = 4.0
    kernel = psf.motion(15, 30)
    y = np.clip(fftconvolve(scene, kernel, mode="valid"), 0.0, 1.0)
    Image.fromarray((y * 255 + 0.5).astype(np.uint8)).save(tmp_path / "light.png")
    np.save(tmp_path / "k.npy", kernel)
    white = {}
    for mode in ("keep", "ignore"):
        out = tmp_path / f"{mode}.png"
        args = ["restore", tmp_path / "light.png", "--psf", tmp_path / "k.npy", "--clipped", mode, "-o", out]
        result = CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        white[mode] = int((np.asarray(Image.open(out)) >= 250).sum())
    clipped = int((y >= 254 / 255).sum())
    assert 16 <= white["ignore"] <= clipped < white["keep"]


def test_an_unknown_clipped_mode_is_a_usage_error(tmp_path):
    """``--clipped`` takes auto, ignore or keep: anything else is refused with exit 2 and the choices named."""
    from click.testing import CliRunner
    from PIL import Image

    from deblur import cli

    Image.fromarray(np.full((16, 16), 128, np.uint8)).save(tmp_path / "in.png")
    args = ["restore", str(tmp_path / "in.png"), "--psf", "gaussian:sigma=1", "--clipped", "sometimes"]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 2
    assert "sometimes" in result.output and "ignore" in result.output
    assert not list(tmp_path.glob("in.restored*"))


def white_card_scene():
    """A white card in a grey scene, blurred, with 1 % noise, in 8 bits: at white in the scene itself, clipped by noise."""
    rng = np.random.default_rng(5)
    scene = np.full((96, 96), 0.4)
    scene[30:66, 30:66] = 1.0
    kernel = psf.motion(9, 30)
    y = fftconvolve(scene, kernel, mode="valid")
    y = y + 0.01 * rng.standard_normal(y.shape)
    return np.round(np.clip(y, 0.0, 1.0) * 255) / 255, kernel


def test_auto_keeps_a_scene_at_white_that_the_kept_model_explains():
    """A known kernel, pixels clipped by noise on a white card: 'auto' restores as 'keep' does, bit for bit."""
    from deblur.clipped import MAX_KEPT_MISFIT

    y, kernel = white_card_scene()
    assert (y >= 254 / 255).sum() >= 50
    auto = deblur.solve(y, kernel, max_num_iter=20)
    keep = deblur.solve(y, kernel, clipped="keep", max_num_iter=20)
    np.testing.assert_array_equal(auto.image, keep.image)
    assert auto.settings["clipped_pixels_ignored"] == 0
    assert auto.settings["clipped_misfit"] <= MAX_KEPT_MISFIT


def test_auto_censors_a_light_beyond_white_that_the_kept_model_cannot_explain():
    """A light 4x brighter than white under a known kernel: kept, its blur's tails do not fit, so 'auto'
    restores as 'ignore' does (censored, no bloom), and says nothing a user would need to act on."""
    import warnings

    from deblur.clipped import MAX_KEPT_MISFIT

    scene = np.full((80, 80), 0.1)
    scene[38:42, 38:42] = 4.0
    kernel = psf.motion(15, 30)
    y = np.round(np.clip(fftconvolve(scene, kernel, mode="valid"), 0.0, 1.0) * 255) / 255
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto = deblur.solve(y, kernel, max_num_iter=60)
    ignore = deblur.solve(y, kernel, clipped="ignore", max_num_iter=60)
    np.testing.assert_array_equal(auto.image, ignore.image)
    assert auto.settings["clipped_pixels_ignored"] == ignore.settings["clipped_pixels_ignored"] > 0
    assert auto.settings["clipped_misfit"] > MAX_KEPT_MISFIT
    assert len(auto.history) == len(ignore.history)  # the history is the censored run's alone


def test_near_clipped_misfit_reads_the_noise_for_the_right_model_and_more_for_a_wrong_one():
    from deblur.clipped import near_clipped_misfit

    rng = np.random.default_rng(8)
    op = BlurOperator(psf.motion(7, 0), (90, 90), "valid", np.dtype(np.float64))
    x = rng.random(op.domain_shape)
    y = op.forward(x) + 0.01 * rng.standard_normal(op.range_shape)
    mask = np.ones(y.shape, dtype=bool)
    mask[40:44, 50:54] = False
    assert 0.8 <= near_clipped_misfit(op, x, y, mask, sigma=0.01) <= 1.25
    wrong = x.copy()
    op.crop(wrong)[36:48, 44:60] += 0.2  # the scene round the clipped pixels brighter than the photo allows
    assert near_clipped_misfit(op, wrong, y, mask, sigma=0.01) > 5
    # only the pixels round the clipped ones are judged: a wrong scene far from them reads the noise
    far = x.copy()
    op.crop(far)[0:10, 0:10] += 0.2
    assert near_clipped_misfit(op, far, y, mask, sigma=0.01) <= 1.25
    assert np.isnan(near_clipped_misfit(op, x, y, np.ones(y.shape, dtype=bool), sigma=0.01))


def test_a_restore_with_a_given_kernel_leaves_the_blind_package_unloaded():
    """The clipped pixels' rule lives outside ``deblur.blind``: a restore of a photo with clipped
    highlights and a kernel given does not load the blind package (0.3 s), ``scipy.signal`` (0.7 s)
    nor ``scipy.ndimage`` (0.12 s), gray or in colour (whose colour differences take the coarse grid)."""
    code = (
        "import numpy as np, deblur\n"
        "y = np.full((40, 40), 0.4); y[10:20, 10:20] = 1.0\n"
        "out = deblur.restore(y, deblur.psf.motion(5, 0), max_num_iter=2)\n"
        "assert out.shape == y.shape\n"
        "c = np.random.default_rng(0).random((260, 260, 3)) * 0.5; c[100:120, 100:120] = 1.0\n"
        "out = deblur.restore(c, deblur.psf.gaussian(2.0), channel_axis=-1, max_num_iter=2, clipped='ignore')\n"
        "assert out.shape == c.shape\n"
    )
    _, loaded = run_fresh(code, ("deblur.blind", "scipy.signal", "scipy.ndimage"))
    assert loaded == []


def test_a_photo_with_clipped_pixels_gets_a_restore_mask_one_pixel_wider():
    """Any channel at the white level marks the pixel, and the mask grows by one pixel round it."""
    from deblur.clipped import CLIPPED_LEVEL, restore_mask

    image = np.full((9, 9, 3), 0.5, dtype=np.float32)
    image[4, 4, 2] = 1.0  # blue alone at white
    image[0, 8, 0] = CLIPPED_LEVEL - 1e-3  # just below: observed
    mask = restore_mask(image)
    want = np.ones((9, 9), dtype=bool)
    want[3:6, 3:6] = False
    np.testing.assert_array_equal(mask, want)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_the_level_in_an_integer_photos_units_clips_what_its_float_conversion_would(dtype):
    from deblur.clipped import CLIPPED_LEVEL, level_in_units
    from deblur.images import to_float

    values = np.arange(np.iinfo(dtype).max + 1).astype(dtype)
    np.testing.assert_array_equal(values >= level_in_units(dtype, CLIPPED_LEVEL), to_float(values, np.float32) >= CLIPPED_LEVEL)
    assert level_in_units(dtype, 1.5) == np.inf  # beyond white: no value of the dtype reaches it


@pytest.mark.parametrize("dtype", [np.uint8, np.float16, np.float32, np.float64])
def test_the_restore_mask_is_the_clipped_rule_on_the_photo_in_working_precision(dtype):
    from deblur.clipped import CLIPPED_LEVEL, clipped_mask, restore_mask
    from deblur.images import to_float

    rng = np.random.default_rng(5)
    photo = rng.random((30, 40, 3)) ** 0.2  # many pixels near white
    photo = (photo * 255).round().astype(np.uint8) if dtype == np.uint8 else photo.astype(dtype)
    want = clipped_mask(to_float(photo, np.float32), CLIPPED_LEVEL) > 0
    np.testing.assert_array_equal(restore_mask(photo), want)
    np.testing.assert_array_equal(restore_mask(photo[..., 0]), clipped_mask(to_float(photo[..., 0], np.float32), CLIPPED_LEVEL) > 0)
    assert 0 < want.sum() < want.size
