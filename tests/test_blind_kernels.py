"""Numba kernels and FFT building blocks of deblur.blind against plain numpy twins."""

import numpy as np
import pytest
from scipy.signal import fftconvolve

from deblur import _blind_kernels as bk
from deblur.blind.fourier import Domain, grad, grad_adjoint
from deblur.blind.kernel_step import kernel_descent, kernel_moments, project_simplex
from deblur.blind.latent import l0_latent, l0_latent_reference, rdot

# Also run with NUMBA_DISABLE_JIT=1, so the kernels' Python is executed and measured (setup.cfg).
pytestmark = pytest.mark.jit_free


def test_l0_split_matches_numpy(rng):
    x = rng.random((37, 42)).astype(np.float32)
    thr = np.float32(0.2)
    out = np.empty_like(x)
    kept = bk.l0_split(x, thr, out)
    gx, gy = grad(x.astype(np.float64))
    small = gx * gx + gy * gy < thr
    gx[small] = 0
    gy[small] = 0
    np.testing.assert_allclose(out, grad_adjoint(gx, gy), atol=1e-6)
    assert kept == np.count_nonzero(~small)


def test_grad_adjoint_is_adjoint(rng):
    x = rng.standard_normal((20, 23))
    gx, gy = rng.standard_normal((2, 20, 23))
    dx, dy = grad(x)
    assert np.isclose(np.sum(dx * gx) + np.sum(dy * gy), np.sum(x * grad_adjoint(gx, gy)))


@pytest.mark.parametrize("n_cols", [30, 31])
def test_spectral_direction_matches_numpy(rng, n_cols):
    n = 24
    shape = (n, n_cols // 2 + 1)

    def c():
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)

    kf, f1, kty, xf, dtg = c(), c(), c(), c(), c()
    dd = rng.random(shape).astype(np.float32)
    beta = 0.7
    d_hat = np.empty_like(kf)
    num, ener = bk.spectral_direction(kf, f1, kty, xf, dtg, dd, beta, n_cols, d_hat)
    g = np.conj(kf) * f1 - kty + beta * (dd * xf - dtg)
    d = -g / (np.abs(kf) ** 2 + beta * dd)
    np.testing.assert_allclose(d_hat, d, rtol=1e-4, atol=1e-5)
    assert np.isclose(num, -rdot(g, d, n_cols), rtol=1e-4)
    assert np.isclose(ener, rdot(dd * d, d, n_cols), rtol=1e-4)


def test_rdot_is_real_inner_product(rng):
    for n_cols in (16, 17):
        a, b = rng.standard_normal((2, 12, n_cols))
        assert np.isclose(rdot(np.fft.rfft2(a), np.fft.rfft2(b), n_cols), np.sum(a * b))


def test_small_kernels_match_numpy(rng):
    a = rng.standard_normal((9, 11)).astype(np.float32)
    m = (rng.random((9, 11)) > 0.3).astype(np.float32)
    assert np.isclose(bk.masked_sq_sum(m, a), np.sum(m * a * a), rtol=1e-5)
    out = np.empty_like(a)
    bk.masked_copy(m, a, out)
    np.testing.assert_array_equal(out, m * a)
    y = a.copy()
    bk.axpy(y, np.float32(0.5), m)
    np.testing.assert_allclose(y, a + 0.5 * m, rtol=1e-6)


def test_domain_is_the_valid_model(rng):
    """Circular convolution on the grid, read in the window, equals scipy's valid convolution."""
    k = rng.random((5, 7))
    y_shape = (20, 26)
    dom = Domain(y_shape, k.shape)
    x = rng.random(dom.shape)
    circ = dom.irfft(dom.kernel_ft(k) * dom.rfft(x))[dom.window]
    lat = x[: y_shape[0] + 4, : y_shape[1] + 6]
    np.testing.assert_allclose(circ, fftconvolve(lat, k, mode="valid"), atol=1e-10)


def test_latent_step_matches_reference(rng):
    from skimage import data

    y = data.camera()[100:164, 100:164] / 255.0
    k = np.zeros((7, 7))
    k[3, 1:6] = 0.2
    dom = Domain(y.shape, k.shape)
    mask = dom.embed(np.ones_like(y))
    yg = dom.embed(y)
    x0 = dom.pad_latent(y)
    fast = l0_latent(dom, yg, mask, k, x0, 4e-3)
    ref = l0_latent_reference(dom, yg, mask, k, x0, 4e-3)
    assert np.mean(np.abs(fast - ref)) < 1e-4


def test_kernel_moments_against_direct_sums(rng):
    """b and the Hessian from kernel_moments reproduce the normal equations of the gradient-domain fit."""
    kh = 5
    y = rng.random((30, 34))
    dom = Domain(y.shape, (kh, kh))
    x = rng.random(dom.shape)
    mask = dom.embed(np.ones_like(y))
    R, b = kernel_moments(dom, x, dom.embed(y), mask)
    # direct b[m] = sum_n md[n] Dy[n] Dx[n - m]
    b_direct = np.zeros((kh, kh))
    yg = dom.embed(y)
    for (gx, gy), axis in zip(zip(grad(x), grad(yg)), (1, 0)):
        md = mask * np.roll(mask, -1, axis=axis)
        for a in range(kh):
            for c in range(kh):
                b_direct[a, c] += np.sum(md * gy * np.roll(gx, (a, c), axis=(0, 1)))
    np.testing.assert_allclose(b, b_direct, rtol=1e-8, atol=1e-8)
    assert R.shape == (2 * kh - 1, 2 * kh - 1)
    np.testing.assert_allclose(R, R[::-1, ::-1], rtol=1e-8)  # an autocorrelation is symmetric


def test_project_simplex(rng):
    v = rng.standard_normal((6, 6))
    p = project_simplex(v)
    assert p.min() >= 0 and np.isclose(p.sum(), 1.0)
    # optimality: p is closer to v than random simplex points
    for _ in range(20):
        q = rng.random((6, 6))
        q /= q.sum()
        assert np.sum((p - v) ** 2) <= np.sum((q - v) ** 2) + 1e-12


@pytest.mark.parametrize("projection", ["nonneg", "simplex"])
def test_kernel_descent_recovers_kernel_from_true_latent(rng, projection):
    from skimage import data

    sharp = data.camera()[60:188, 60:188] / 255.0
    k = np.zeros((9, 9))
    k[4, 2:7] = [0.1, 0.3, 0.2, 0.3, 0.1]
    y = fftconvolve(sharp, k, mode="valid")
    dom = Domain(y.shape, k.shape)
    x = np.zeros(dom.shape)
    x[: sharp.shape[0], : sharp.shape[1]] = sharp
    R, b = kernel_moments(dom, x, dom.embed(y), dom.embed(np.ones_like(y)))
    est, _ = kernel_descent(R, b, np.full_like(k, 1 / k.size), 1e-4, 300, projection)
    assert est.min() >= 0 and np.isclose(est.sum(), 1.0)
    assert np.abs(est - k).sum() < 0.25  # the Hessian ignores the frame border: not exact
