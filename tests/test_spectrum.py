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


def towers(noise=0.01, seed=0):
    """A sharp twilight photo of launch towers: long straight vertical edges."""
    from skimage.color import rgb2gray

    y = rgb2gray(data.rocket())
    return y + noise * np.random.default_rng(seed).standard_normal(y.shape)


def faint_streak(length=21, angle=90, core=0.2):
    kernel = (1 - core) * psf.motion(length, angle)
    kernel[length // 2, length // 2] += core
    return kernel


def test_a_streak_along_straight_edges_is_refused_once_the_level_is_fitted_per_orientation():
    """Under one scene level a faint streak along the towers explains their spectrum; per orientation it does not."""
    y = towers()
    (isotropic,) = evidence(y, [faint_streak()], 0.01)
    (oriented,) = evidence(y, [faint_streak()], 0.01, orientations=8)
    assert isotropic > 0 > oriented
    # across them, no model takes it
    (across,) = evidence(y, [faint_streak(angle=0)], 0.01, orientations=8)
    assert across < 0


def test_a_true_streak_along_straight_edges_is_kept_per_orientation():
    kernel = psf.motion(31, 90)
    y = fftconvolve(towers(noise=0.0), kernel, mode="valid")
    y = y + 0.01 * np.random.default_rng(2).standard_normal(y.shape)
    isotropic, oriented = evidence(y, [kernel], 0.01)[0], evidence(y, [kernel], 0.01, orientations=8)[0]
    assert isotropic > 0 and oriented > 0


def test_the_blind_check_refuses_a_streak_the_scene_level_per_orientation_explains():
    from deblur.blind import _check_spectrum
    from deblur.blind.record import EstimationRecord

    kernel, record = _check_spectrum(towers(), faint_streak(), None, 0.0, EstimationRecord())
    assert record.spectrum_gain > 0 > record.spectrum_gain_oriented
    assert record.status == "fallback" and kernel.shape == (3, 3)
    assert "per orientation" in record.reason
