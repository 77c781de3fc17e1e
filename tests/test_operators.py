"""BlurOperator: dot tests and scipy references for every engine x boundary x kernel parity x dtype."""

import numpy as np
import pytest

import deblur.errors
import naive
from deblur import psf
from deblur.operators import ENGINES, BlurOperator, engine_costs, kernel_padding

# Also run with NUMBA_DISABLE_JIT=1, so the kernels' Python is executed and measured (setup.cfg).
pytestmark = pytest.mark.jit_free

BOUNDARIES = ["valid", "reflect", "periodic"]
DTYPES = [np.float32, np.float64]
DOT_RTOL = {np.float32: 1e-5, np.float64: 1e-12}
REF_ATOL = {np.float32: 1e-5, np.float64: 1e-12}


def rank_one(shape, seed):
    """A positive rank-1 kernel summing to 1, so every engine (separable too) applies."""
    rng = np.random.default_rng(seed)
    k = np.outer(rng.random(shape[0]) + 0.1, rng.random(shape[1]) + 0.1)
    return k / k.sum()


# odd, even, mixed and degenerate (1-wide) kernel shapes
KSHAPES = [(3, 3), (5, 5), (4, 4), (2, 2), (3, 4), (1, 3)]
FRAME = (11, 13)


def dot_test(op, rng, dtype):
    """<A x, r> = <x, A^T r> on random vectors, to the precision's tolerance."""
    x = rng.standard_normal(op.domain_shape).astype(dtype)
    r = rng.standard_normal(op.range_shape).astype(dtype)
    ax = op.forward(x)
    atr = op.adjoint(r)
    assert ax.shape == op.range_shape and atr.shape == op.domain_shape
    assert ax.dtype == dtype and atr.dtype == dtype
    lhs = np.vdot(ax.astype(np.float64), r)
    rhs = np.vdot(x.astype(np.float64), atr)
    # scale by ||Ax|| ||r|| (Cauchy-Schwarz): random signs make <Ax, r> itself small
    scale = np.linalg.norm(ax.astype(np.float64)) * np.linalg.norm(r)
    assert abs(lhs - rhs) <= DOT_RTOL[dtype] * scale, (lhs, rhs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kshape", KSHAPES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("engine", ENGINES)
def test_dot_test(rng, engine, boundary, kshape, dtype):
    op = BlurOperator(rank_one(kshape, 1), FRAME, boundary, dtype, engine=engine)
    assert op.engine == engine
    dot_test(op, rng, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kshape", KSHAPES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("engine", ENGINES)
def test_forward_matches_scipy(rng, engine, boundary, kshape, dtype):
    """valid: convolve2d(x, k, 'valid'); reflect: ndimage 'reflect'; periodic: ndimage 'wrap'."""
    k = rank_one(kshape, 2)
    op = BlurOperator(k, FRAME, boundary, dtype, engine=engine)
    assert op.domain_shape == naive.domain_shape(FRAME, kshape, boundary)
    x = rng.random(op.domain_shape).astype(dtype)
    np.testing.assert_allclose(op.forward(x), naive.blur(x, k, boundary), rtol=0, atol=REF_ATOL[dtype])


@pytest.mark.parametrize("engine", ["taps", "fft"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adjoint_is_transpose_of_scipy_blur(engine, boundary, dtype):
    """Column by column: A^T e_i is row i of the dense scipy blur matrix."""
    k = psf.motion(4, 30)[1:, :-1]  # dense-ish, not rank 1, even x even
    frame = (6, 7)
    op = BlurOperator(k, frame, boundary, dtype, engine=engine)
    matrix = naive.blur_matrix(k, frame, boundary)
    adjoint = naive.dense_matrix(lambda e: op.adjoint(e.astype(dtype)), frame)
    np.testing.assert_allclose(adjoint, matrix.T, rtol=0, atol=REF_ATOL[dtype])


@pytest.mark.parametrize("engine", ["taps", "fft"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_non_separable_kernels(rng, engine, boundary):
    k = psf.motion(7, 30)
    assert np.linalg.matrix_rank(k) > 1
    op = BlurOperator(k, (15, 12), boundary, np.float64, engine=engine)
    x = rng.random(op.domain_shape)
    np.testing.assert_allclose(op.forward(x), naive.blur(x, k, boundary), atol=1e-12)
    dot_test(op, rng, np.float64)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("frame, kshape", [((5, 5), (5, 5)), ((4, 6), (4, 6)), ((2, 2), (2, 2)), ((3, 2), (3, 1))])
def test_kernel_as_large_as_the_frame(rng, boundary, frame, kshape):
    """The API allows a PSF up to the image size: the margins then reach past half the frame."""
    k = rng.random(kshape) + 0.01
    k /= k.sum()
    for engine in ("taps", "fft"):
        op = BlurOperator(k, frame, boundary, np.float64, engine=engine)
        x = rng.random(op.domain_shape)
        np.testing.assert_allclose(op.forward(x), naive.blur(x, k, boundary), atol=1e-12)
        dot_test(op, rng, np.float64)


def test_separable_engine_refuses_a_rank_two_kernel():
    k = psf.motion(5, 45)
    assert "separable" not in engine_costs(k, (20, 20))
    with pytest.raises(ValueError, match="separable.*choose from"):
        BlurOperator(k, (20, 20), "valid", np.float32, engine="separable")


def test_engine_costs_offer_separable_for_rank_one_kernels():
    assert set(engine_costs(psf.gaussian(2), (40, 40))) == set(ENGINES)
    assert set(engine_costs(psf.box(4), (40, 40))) == set(ENGINES)
    assert "separable" not in engine_costs(psf.disk(3), (40, 40))


@pytest.mark.parametrize("kernel", [psf.gaussian(1.5), psf.motion(9, 20), psf.disk(2), psf.box(4)])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_automatic_engine_agrees_with_scipy(rng, kernel, boundary):
    op = BlurOperator(kernel, (20, 17), boundary, np.float32)
    assert op.engine in ENGINES
    x = rng.random(op.domain_shape).astype(np.float32)
    np.testing.assert_allclose(op.forward(x), naive.blur(x, kernel, boundary), atol=1e-5)


@pytest.mark.parametrize(
    "kshape, pads", [((3, 3), (1, 1, 1, 1)), ((4, 4), (1, 2, 1, 2)), ((1, 2), (0, 0, 0, 1)), ((5, 2), (2, 2, 0, 1))]
)
def test_kernel_padding(kshape, pads):
    """Centre tap at (kh // 2, kw // 2): it reaches kh - 1 - kh // 2 rows above, kh // 2 below."""
    assert kernel_padding(kshape) == pads


@pytest.mark.parametrize("size", [3, 4])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("engine", ENGINES)
def test_delta_kernel_is_the_identity_on_the_frame(rng, size, boundary, engine):
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1.0
    op = BlurOperator(delta, (7, 9), boundary, np.float64, engine=engine)
    x = rng.random(op.domain_shape)
    np.testing.assert_allclose(op.forward(x), op.crop(x), atol=1e-12)


@pytest.mark.parametrize("kshape", [(3, 3), (4, 2)])
def test_valid_initial_guess_and_crop(rng, kshape):
    y = rng.random((6, 8)).astype(np.float32)
    op = BlurOperator(np.ones(kshape) / np.prod(kshape), y.shape, "valid", np.float32)
    x0 = op.initial_guess(y)
    assert x0.shape == op.domain_shape and x0.dtype == np.float32
    np.testing.assert_array_equal(op.crop(x0), y)
    # the margins replicate the edges
    top, bottom, left, right = kernel_padding(kshape)
    np.testing.assert_array_equal(x0[:top, left:-right or None], np.repeat(y[:1], top, axis=0))
    for boundary in ("reflect", "periodic"):
        other = BlurOperator(np.ones(kshape) / np.prod(kshape), y.shape, boundary, np.float32)
        guess = other.initial_guess(y)
        np.testing.assert_array_equal(guess, y)
        assert guess is not y and other.crop(guess) is guess


def test_forward_and_adjoint_write_into_out(rng):
    # an asymmetric kernel: a symmetric one makes the reflect blur its own adjoint
    op = BlurOperator(np.array([[0.1, 0.5, 0.0], [0.0, 0.1, 0.3]]), (10, 10), "reflect", np.float64)
    x = rng.random((10, 10))
    out = np.full((10, 10), np.nan)
    assert op.forward(x, out) is out
    np.testing.assert_allclose(out, naive.blur(x, op.psf, "reflect"), atol=1e-12)
    back = np.full((10, 10), np.nan)
    assert op.adjoint(out, back) is back
    adjoint = naive.blur_matrix(op.psf, (10, 10), "reflect").T @ out.ravel()
    np.testing.assert_allclose(back, adjoint.reshape(10, 10), atol=1e-12)



@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_wrong_shape_is_refused_before_the_loops_run(rng, engine, boundary):
    """The compiled loops do not check bounds: forward, forward_data and adjoint check every shape first."""
    op = BlurOperator(rank_one((3, 3), 5), (12, 10), boundary, np.float64, engine=engine)
    x, r = rng.random(op.domain_shape), rng.random(op.range_shape)
    grown = lambda a: np.zeros((a.shape[0] + 1, a.shape[1]))  # noqa: E731
    shrunk = lambda a: np.zeros((a.shape[0], a.shape[1] - 1))  # noqa: E731
    calls = {
        "x": lambda bad: op.forward(bad(x)),
        "out": lambda bad: op.forward(x, bad(r)),
        "r": lambda bad: op.adjoint(bad(r)),
        "out ": lambda bad: op.adjoint(r, bad(x)),
        "y": lambda bad: op.forward_data(x, np.empty_like(r), bad(r)),
        "x ": lambda bad: op.forward_data(bad(x), np.empty_like(r), r),
        "out  ": lambda bad: op.forward_data(x, bad(r), r),
    }
    for name, call in calls.items():
        for bad in (grown, shrunk):
            with pytest.raises(ValueError, match=f"BlurOperator: {name.strip()} has shape .*, expected") as caught:
                call(bad)
            assert not isinstance(caught.value, deblur.errors.DeblurError)  # a bug of ours, not a usage error
    out = np.empty_like(r)
    assert op.forward_data(x, out, r) == pytest.approx(0.5 * np.sum((op.forward(x) - r) ** 2))
    assert op.adjoint(r).shape == op.domain_shape


def power_norm_sq(op, rng, n_iter=100):
    v = rng.standard_normal(op.domain_shape)
    value = 0.0
    for _ in range(n_iter):
        v /= np.linalg.norm(v)
        w = op.adjoint(op.forward(v))
        value = float(np.vdot(v, w))
        v = w
    return value


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("kernel", [psf.gaussian(1.0), psf.motion(6, 30), psf.box(4), psf.disk(2)])
def test_lipschitz_bounds_the_operator_norm(rng, boundary, kernel):
    op = BlurOperator(kernel, (21, 18), boundary, np.float64)
    estimate = power_norm_sq(op, rng)
    assert estimate <= op.lipschitz * (1 + 1e-9)
    if boundary != "reflect":
        assert op.lipschitz == pytest.approx(1.0)  # (sum |k|)^2 for a normalised kernel
    else:
        assert op.lipschitz <= 1.5 * estimate  # an upper bound, not a wild one


# --- the Fourier preconditioner -------------------------------------------------------------------


@pytest.mark.parametrize("mu", [0.0, 0.16])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_fourier_preconditioner_is_symmetric_positive_definite(boundary, mu):
    from deblur.preconditioners import FourierPreconditioner

    k = psf.gaussian(1.0)
    op = BlurOperator(k, (9, 10), boundary, np.float64)
    pre = FourierPreconditioner(k, op.domain_shape, mu, np.float64)
    matrix = naive.dense_matrix(lambda e: pre.apply(e.copy(), np.empty_like(e)), op.domain_shape)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-10 * np.abs(matrix).max())
    eigenvalues = np.linalg.eigvalsh((matrix + matrix.T) / 2)
    assert eigenvalues.min() > 0
    assert eigenvalues.max() <= pre.bound * (1 + 1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fourier_preconditioner_applies_in_place(rng, dtype):
    from deblur.preconditioners import FourierPreconditioner

    pre = FourierPreconditioner(psf.disk(2), (12, 11), 0.05, dtype)
    g = rng.standard_normal((12, 11)).astype(dtype)
    expected = pre.apply(g.copy(), np.empty_like(g))
    assert expected.dtype == dtype
    assert pre.apply(g, g) is g
    np.testing.assert_allclose(g, expected, rtol=0, atol=REF_ATOL[dtype] * np.abs(expected).max())


def test_cosine_preconditioner_inverts_the_reflect_normal_matrix_for_a_symmetric_kernel():
    """For 'reflect' and a symmetric kernel, P = (A^T A + mu D^T D + delta I)^-1 exactly (DCT-II basis)."""
    from deblur.preconditioners import DELTA, CosinePreconditioner

    shape, mu = (9, 10), 0.16
    for k in (psf.gaussian(1.0), psf.disk(2), psf.box(3)):
        op = BlurOperator(k, shape, "reflect", np.float64)
        a = naive.dense_matrix(lambda e: op.forward(e), shape)
        d = naive.difference_matrix(shape).toarray()
        normal = a.T @ a + mu * d.T @ d + DELTA * np.eye(a.shape[1])
        pre = CosinePreconditioner(k, shape, mu, np.float64)
        matrix = naive.dense_matrix(lambda e: pre.apply(e.copy(), np.empty_like(e)), shape)
        np.testing.assert_allclose(matrix @ normal, np.eye(a.shape[1]), atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cosine_preconditioner_is_symmetric_positive_definite_for_any_kernel(rng, dtype):
    from deblur.preconditioners import CosinePreconditioner

    k = rng.random((4, 5))
    k /= k.sum()  # neither symmetric nor odd-sized
    pre = CosinePreconditioner(k, (8, 7), 0.05, dtype)
    matrix = naive.dense_matrix(lambda e: pre.apply(e.astype(dtype), np.empty(e.shape, dtype)), (8, 7))
    np.testing.assert_allclose(matrix, matrix.T, atol=REF_ATOL[dtype] * np.abs(matrix).max())
    eigenvalues = np.linalg.eigvalsh((matrix + matrix.T) / 2)
    assert eigenvalues.min() > 0 and eigenvalues.max() <= pre.bound * (1 + 1e-4)
    g = rng.standard_normal((8, 7)).astype(dtype)
    expected = pre.apply(g.copy(), np.empty_like(g))
    assert pre.apply(g, g) is g and g.dtype == dtype
    np.testing.assert_allclose(g, expected, rtol=0, atol=REF_ATOL[dtype] * np.abs(expected).max())
