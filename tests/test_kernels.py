"""Each Numba kernel of deblur._kernels against its plain numpy/scipy twin in tests/naive.py."""

import numpy as np
import pytest

import naive
from deblur import _config, _kernels
from deblur.regularizers import make_regularizer

# Also run with NUMBA_DISABLE_JIT=1, so the kernels' Python is executed and measured (setup.cfg).
pytestmark = pytest.mark.jit_free

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 2e-5, np.float64: 1e-12}
REG_CASES = [
    # (name, eps, p)
    ("tikhonov", 0.0, 0.8),
    ("tv", 0.05, 0.8),
    ("hyper-laplacian", 0.05, 0.8),
    ("hyper-laplacian", 0.1, 1.5),
]


def assert_close(actual, expected, dtype, scale=None):
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(expected)))) if scale is None else scale
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=0, atol=RTOL[dtype] * scale)


def kernel_taps(k, dtype):
    """rows/cols/weights of conv_valid_taps for a kernel, as in operators._TapsConv."""
    kh, kw = k.shape
    a, b = np.nonzero(k)
    return (kh - 1 - a).astype(np.int64), (kw - 1 - b).astype(np.int64), k[a, b].astype(dtype)


# --- convolution -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kshape", [(1, 1), (3, 3), (4, 4), (2, 5), (5, 1)])
def test_conv_valid_taps_is_scipy_valid_convolution(rng, dtype, kshape):
    k = rng.random(kshape)
    k[rng.random(kshape) < 0.3] = 0.0  # sparse taps, as for motion blur
    k.flat[0] = 0.5  # keep at least one tap
    x = rng.standard_normal((13, 11)).astype(dtype)
    out = np.full((13 - kshape[0] + 1, 11 - kshape[1] + 1), np.nan, dtype=dtype)
    _kernels.conv_valid_taps(x, *kernel_taps(k, dtype), out)
    assert_close(out, naive.conv_valid(x, k), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kshape", [(1, 1), (3, 3), (4, 4), (2, 5), (5, 1)])
def test_corr_full_taps_is_scipy_full_correlation(rng, dtype, kshape):
    k = rng.random(kshape)
    r = rng.standard_normal((9, 10)).astype(dtype)
    out = np.full((9 + kshape[0] - 1, 10 + kshape[1] - 1), np.nan, dtype=dtype)
    _kernels.corr_full_taps(r, *kernel_taps(k, dtype), out)
    assert_close(out, naive.corr_full(r, k), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_taps_kernels_match_naive_for_arbitrary_offsets(rng, dtype):
    rows = np.array([0, 2, 2, 1, 0], dtype=np.int64)  # repeated offsets must add up
    cols = np.array([3, 0, 0, 1, 2], dtype=np.int64)
    weights = rng.standard_normal(5).astype(dtype)
    x = rng.standard_normal((10, 12)).astype(dtype)
    out = np.empty((8, 9), dtype=dtype)
    _kernels.conv_valid_taps(x, rows, cols, weights, out)
    assert_close(out, naive.conv_taps(x, rows, cols, weights, out.shape), dtype)
    back = np.empty_like(x)
    _kernels.corr_full_taps(out, rows, cols, weights, back)
    assert_close(back, naive.corr_taps(out, rows, cols, weights, x.shape), dtype)


def separable_taps(column, row, dtype):
    """Column rows/weights and row cols/weights of the separable kernels, as in operators._SeparableConv."""
    col_rows, _, col_weights = kernel_taps(column[:, None], dtype)
    _, row_cols, row_weights = kernel_taps(row[None, :], dtype)
    return col_rows, col_weights, row_cols, row_weights


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", [(1, 1), (3, 3), (4, 2), (1, 5), (6, 1)])
def test_conv_valid_separable_is_scipy_valid_convolution_with_the_outer_product(rng, dtype, sizes):
    column, row = rng.random(sizes[0]), rng.standard_normal(sizes[1])
    x = rng.standard_normal((13, 11)).astype(dtype)
    out = np.full((13 - sizes[0] + 1, 11 - sizes[1] + 1), np.nan, dtype=dtype)
    _kernels.conv_valid_separable(x, *separable_taps(column, row, dtype), out)
    assert_close(out, naive.conv_valid(x, np.outer(column, row)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", [(1, 1), (3, 3), (4, 2), (1, 5), (6, 1)])
def test_corr_full_separable_is_scipy_full_correlation_with_the_outer_product(rng, dtype, sizes):
    column, row = rng.standard_normal(sizes[0]), rng.random(sizes[1])
    r = rng.standard_normal((9, 10)).astype(dtype)
    out = np.full((9 + sizes[0] - 1, 10 + sizes[1] - 1), np.nan, dtype=dtype)
    _kernels.corr_full_separable(r, *separable_taps(column, row, dtype), out)
    assert_close(out, naive.corr_full(r, np.outer(column, row)), dtype)


def test_conv_valid_taps_overwrites_its_output(rng):
    x = rng.random((6, 6))
    rows, cols, weights = kernel_taps(np.ones((2, 2)) / 4, np.float64)
    out = np.full((5, 5), 1e9)
    _kernels.conv_valid_taps(x, rows, cols, weights, out)
    back = np.full((6, 6), 1e9)
    _kernels.corr_full_taps(out, rows, cols, weights, back)
    assert np.all(np.abs(out) < 2) and np.all(np.abs(back) < 2)


# --- regularisers -------------------------------------------------------------------------------
#
# The regulariser kernels are reached through deblur.regularizers.Regularizer (which packs their
# parameters), with the chunking knob of deblur._config set per test so that chunk boundaries fall
# on every row.


def reg_value_grad(name, eps, p, x, chunk_rows, monkeypatch, scale=1.0, start=None):
    monkeypatch.setattr(_config, "REG_CHUNK_ROWS", chunk_rows)
    reg = make_regularizer(name, eps=eps or None, p=p)
    grad = np.zeros_like(x) if start is None else start.copy()
    value = reg.value_grad(x, scale, grad)
    return value, grad, reg.value(x)


def test_naive_regularizer_gradient_matches_finite_differences(rng):
    """The twin itself: its gradient is the derivative of its value."""
    x = rng.random((5, 6))
    for name, eps, p in REG_CASES:
        numeric = naive.numerical_gradient(lambda z: naive.regularizer_value(z, name, eps, p), x)
        np.testing.assert_allclose(naive.regularizer_grad(x, name, eps, p), numeric, atol=1e-6)


@pytest.mark.parametrize("name, eps, p", REG_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7, 9), (1, 5), (5, 1), (2, 2), (13, 4)])
@pytest.mark.parametrize("chunk_rows", [1, 3, 64])
def test_regularizer_value_grad_matches_naive(rng, monkeypatch, name, eps, p, dtype, shape, chunk_rows):
    """Value and gradient, over chunk sizes that split the rows at every possible place."""
    x = rng.random(shape).astype(dtype)
    value, grad, alone = reg_value_grad(name, eps, p, x, chunk_rows, monkeypatch)
    expected = naive.regularizer_value(x, name, eps, p)
    assert value == pytest.approx(expected, rel=RTOL[dtype], abs=RTOL[dtype])
    assert alone == pytest.approx(expected, rel=RTOL[dtype], abs=RTOL[dtype])
    assert_close(grad, naive.regularizer_grad(x, name, eps, p), dtype)


@pytest.mark.parametrize("name, eps, p", REG_CASES)
def test_regularizer_kernel_gradient_matches_finite_differences(rng, monkeypatch, name, eps, p):
    x = rng.random((6, 5))
    _, grad, _ = reg_value_grad(name, eps, p, x, 2, monkeypatch)
    numeric = naive.numerical_gradient(lambda z: reg_value_grad(name, eps, p, z, 2, monkeypatch)[2], x)
    np.testing.assert_allclose(grad, numeric, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_regularizer_value_grad_scales_and_accumulates(rng, monkeypatch, dtype):
    x = rng.random((9, 8)).astype(dtype)
    start = rng.standard_normal((9, 8)).astype(dtype)
    _, grad, _ = reg_value_grad("tv", 0.1, 0.8, x, 4, monkeypatch, scale=0.25, start=start)
    assert_close(grad, start + 0.25 * naive.regularizer_grad(x, "tv", 0.1), dtype)


@pytest.mark.parametrize("name, eps, p", REG_CASES)
def test_regularizers_vanish_on_constant_images(monkeypatch, name, eps, p):
    x = np.full((6, 7), 0.3)
    value, grad, alone = reg_value_grad(name, eps, p, x, 2, monkeypatch, start=np.full((6, 7), 5.0))
    assert value == pytest.approx(0, abs=1e-15) and alone == pytest.approx(0, abs=1e-15)
    assert np.all(grad == 5.0)


@pytest.mark.parametrize("a", [0.4, -0.6, 0.05, 0.75, 1.0, -1.0])
def test_fast_pow_row_matches_numpy(rng, a):
    """The vectorised float32 power against numpy's in float64, over 30 decades and at powers of 2."""
    from deblur._fastpow import pow_row

    base = np.concatenate([10.0 ** rng.uniform(-15, 15, 4000), 2.0 ** np.arange(-40, 41), [1.0, np.sqrt(2.0)]])
    base = base.astype(np.float32)
    mant, expo, out = (np.empty_like(base) for _ in range(3))
    pow_row(base, np.float32(a), mant, expo, out)
    expected = base.astype(np.float64) ** a
    # the rounding of t = a log2(b) to float32 bounds the error: about (1 + |t|) float32 epsilons
    t = np.abs(a * np.log2(base.astype(np.float64)))
    assert np.all(np.abs(out - expected) <= 1e-7 * (2.0 + t) * expected)


def test_hyper_laplacian_fast_power_agrees_with_pow(rng, monkeypatch):
    """float32 passes take the vectorised power; the same pass with ``**`` (tiny eps) agrees."""
    x = rng.random((40, 37)).astype(np.float32)
    params = _kernels.penalty_params(0.01, 0.8, np.float32)
    assert params[5] == 1 and _kernels.penalty_params(0.01, 0.8, np.float64)[5] == 0
    assert _kernels.penalty_params(1e-30, 0.8, np.float32)[5] == 0  # eps^2 below float32's normal range
    slow = params.copy()
    slow[5] = 0
    results = []
    for prm in (params, slow):
        grad = np.zeros_like(x)
        value = _kernels.regularizer_value_grad(x, _kernels.REG_HYPER_LAPLACIAN, prm, np.float32(1.0), grad, False, 8)
        alone = _kernels.regularizer_value(x, _kernels.REG_HYPER_LAPLACIAN, prm, 8)
        results.append((value, alone, grad))
    (v1, a1, g1), (v2, a2, g2) = results
    assert v1 == pytest.approx(v2, rel=1e-5) and a1 == pytest.approx(a2, rel=1e-5)
    np.testing.assert_allclose(g1, g2, rtol=0, atol=2e-5 * np.abs(g2).max())


# --- fused vector operations --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_extrapolate(rng, dtype):
    x, x_prev = rng.random((2, 5, 7)).astype(dtype)
    out = np.empty_like(x)
    _kernels.extrapolate(x, x_prev, 0.7, out)
    assert_close(out, x + 0.7 * (x.astype(float) - x_prev), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_extrapolate_without_momentum_copies_and_leaves_the_previous_iterate_alone(rng, dtype):
    x = rng.random((5, 7)).astype(dtype)
    x_prev = np.full_like(x, np.nan)  # scratch values: never read when beta == 0
    out = np.full_like(x, -1.0)
    _kernels.extrapolate(x, x_prev, 0.0, out)
    np.testing.assert_array_equal(out, x)
    assert np.isnan(x_prev).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_censor_by_mask_keeps_only_the_shortfall_of_clipped_pixels(rng, dtype):
    r = rng.standard_normal((6, 7)).astype(dtype)
    mask = rng.random((6, 7)) < 0.5  # True: a pixel that was observed, not clipped
    expected = np.where(mask, r, np.minimum(r, 0.0))
    _kernels.censor_by_mask(r, mask)
    np.testing.assert_array_equal(r, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("censored", [True, False])
def test_masked_half_sq_diff(rng, dtype, censored):
    """Observed pixels count in full; a clipped one its shortfall (censored) or nothing (left out)."""
    a, y = rng.random((2, 9, 7)).astype(dtype)
    mask = rng.random((9, 7)) < 0.6
    diff = a.astype(float) - y
    kept = np.where(mask, diff, np.minimum(diff, 0.0) if censored else 0.0)
    expected = 0.5 * np.sum(kept**2)
    assert _kernels.masked_half_sq_diff(a, y, mask, censored) == pytest.approx(expected, rel=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("from_residual", [True, False])
def test_blur_along(rng, dtype, from_residual):
    """out = a + s b (+ y from a residual), returning the data term of out."""
    a, b, y = rng.standard_normal((3, 6, 7)).astype(dtype)
    blurred = a.astype(float) - 0.7 * b + (y if from_residual else 0.0)
    out = np.full_like(a, np.nan)
    data = _kernels.blur_along(a, b, -0.7, y, from_residual, out)
    assert_close(out, blurred, dtype)
    assert data == pytest.approx(0.5 * np.sum((blurred - y) ** 2), rel=RTOL[dtype] * 10)
    _kernels.blur_along(a, b, -0.7, y, from_residual, a)  # documented aliasing: out may be a
    assert_close(a, blurred, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_half_sq_diff(rng, dtype):
    a, y = rng.random((2, 6, 5)).astype(dtype)
    expected = 0.5 * np.sum((a.astype(float) - y) ** 2)
    assert _kernels.half_sq_diff(a, y) == pytest.approx(expected, rel=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_scale_by_mask(rng, dtype):
    r = rng.standard_normal((6, 6)).astype(dtype)
    mask = rng.random((6, 6)) < 0.5
    expected = np.where(mask, 4.0 * r, 0.0)
    _kernels.scale_by_mask(r, mask, 4.0)
    assert_close(r, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("delta", [0.0, 0.8])
def test_descent_step(rng, dtype, clip, delta):
    """out = P(z - eta d + delta (x - x_prev)), returning <g, out - x> (the restart test)."""
    z, d, x, x_prev, g = (rng.standard_normal((5, 5, 6)) * 0.6 + 0.5).astype(dtype)
    expected = z.astype(float) - 0.3 * d + delta * (x.astype(float) - x_prev)
    if clip:
        expected = np.clip(expected, 0.0, 1.0)
    out = np.empty_like(z)
    none = np.zeros((1, 1), np.uint8)
    uphill, clipped = _kernels.descent_step(z, d, 0.3, x, x_prev, delta, 0.0, 1.0, clip, g, out, none, False)
    assert_close(out, expected, dtype)
    assert uphill == pytest.approx(np.sum(g.astype(float) * (out - x.astype(float))), rel=RTOL[dtype] * 10)
    assert clip == bool(np.all((out >= 0) & (out <= 1)))
    unclipped = z.astype(float) - 0.3 * d + delta * (x.astype(float) - x_prev)
    assert clipped == (np.count_nonzero((unclipped < 0) | (unclipped > 1)) if clip else 0)
    # held pixels keep z (then the box) and leave the product
    active = (rng.random(z.shape) < 0.3).astype(np.uint8)
    held_unclipped = np.where(active, z.astype(float) + delta * (x.astype(float) - x_prev), unclipped)
    held_expected = np.clip(held_unclipped, 0.0, 1.0) if clip else held_unclipped
    uphill, clipped = _kernels.descent_step(z, d, 0.3, x, x_prev, delta, 0.0, 1.0, clip, g, out, active, True)
    assert_close(out, held_expected, dtype)
    assert clipped == (np.count_nonzero((held_unclipped < 0) | (held_unclipped > 1)) if clip else 0)
    free = active == 0
    assert uphill == pytest.approx(np.sum((g.astype(float) * (out - x.astype(float)))[free]), rel=RTOL[dtype] * 10)
    # documented aliasing: out may be x_prev
    _kernels.descent_step(z, d, 0.3, x, x_prev, delta, 0.0, 1.0, clip, g, x_prev, none, False)
    assert_close(x_prev, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_free_gradient(rng, dtype):
    """Pixels at or beyond a bound with the gradient pushing outward are held: g zeroed there, marked."""
    z = rng.uniform(-0.3, 1.3, (7, 9)).astype(dtype)
    z[0, :3] = 0.0
    z[1, :3] = 1.0
    g = rng.standard_normal((7, 9)).astype(dtype)
    held = ((z <= 0.0) & (g > 0)) | ((z >= 1.0) & (g < 0))
    active = np.empty(z.shape, np.uint8)
    expected = np.where(held, 0.0, g)
    count, outside, norm_sq = _kernels.free_gradient(z, g, 0.0, 1.0, active)
    assert count == np.count_nonzero(held)
    assert outside == np.count_nonzero((z < 0) | (z > 1))
    np.testing.assert_array_equal(active.astype(bool), held)
    np.testing.assert_array_equal(g, expected.astype(dtype))
    assert norm_sq == pytest.approx(float(np.sum(expected.astype(np.float64) ** 2)), rel=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [0.0, 0.7])
def test_residual_half_sq(rng, dtype, beta):
    a, a_prev, y = (rng.standard_normal((6, 11)).astype(dtype) for _ in range(3))
    expected = a.astype(np.float64) + beta * (a.astype(np.float64) - a_prev) - y
    out = a_prev.copy()  # in place of a_prev, as the solver does
    value = _kernels.residual_half_sq(a, a_prev if beta else np.full_like(a, np.nan), beta, y, out)
    assert_close(out, expected, dtype)
    assert value == pytest.approx(0.5 * float(np.sum(expected**2)), rel=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("engine", ["taps", "separable", "fft"])
def test_forward_data_is_the_blur_and_its_data_term(rng, dtype, engine):
    from deblur.operators import BlurOperator

    kernel = np.outer([1.0, 2.0, 1.0], [1.0, 3.0, 2.0, 1.0])
    kernel /= kernel.sum()
    op = BlurOperator(kernel, (9, 12), "valid", dtype, engine=engine)
    x = rng.random(op.domain_shape).astype(dtype)
    y = rng.random(op.range_shape).astype(dtype)
    out = np.empty(op.range_shape, dtype)
    value = op.forward_data(x, out, y)
    blurred = op.forward(x)
    assert_close(out, blurred, dtype)
    assert value == pytest.approx(0.5 * float(np.sum((blurred.astype(np.float64) - y) ** 2)), rel=10 * RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_dot_and_diff_dot(rng, dtype):
    a, b, g = rng.standard_normal((3, 7, 4)).astype(dtype)
    a64, b64, g64 = (v.astype(np.float64) for v in (a, b, g))
    # Sums are accumulated in float64; for float32 input the products are
    # float32 (Numba's float() keeps float32), so allow one rounding per term.
    tol = 1e-12 if dtype == np.float64 else 1e-6
    scale = np.sum(np.abs(a64 * b64))
    assert _kernels.dot(a, b) == pytest.approx(np.sum(a64 * b64), abs=tol * scale)
    dg, dd = _kernels.diff_dot(a, b, g)
    assert dg == pytest.approx(np.sum((a64 - b64) * g64), abs=tol * np.sum(np.abs((a64 - b64) * g64)))
    assert dd == pytest.approx(np.sum((a64 - b64) ** 2), rel=tol)


def test_every_kernel_is_reexported_by_deblur_kernels():
    """The loops live in one module per concern; deblur._kernels names each of them (the same object)."""
    import inspect

    from deblur import _kernels_blur, _kernels_penalty, _kernels_step

    for module in (_kernels_blur, _kernels_penalty, _kernels_step):
        for name, value in vars(module).items():
            if name.startswith("_") or inspect.ismodule(value) or getattr(value, "__module__", module.__name__) != module.__name__:
                continue
            assert name in _kernels.__all__ and getattr(_kernels, name) is value, f"{module.__name__}.{name}"


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_unclipped_matches_a_dilation_of_any_channel_at_the_level(rng, dtype):
    info = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0
    image = (rng.random((23, 17, 3)) * info).astype(dtype)
    level = np.array(0.9 * info).astype(dtype)[()]
    image[0, 0, 2] = image[22, 16, 0] = image[11, 8, 1] = level  # corners, and exactly at the level
    image[5, 5, :] = level - (1 if np.issubdtype(dtype, np.integer) else 1e-6)  # just below: not clipped
    out = np.empty((23, 17), dtype=bool)
    _kernels.unclipped(image, level, out)
    np.testing.assert_array_equal(out, naive.unclipped(image, level))
    assert not out[0, 0] and not out[1, 1] and out.any()
