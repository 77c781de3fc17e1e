"""The restore's checks on itself with an estimated kernel (deblur.blind.harm, deblur.channels)."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.signal import fftconvolve

import deblur
import deblur.blind as blind_module
import deblur.blind.harm as harm
from deblur import psf
from deblur.blind import BlindEstimationWarning, EstimationRecord
from deblur.blind.harm import MAX_FIT_RESIDUAL, MAX_FLAT_DETAIL_GAIN, fit_residual, flat_detail_gain


def _blocks(rng, n=16, side=9, low=0.1, high=0.9):
    """A scene of flat blocks (9 px: not on JPEG's 8 px grid, which the noise estimate reads as block noise)."""
    return np.kron(low + (high - low) * rng.random((n, n)), np.ones((side, side)))


def _comb():
    """A long comb of a kernel: its inverse rings, and no scene in the box blurred by it gives sharp blocks."""
    k = np.zeros((31, 31))
    k[15, ::6] = 1.0
    return k / k.sum()


def _estimated(kernel, sigma):
    """A stand-in for :func:`deblur.blind.estimate` that returns ``kernel`` as estimated, with noise and residual ``sigma``."""

    def estimate(image, size=None, channel_axis=None):
        record = EstimationRecord()
        record.status, record.confidence, record.noise_sigma, record.model_sigma = "estimated", 1.0, sigma, sigma
        return kernel, record

    return estimate


def test_flat_detail_gain_sees_ringing_on_flat_areas_not_sharpening(rng):
    sharp = np.full((128, 128), 0.4)
    sharp[32:96, 32:96] = 0.8  # one bright square on a flat field
    blurred = np.clip(gaussian_filter(sharp, 2.0) + 0.005 * rng.standard_normal(sharp.shape), 0, 1)
    assert flat_detail_gain(blurred, blurred) == pytest.approx(1.0)
    sharpened = np.clip(blurred + 1.5 * (blurred - gaussian_filter(blurred, 2.0)), 0, 1)  # edges steeper
    assert flat_detail_gain(blurred, sharpened) < 2.0  # 1.67: the noise is sharpened too, well below 3
    yy, xx = np.mgrid[:128, :128]
    rippled = np.clip(blurred + 0.03 * np.sin(xx * 2.2) * np.cos(yy * 1.7), 0, 1)  # fine ripples everywhere
    assert flat_detail_gain(blurred, rippled) > MAX_FLAT_DETAIL_GAIN


def test_a_restore_that_rings_falls_back_to_no_blur_and_says_why(rng, monkeypatch):
    """The output check: an estimate whose restore damages the photo's flat areas is not used."""
    y = np.clip(0.5 + 0.005 * rng.standard_normal((128, 128)), 0, 1)
    y[40:88, 40:88] += 0.3  # a sharp square on a flat, slightly noisy field
    monkeypatch.setattr(blind_module, "estimate", _estimated(_comb(), 0.005))
    with pytest.warns(BlindEstimationWarning, match="rang or amplified noise"):
        result = deblur.solve(y, "estimate", weight=1e-5)
    record = result.psf_estimation
    assert record.status == "fallback" and record.confidence == 0.0 and record.flat_detail_gain > 3.0
    assert result.psf.shape == (3, 3) and result.psf[1, 1] == 1.0
    assert np.array_equal(result.image, y) and "left as it was" in record.message  # the photo as it was


def test_fit_residual_is_the_noise_for_the_right_kernel_and_far_more_for_a_wrong_one(rng):
    sharp = _blocks(rng)
    kernel = psf.motion(9, 30)
    noise = 0.01 * rng.standard_normal(sharp.shape)
    blurred = fftconvolve(sharp, kernel, mode="same") + noise
    assert fit_residual(blurred, sharp, kernel) < 1.5  # the noise itself, as the noise estimate reads it
    assert fit_residual(blurred, sharp, _comb()) > MAX_FIT_RESIDUAL


def test_fit_residual_leaves_out_the_pixels_the_restore_does_not_fit(rng):
    sharp = _blocks(rng)
    kernel = psf.motion(9, 30)
    blurred = fftconvolve(sharp, kernel, mode="same") + 0.01 * rng.standard_normal(sharp.shape)
    spoiled = blurred.copy()
    yy, xx = np.mgrid[: sharp.shape[0], : sharp.shape[1]]
    spot = (yy - 70) ** 2 + (xx - 70) ** 2
    spoiled[spot < 20**2] += 0.5  # a highlight the scene does not explain (round: no edge on JPEG's 8 px grid)
    mask = (spot >= 26**2).astype(float)
    assert fit_residual(spoiled, sharp, kernel) > 2 * fit_residual(blurred, sharp, kernel)
    assert fit_residual(spoiled, sharp, kernel, mask) < 1.5  # the noise again


def test_a_restore_that_does_not_explain_the_photo_falls_back_and_says_why(monkeypatch):
    """A comb of a kernel on a photo of sharp 5 px blocks: no scene in the box, blurred by it, gives the photo back."""
    rng = np.random.default_rng(2)  # its own photo: the misfit measured 53 times the noise (a right kernel: about 1)
    blocks = np.kron(0.05 + 0.9 * (rng.random((29, 29)) > 0.5), np.ones((5, 5)))[:144, :144]
    photo = np.clip(blocks + 0.005 * rng.standard_normal((144, 144)), 0, 1)
    monkeypatch.setattr(blind_module, "estimate", _estimated(_comb(), 0.005))
    monkeypatch.setattr(harm, "MAX_FLAT_DETAIL_GAIN", np.inf)  # the fit check alone (the other refuses it too)
    with pytest.warns(BlindEstimationWarning, match="does not explain the photo"):
        result = deblur.solve(photo, "estimate")
    record = result.psf_estimation
    assert record.status == "fallback" and record.confidence == 0.0 and record.fit_residual > MAX_FIT_RESIDUAL
    assert np.array_equal(result.image, photo) and "left as it was" in record.message


def test_the_command_line_says_in_one_note_why_the_photo_is_left_as_it_was(monkeypatch, tmp_path):
    """The fit check's fallback through ``deblur restore``: exit 0, one note (not a warning), the photo's pixels."""
    from click.testing import CliRunner
    from PIL import Image

    from deblur import cli

    rng = np.random.default_rng(2)  # the photo of the test above
    blocks = np.kron(0.05 + 0.9 * (rng.random((29, 29)) > 0.5), np.ones((5, 5)))[:144, :144]
    pixels = np.round(255 * np.clip(blocks + 0.005 * rng.standard_normal((144, 144)), 0, 1)).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    monkeypatch.setattr(blind_module, "estimate", _estimated(_comb(), 0.005))
    monkeypatch.setattr(harm, "MAX_FLAT_DETAIL_GAIN", np.inf)
    out = tmp_path / "out.png"
    result = CliRunner().invoke(cli.main, ["restore", str(tmp_path / "photo.png"), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("does not explain the photo") == 1 and "left as it was" in result.stderr
    assert "warning" not in result.stderr.lower()
    assert np.array_equal(np.asarray(Image.open(out)), pixels)


def test_a_right_kernel_passes_both_checks(rng, monkeypatch):
    sharp = _blocks(rng)
    kernel = psf.motion(9, 30)
    photo = np.clip(fftconvolve(sharp, kernel, mode="same") + 0.01 * rng.standard_normal(sharp.shape), 0, 1)
    monkeypatch.setattr(blind_module, "estimate", _estimated(kernel, 0.01))
    result = deblur.solve(photo, "estimate")
    record = result.psf_estimation
    assert record.status == "estimated" and record.fit_residual < 2.0 and record.flat_detail_gain < 3.0
