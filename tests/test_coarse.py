"""deblur.coarse: the half-resolution model of the colour differences."""

import numpy as np
import pytest

import deblur
import naive
from deblur import coarse, psf
from deblur.operators import BlurOperator, kernel_padding
from deblur.regularizers import make_regularizer

# Also run with NUMBA_DISABLE_JIT=1, so the kernels' Python is executed and measured (setup.cfg).
pytestmark = pytest.mark.jit_free


@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (4, 6), (41, 41), (17, 9)])
def test_half_kernel_sums_to_one_and_keeps_a_delta_at_the_centre(shape):
    k = np.zeros(shape)
    k[shape[0] // 2, shape[1] // 2] = 1.0
    small = coarse.half_kernel(k)
    assert small.shape == coarse.half_kernel_shape(shape)
    assert small.sum() == pytest.approx(1.0)
    # still a delta, at the centre where kernel_padding expects it
    assert small[small.shape[0] // 2, small.shape[1] // 2] == pytest.approx(1.0)


def test_half_model_matches_the_blur_of_a_smooth_scene():
    """For a smooth scene, the coarse observation is the coarse kernel's blur of the coarse scene."""
    kernel = psf.motion(15, 30)  # 17 x 17
    fine = BlurOperator(kernel, (126, 136), "valid", np.float64)
    top, _, left, _ = kernel_padding(kernel.shape)
    # the scene fills the operator's whole domain (a smaller one was read past its end, unchecked)
    yy, xx = np.mgrid[0 : fine.domain_shape[0], 0 : fine.domain_shape[1]] / 40.0
    scene = np.sin(yy) * np.cos(0.7 * xx) + 0.3 * yy
    y2 = coarse.half_image(fine.forward(scene))
    k2 = coarse.half_kernel(kernel)
    op2 = BlurOperator(k2, y2.shape, "valid", np.float64)
    t2, _, l2, _ = kernel_padding(k2.shape)
    # the coarse scene: fine pixel (top + 2i, left + 2j) of the frame is coarse frame pixel (i, j)
    rows = np.arange(op2.domain_shape[0]) * 2 + top - 2 * t2
    cols = np.arange(op2.domain_shape[1]) * 2 + left - 2 * l2
    x2 = scene[np.clip(rows, 0, scene.shape[0] - 1)][:, np.clip(cols, 0, scene.shape[1] - 1)]
    inner = (slice(4, -4), slice(4, -4))
    np.testing.assert_allclose(op2.forward(x2)[inner], y2[inner], atol=5e-3)


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (2, 3), (5, 8), (33, 18)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_half_image_is_the_tent_filtered_image_at_even_pixels(shape, dtype):
    """Its twin: the full-grid tent filter with replicated edges (scipy.ndimage), then every second pixel."""
    from scipy import ndimage

    y = np.random.default_rng(1).random(shape).astype(dtype)
    tent = coarse.TENT.astype(dtype)
    full = ndimage.convolve1d(ndimage.convolve1d(y, tent, axis=0, mode="nearest"), tent, axis=1, mode="nearest")
    half = coarse.half_image(y)
    assert half.dtype == dtype and half.flags.c_contiguous
    # float32: the same rounding too (each axis summed in float64, as ndimage does)
    np.testing.assert_allclose(half, full[::2, ::2], rtol=0 if dtype == np.float32 else 1e-15)


def test_half_kernel_is_the_tent_blurred_kernel_every_second_tap():
    from scipy import signal

    k = np.random.default_rng(2).random((9, 6))
    smooth = signal.convolve2d(k, np.outer(coarse.TENT, coarse.TENT))[1::2, 0::2]  # the taps of the centre's parity
    np.testing.assert_allclose(coarse.half_kernel(k), smooth / smooth.sum())


def test_upsample_is_linear_interpolation_at_half_positions():
    x2 = np.arange(12.0).reshape(3, 4)
    up = coarse.upsample(x2, (6, 7))
    assert up.shape == (6, 7)
    np.testing.assert_allclose(up[::2, ::2], x2[:, :4])
    assert up[1, 0] == pytest.approx(0.5 * (x2[0, 0] + x2[1, 0]))
    assert up[0, 1] == pytest.approx(0.5 * (x2[0, 0] + x2[0, 1]))
    assert up[5, 6] == pytest.approx(x2[2, 3])  # beyond the last coarse pixel: replicated


@pytest.mark.parametrize("coarse_shape", [(1, 1), (1, 3), (3, 4), (8, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_upsample_matches_its_twin(coarse_shape, dtype):
    x2 = np.random.default_rng(3).random(coarse_shape).astype(dtype)
    h, w = coarse_shape
    for shape in [(2 * h, 2 * w), (2 * h - 1, 2 * w - 1), (2 * h + 1, 2 * w + 3), (h, w)]:
        up = coarse.upsample(x2, shape)
        assert up.shape == shape and up.dtype == dtype
        np.testing.assert_allclose(up, naive.upsample_linear(x2, shape), rtol=1e-6)


def test_half_mask_leaves_out_every_coarse_pixel_a_clipped_pixel_reaches():
    mask = np.ones((9, 9), bool)
    assert coarse.half_mask(mask) is None and coarse.half_mask(None) is None
    mask[4, 4] = False
    half = coarse.half_mask(mask)
    assert half.shape == (5, 5)
    assert not half[2, 2] and half.sum() == 25 - 1
    mask[4, 4], mask[3, 3] = True, False
    assert (~coarse.half_mask(mask)).sum() == 4  # an odd pixel is reached by four tents


@pytest.mark.parametrize("shape", [(9, 9), (10, 7), (31, 40)])
def test_half_mask_is_the_three_by_three_minimum_at_the_even_pixels(shape):
    from scipy import ndimage

    mask = np.random.default_rng(shape[0]).random(shape) > 0.1
    twin = ndimage.minimum_filter(mask.astype(np.uint8), size=3, mode="nearest")[::2, ::2] > 0
    np.testing.assert_array_equal(coarse.half_mask(mask), twin)


def test_weight_scale():
    assert coarse.weight_scale(make_regularizer("tikhonov")) == 0.25
    assert coarse.weight_scale(make_regularizer("tv")) == 0.5
    assert coarse.weight_scale(make_regularizer("hyper-laplacian", p=0.8)) == pytest.approx(2**-0.8)


def test_opponent_colour_restore_uses_the_coarse_grid_and_callbacks_see_frames():
    rng = np.random.default_rng(0)
    y = np.clip(rng.random((260, 258, 3)) * 0.2 + 0.4, 0, 1)
    seen = []
    result = deblur.solve(y, "gaussian:sigma=1", channel_axis=-1, max_num_iter=3,
                          callback=lambda s: seen.append(s.image.shape))
    assert result.image.shape == y.shape
    assert set(seen) == {(260, 258)}
    blur = np.full((7, 7), 1 / 49)
    assert coarse.fits((260, 258), blur) and not coarse.fits((250, 300), blur)


def test_no_coarse_grid_without_blur():
    """A delta (a photo found sharp) passes the whole top octave: its colour keeps full resolution."""
    delta = np.pad([[1.0]], 1)
    assert coarse.top_octave_power(delta) == pytest.approx(1.0)
    assert not coarse.fits((400, 400), delta)
    assert coarse.top_octave_power(psf.motion(9, 30)) < coarse.MAX_TOP_OCTAVE
