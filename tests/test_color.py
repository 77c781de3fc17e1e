"""deblur.color: the sRGB transfer curve and the luma/chroma split."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from deblur import color


def test_srgb_known_values():
    np.testing.assert_allclose(color.srgb_to_linear(np.array([0.0, 0.5, 1.0])), [0.0, 0.21404, 1.0], atol=1e-5)
    np.testing.assert_allclose(color.linear_to_srgb(np.array([0.0, 0.18, 1.0])), [0.0, 0.46135, 1.0], atol=1e-5)
    # the linear segment near black
    np.testing.assert_allclose(color.srgb_to_linear(np.array([0.04])), [0.04 / 12.92])


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (7,), elements=st.floats(0, 1)))
def test_srgb_round_trip_and_monotone(values):
    lin = color.srgb_to_linear(values)
    np.testing.assert_allclose(color.linear_to_srgb(lin), values, atol=1e-9)
    order = np.argsort(values)
    assert np.all(np.diff(lin[order]) >= 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept(dtype):
    x = np.linspace(0, 1, 5, dtype=dtype)
    assert color.srgb_to_linear(x).dtype == dtype
    assert color.linear_to_srgb(x).dtype == dtype


def test_negative_values_stay_finite():
    out = color.linear_to_srgb(np.array([-0.1, 0.0]))
    assert np.all(np.isfinite(out)) and out[0] < 0


def test_luma_split_is_exact():
    rgb = np.random.default_rng(1).random((4, 5, 3))
    luma, chroma = color.split_luma(rgb)
    assert luma.shape == (4, 5)
    np.testing.assert_allclose(color.merge_luma(luma, chroma), rgb, atol=1e-12)
    assert abs(sum(color.LUMA_WEIGHTS) - 1) < 1e-12


def test_luma_of_gray_is_gray_and_chroma_zero():
    gray = np.random.default_rng(2).random((3, 3))
    luma, chroma = color.split_luma(np.dstack([gray] * 3))
    np.testing.assert_allclose(luma, gray)
    np.testing.assert_allclose(chroma, 0, atol=1e-12)


def test_split_luma_rejects_gray():
    with pytest.raises(ValueError, match="RGB"):
        color.split_luma(np.zeros((3, 3)))


def test_round_trip_at_the_knee():
    """The standard's rounded knee (0.0031308) would map 0.04045 to 0.0404499..."""
    knee = np.array([0.04045, 0.0404501, 0.0404499])
    np.testing.assert_allclose(color.linear_to_srgb(color.srgb_to_linear(knee)), knee, rtol=0, atol=1e-12)


def test_opponent_to_rgb_in_place_matches(monkeypatch):
    """Converting in place, in blocks of rows, gives the one-shot answer."""
    from deblur import color

    monkeypatch.setattr(color, "_BLOCK_PIXELS", 7)  # blocks of one row, and a last short block
    opp = np.random.default_rng(1).random((5, 3, 3)).astype(np.float32)
    expected = color.opponent_to_rgb(opp)
    out = opp.copy()
    assert color.opponent_to_rgb(out, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_opponent_channel_in_blocks_on_threads_is_the_whole_array_formula_to_the_bit(monkeypatch, dtype):
    """Blocks of rows on several threads give exactly what numpy gives on the whole array (and a dask array)."""
    from deblur import color

    da = pytest.importorskip("dask.array")
    monkeypatch.setattr(color, "_BLOCK_PIXELS", 14)  # blocks of two rows of 7 pixels, the last one short
    monkeypatch.setattr(color.os, "cpu_count", lambda: 3)
    rgb = np.random.default_rng(2).random((9, 7, 3)).astype(dtype)
    for c in range(3):
        w = (color.OPPONENT_BASIS[c] / color.OPPONENT_SPAN[c]).astype(dtype)
        expected = rgb[..., 0] * w[0]
        expected += rgb[..., 1] * w[1]
        expected += rgb[..., 2] * w[2]
        expected -= dtype(color.OPPONENT_OFFSET[c] / color.OPPONENT_SPAN[c])
        got = color.opponent_channel(rgb, c)
        assert got.dtype == dtype and np.array_equal(got, expected)
        assert np.array_equal(color.opponent_channel(da.from_array(rgb, chunks=(4, 7, 3)), c).compute(), expected)


@pytest.mark.parametrize("shape", [(61, 47, 3), (1, 1, 3), (2, 1024, 3), (33, 1025, 3)])
def test_channel_extreme_is_numpys_reduction_over_the_pixels(rng, shape):
    """By contiguous rows of pixels; the same values as ``reduce(rgb, axis=(0, 1))``, a partial last row included."""
    rgb = (3 * rng.random(shape) - 1).astype(np.float32)
    for reduce in (np.min, np.max):
        assert np.array_equal(color.channel_extreme(rgb, reduce), reduce(rgb, axis=(0, 1)))
