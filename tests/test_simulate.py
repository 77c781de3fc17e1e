"""The one forward-blur simulator: valid convolution as the default boundary model explains it."""

import numpy as np
import pytest
from scipy import signal

from deblur import errors, psf, simulate


@pytest.mark.parametrize("spec", ["motion:length=9,angle=30", "box:size=4", "gaussian:sigma=1.2"])
def test_valid_blur_is_the_valid_convolution(spec):
    kernel = psf.parse(spec)
    x = np.random.default_rng(0).random((40, 37, 3))
    y = simulate.blur(x, kernel, boundary="valid")
    expected = np.stack([signal.convolve2d(x[..., c], kernel, mode="valid") for c in range(3)], axis=-1)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)


def test_blur_pixels_keeps_the_dtype_and_seeds_the_noise():
    pixels = np.random.default_rng(1).integers(0, 256, (32, 32), dtype=np.uint8)
    a = simulate.blur_pixels(pixels, psf.disk(2), noise=0.01, seed=5)
    b = simulate.blur_pixels(pixels, psf.disk(2), noise=0.01, seed=5)
    assert a.dtype == np.uint8 and a.shape == pixels.shape and np.array_equal(a, b)
    assert not np.array_equal(a, simulate.blur_pixels(pixels, psf.disk(2), noise=0.01, seed=6))


def test_a_kernel_larger_than_the_image_is_the_callers_mistake():
    with pytest.raises(errors.InputError, match="larger than the image"):
        simulate.blur_pixels(np.zeros((5, 5)), psf.box(7))
