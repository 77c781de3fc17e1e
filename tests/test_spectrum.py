"""The spectrum check of a blind estimate (deblur.blind.spectrum)."""

import numpy as np
from scipy.signal import fftconvolve
from skimage import data

from deblur import psf
from deblur.blind.spectrum import evidence, periodic_component
from deblur.blind.support import resample_kernel


def scene(n=320):
    return data.camera()[40 : 40 + n, 60 : 60 + n] / 255.0


def blurred(kernel, noise=0.01, seed=0):
    y = fftconvolve(scene(), kernel, mode="valid")
    return y + noise * np.random.default_rng(seed).standard_normal(y.shape)


def test_periodic_component_has_no_border_jump():
    u = scene(128)
    p = periodic_component(u)
    assert np.abs(p[0] - p[-1]).mean() < 0.25 * np.abs(u[0] - u[-1]).mean()
    # what it removes is smooth: its Laplacian is zero inside
    s = u - p
    lap = s[1:-1, :-2] + s[1:-1, 2:] + s[:-2, 1:-1] + s[2:, 1:-1] - 4 * s[1:-1, 1:-1]
    assert np.abs(lap).max() < 1e-8


def test_the_true_kernel_beats_no_blur_and_a_wrong_size():
    kernel = psf.motion(15, 30)
    y = blurred(kernel)
    big = resample_kernel(kernel, 2.0, 31)
    small = resample_kernel(kernel, 0.4, 7)
    true_gain, big_gain, small_gain = evidence(y, [kernel, big, small], 0.01)
    assert true_gain > 0
    assert true_gain > big_gain and true_gain > small_gain


def test_a_sharp_photo_supports_no_large_blur():
    y = scene() + 0.01 * np.random.default_rng(1).standard_normal(scene().shape)
    (gain,) = evidence(y, [psf.gaussian(3.0)], 0.01)
    assert gain < 0


def test_a_sharp_photo_falls_back(rng):
    """With the sharpness test off, the estimator finds a kernel in a sharp photo; the spectrum check refuses it."""
    from deblur.blind import estimate

    y = np.clip(scene(256) + 0.01 * rng.standard_normal((256, 256)), 0, 1)
    _, unchecked = estimate(y, sharp_steepness=None, spectral_check=False)
    assert unchecked.status == "estimated"
    kernel, record = estimate(y, sharp_steepness=None)
    assert record.status == "fallback" and record.spectrum_gain < 0
    assert "power spectrum" in record.reason and kernel.shape == (3, 3)
