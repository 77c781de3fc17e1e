"""A shake beyond the full-scale support's reach is estimated on 2 x 2 means (deblur.blind.estimate)."""

import numpy as np
import pytest
from scipy.signal import fftconvolve
from skimage import data

import deblur.blind as blind
from deblur import psf
from blind_looks import blurred_camera, texture_dots
from deblur.blind import EstimationRecord, beyond_reach
from deblur.blind.support import fit_support


def _photo(n=200, seed=0):
    """A blurred crop (blurred, so it is not found sharp before the estimation)."""
    sharp = data.camera()[40 : 40 + n + 8, 120 : 120 + n + 8] / 255.0
    y = fftconvolve(sharp, psf.motion(9, 30), mode="valid")
    return np.clip(y + 0.005 * np.random.default_rng(seed).standard_normal(y.shape), 0, 1)


def test_the_reach_is_capped_where_the_automatic_support_is():
    assert beyond_reach((800, 800), 75) and beyond_reach((800, 1200), 75)
    assert not beyond_reach((600, 900), 75) and not beyond_reach((800, 800), 101)


class _Windows:
    """A stand-in for ``_estimate_window``: a fallback at full scale, ``reduced`` on 2 x 2 means."""

    def __init__(self, shape, reduced):
        self.full_shape, self.reduced, self.calls = shape, reduced, []

    def __call__(self, y, size, opts, mask, score, steep, noise, further=None):
        self.calls.append(y.shape)
        record = EstimationRecord()
        record.crop = [0, 0, *y.shape]
        if y.shape == self.full_shape:
            record.status, record.reason = "fallback", "the kernel still fills its 15 px support (texture)"
            return np.ones((3, 3)) / 9, record
        status, side = self.reduced
        record.status, record.message = status, f"estimated a {side}x{side} kernel"
        record.reason = "" if status == "estimated" else "the kernel still fills its 9 px support (texture)"
        k = np.zeros((side, side))
        k[side // 2, :] = 1.0
        return (k / k.sum() if status == "estimated" else np.ones((3, 3)) / 9), record


@pytest.mark.parametrize(
    "reduced, taken",
    [
        (("estimated", 13), True),  # 25-27 px at full scale: beyond the 15 px reach, taken
        (("estimated", 5), False),  # within reach at full scale, where it was refused: the fallback stands
        (("fallback", 13), False),
    ],
)
def test_a_fallback_beyond_reach_is_estimated_again_at_half_scale(monkeypatch, reduced, taken):
    y = _photo()
    fake = _Windows(y.shape, reduced)
    monkeypatch.setattr(blind, "_estimate_window", fake)
    k, record = blind.estimate(y, max_size=15)  # 12 % of 200 px is 24: capped at 15
    assert fake.calls == [y.shape, (y.shape[0] // 2, y.shape[1] // 2)]
    assert record.crop is None  # estimated on the whole photo, at either scale
    if taken:
        assert record.status == "estimated" and record.downscale == 2 and k.shape[0] > 15
        assert "at full scale" in record.message and "still fills" in record.message
    else:
        assert record.status == "fallback" and k.shape == (3, 3) and "on means of 2 x 2 pixels too" in record.message
        assert record.message.count("(texture)") == 1  # the explanation both scales share, said once


def test_within_reach_or_with_a_given_size_a_fallback_stands(monkeypatch):
    y = _photo()
    fake = _Windows(y.shape, ("estimated", 13))
    monkeypatch.setattr(blind, "_estimate_window", fake)
    _, record = blind.estimate(y)  # 12 % of 200 px: 25 px, under the 75 px cap
    assert record.status == "fallback" and fake.calls == [y.shape]
    _, record = blind.estimate(y, size=15, max_size=15)
    assert fake.calls == [y.shape, y.shape]


class _ScaledLooks:
    """Stands in for ``estimate_growing``: per scale and kernel model, a kernel that passes or 49 dots refused as texture."""

    def __init__(self, full_shape, passes):
        self.full_shape, self.passes, self.calls = full_shape, passes, []

    def __call__(self, y, size, opts, mask):
        scale = "full" if y.shape == self.full_shape else "half"
        self.calls.append((scale, opts.kernel_projection))
        record = EstimationRecord()
        record.elapsed, record.message = 1.0, f"estimated ({scale}, {opts.kernel_projection})"
        k = self.passes.get((scale, opts.kernel_projection), texture_dots())
        record.start_support = record.support = k.shape[0]
        record.growths = [{"support": k.shape[0], "touches": False, "size": k.shape[0]}]
        return k, record


@pytest.mark.parametrize("half_passes", [True, False])
def test_a_capped_photo_refused_as_texture_is_looked_at_on_2x2_means_before_the_sparse_look(monkeypatch, rng, half_passes):
    """The sparse look at full scale took a shorter, worse kernel than the 2 x 2 estimate of a long shake.

    (``blind_scenes.py`` astronaut-xl/lai4x2: +1.19 dB from the 2 x 2 estimate,
    -0.01 dB once the sparse look came first.) Here the sparse look at full scale
    would pass: it is asked only when the 2 x 2 estimate is not used.
    """
    import deblur.blind.looks as looks_module

    long_shake = fit_support(psf.motion(13, 30), 15)  # 25-29 px enlarged: beyond the 15 px reach
    passes = {("full", "simplex"): fit_support(psf.motion(9, 30), 11)}
    if half_passes:
        passes[("half", "nonneg")] = long_shake
    y = blurred_camera(psf.motion(9, 30), rng)
    looks = _ScaledLooks(y.shape, passes)
    monkeypatch.setattr(looks_module, "estimate_growing", looks)
    kernel, record = blind.estimate(y, max_size=15, spectral_check=False)
    if half_passes:
        assert looks.calls == [("full", "nonneg"), ("half", "nonneg")]
        assert record.status == "estimated" and record.downscale == 2 and kernel.shape[0] > 15
        assert "at full scale, with the support capped at 15 px" in record.message and "49 pieces" in record.message
    else:  # the 2 x 2 estimate refused too (and its own sparse look): the full-scale sparse look is taken
        assert looks.calls == [("full", "nonneg"), ("half", "nonneg"), ("half", "simplex"), ("full", "simplex")]
        assert record.status == "estimated" and record.downscale == 1 and kernel.shape[0] == 11
        assert record.confidence == 0.75 and "fewest taps" in record.reason
    assert record.elapsed >= len(looks.calls)  # every look's time counted


def test_a_kernel_spread_over_its_support_is_not_grown_and_falls_back():
    """A cut camera path crosses the support's border at a few places; a cloud filling the support covers it."""
    from deblur.blind.coarse_to_fine import spread_over_support

    path = np.zeros((31, 31))
    path[15, :] = 1.0  # a horizontal path cut at both ends
    cloud = np.random.default_rng(0).random((31, 31))
    assert not spread_over_support(path, 0.25) and spread_over_support(cloud, 0.25)
    small = np.zeros((11, 11))
    small[4:7, :] = 1.0  # a path 3 taps wide cut by an 11 px support: 27 % of its band, not spread
    assert not spread_over_support(small, 0.25)


def test_a_smooth_photo_without_edges_is_left_alone_not_sharpened_into_blobs():
    """Soft clouds (low-pass noise) blurred by a 15 px shake: the estimate fills its support and is refused.

    As ``smooth`` cropped to 256 px in ``benchmarks/blind_scenes.py``, where the
    49-51 px clouds the support grew to restored 2-4 dB worse than the photo.
    """
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(7)
    clouds = gaussian_filter(rng.normal(size=(240, 240)), 16.0)
    scene = np.linspace(0.78, 0.5, 240)[:, None] + clouds * (0.08 / clouds.std())
    y = fftconvolve(scene, psf.motion(15, 60), mode="valid")
    y = np.clip(y + 0.01 * np.random.default_rng(1).standard_normal(y.shape), 0, 1)
    k, record = blind.estimate(y)
    assert record.status == "fallback" and record.spread, record.message
    assert "spread over its whole" in record.message and k.shape == (3, 3)
    _, unchecked = blind.estimate(y, max_border_cover=1.01)  # the rule off: the cloud is grown
    assert not unchecked.spread and len(unchecked.growths) > 1


def test_a_photo_estimated_on_means_of_pixels_records_no_window_when_it_used_the_whole_frame(monkeypatch):
    y = _photo()[:198, :198]  # means of 2 x 2 pixels once the reduction starts below its size
    fake = _Windows((0, 0), ("estimated", 9))
    monkeypatch.setattr(blind, "_estimate_window", fake)
    k, record = blind.estimate(y, scale_above=10_000)
    assert fake.calls == [(99, 99)] and record.downscale == 2
    assert record.crop is None  # the whole frame, as a full-scale estimate on the whole photo says it
