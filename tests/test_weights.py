"""The automatic weight's noise estimate: white noise, and JPEG's 8x8 block noise."""

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage import data

from deblur.weights import NOISE_FLOOR, block_noise, estimate_noise


def smooth_scene():
    """A blurred photograph: the finest wavelet band holds (almost) nothing."""
    return ndimage.gaussian_filter(data.camera() / 255.0, 2.0)


def jpeg(image, quality):
    buf = io.BytesIO()
    Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float64) / 255.0


def test_no_block_noise_without_jpeg():
    rng = np.random.default_rng(0)
    y = np.round((smooth_scene() + 0.01 * rng.standard_normal((512, 512))) * 255) / 255
    assert block_noise(y) == 0.0
    assert estimate_noise(y) == pytest.approx(0.01, rel=0.15)


@pytest.mark.parametrize("quality", [50, 75])
def test_block_noise_of_a_jpeg(quality):
    """Of the order of the JPEG error itself, and what estimate_noise reports."""
    clean = smooth_scene()
    y = jpeg(clean, quality)
    error = float(np.std(y - np.round(clean * 255) / 255))
    sigma = block_noise(y)
    assert 0.3 * error < sigma < 2.0 * error
    assert estimate_noise(y) >= sigma


def test_fine_jpeg_adds_little():
    """At quality 90 the error is near 8-bit rounding: no more than twice it."""
    clean = smooth_scene()
    y = jpeg(clean, 90)
    assert block_noise(y) <= 2.0 * float(np.std(y - np.round(clean * 255) / 255))


def test_block_noise_finds_a_shifted_grid():
    """A crop that moves the grid off phase 0 (the 'valid' frame of a blurred photo) is still seen."""
    y = jpeg(smooth_scene(), 75)
    assert block_noise(y[3:, 5:]) == pytest.approx(block_noise(y), rel=0.3)


def test_tiny_or_flat_images():
    assert block_noise(np.full((16, 16), 0.5)) == 0.0
    assert estimate_noise(np.full((64, 64), 0.5)) == NOISE_FLOOR


def test_model_error_factor():
    from deblur.weights import WEIGHT_RULES, model_error_factor

    a = WEIGHT_RULES["hyper-laplacian"][1]
    assert model_error_factor(0.02, 0.01, "hyper-laplacian") == pytest.approx(2.0**a)
    assert model_error_factor(0.005, 0.01, "hyper-laplacian") == 1.0  # never weaker than the noise asks
    assert model_error_factor(float("nan"), 0.01, "tv") == 1.0


def test_blind_restore_weight_follows_the_model_residual():
    """With psf='estimate' the weight grows by the factor the estimation's residual asks; with a given kernel, not."""
    import deblur
    from deblur import psf

    rng = np.random.default_rng(0)
    from scipy.signal import fftconvolve

    y = fftconvolve(data.camera()[100:300, 100:300] / 255.0, psf.motion(9, 30), mode="valid")
    y = np.clip(y + 0.002 * rng.standard_normal(y.shape), 0, 1)
    blind = deblur.solve(y, "estimate", max_num_iter=2)
    assert blind.psf_estimation.status == "estimated"
    factor = blind.settings["model_error_factor"]
    assert factor > 1.0
    given = deblur.solve(y, blind.psf, max_num_iter=2)
    assert given.settings["model_error_factor"] == 1.0
    assert blind.weight == pytest.approx(factor * given.weight, rel=1e-6)


def test_wavelet_sigma_is_scikit_images_estimate_sigma():
    """The noise estimate without importing skimage.restoration (0.44 s of each process): the same number."""
    from skimage.restoration import estimate_sigma

    from deblur.weights import _wavelet_sigma

    rng = np.random.default_rng(5)
    for shape in [(64, 64), (101, 77), (9, 13)]:
        image = rng.random(shape) + rng.normal(0, 0.02, shape)
        image[:4, :4] = 0.5  # exact zeros among the coefficients are left out, as there
        assert _wavelet_sigma(image) == estimate_sigma(image, channel_axis=None)
