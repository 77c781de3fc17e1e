"""Latent-image step: sharp-edge latent under an L0 gradient prior.

Minimises, for a fixed kernel ``k``,

    ||W (M (k (*) x) - y)||^2 + lam * ||grad x||_0

by half-quadratic splitting (Xu, Zheng and Jia, CVPR 2013; Pan, Hu, Su and
Yang, CVPR 2014): an auxiliary gradient field ``g`` and a weight ``beta``
growing from ``2 lam`` to ``beta_max`` by a factor ``kappa``. For each beta,

- the ``g`` step is exact: ``g = grad x`` where ``|grad x|^2 >= lam / beta``, else 0;
- the ``x`` step minimises the quadratic ``||W(MKx - y)||^2 + beta ||grad x - g||^2``
  by gradient descent preconditioned with ``1 / (|K|^2 + beta |D|^2)`` (the exact
  inverse Hessian of the periodic problem without mask) and an exact line search.

``M`` keeps the observed window of the periodic grid (the ``valid`` model, see
:mod:`deblur.blind.fourier`) and ``W`` (0/1) drops clipped highlights (Cho, Wang
and Lee, ICCV 2011), so the latent may exceed 1 where the photo saturated.
"""

import numpy as np

from .. import _blind_kernels as _bk
from .fourier import grad, grad_adjoint

__all__ = ["l0_latent", "rdot"]


def rdot(a_hat, b_hat, n_cols):
    """Real inner product ``<a, b>`` of two real grids from their ``rfft2`` halves."""
    w = np.full(a_hat.shape[1], 2.0)
    w[0] = 1.0
    if n_cols % 2 == 0:
        w[-1] = 1.0
    prod = (a_hat.real * b_hat.real + a_hat.imag * b_hat.imag) * w
    return float(prod.sum()) / (a_hat.shape[0] * n_cols)


def l0_latent(dom, y_grid, mask, k, x, lam, beta_max=1e5, kappa=2.0, steps=1):
    """Run one half-quadratic splitting sweep from ``x``; return the new latent (float32).

    Parameters
    ----------
    dom : Domain
        The level's grid.
    y_grid : ndarray
        Observation embedded in the grid, already multiplied by ``mask``.
    mask : ndarray
        0/1 weights on the grid (the window times the unclipped pixels).
    k : ndarray
        Current kernel (convolution orientation).
    x : ndarray
        Starting latent on the grid (warm start).
    lam : float
        Weight of the L0 gradient prior.
    """
    f32 = np.float32
    n_cols = dom.shape[1]
    mask = np.ascontiguousarray(mask, dtype=f32)
    kf = dom.kernel_ft(np.asarray(k, dtype=f32))
    kty = np.conj(kf) * dom.rfft(np.asarray(y_grid, dtype=f32))
    dd = dom.dd.astype(f32)
    x = np.array(x, dtype=f32, copy=True)
    xf = dom.rfft(x)
    kx = dom.irfft(kf * xf)
    adj = np.empty_like(x)
    wkx = np.empty_like(x)
    d_hat = np.empty_like(xf)
    beta = 2.0 * lam
    while beta < beta_max:
        _bk.l0_split(x, f32(lam / beta), adj)
        dtg = dom.rfft(adj)
        for _ in range(steps):
            _bk.masked_copy(mask, kx, wkx)
            num, ener = _bk.spectral_direction(kf, dom.rfft(wkx), kty, xf, dtg, dd, beta, n_cols, d_hat)
            d = dom.irfft(d_hat)
            kd = dom.irfft(kf * d_hat)
            den = _bk.masked_sq_sum(mask, kd) + beta * ener
            if not (den > 0 and num > 0):
                break
            alpha = num / den
            _bk.axpy(x, f32(alpha), d)
            _bk.axpy(xf, np.complex64(alpha), d_hat)
            _bk.axpy(kx, f32(alpha), kd)
        beta *= kappa
    return x


def l0_latent_reference(dom, y_grid, mask, k, x, lam, beta_max=1e5, kappa=2.0, steps=1):
    """Plain numpy twin of :func:`l0_latent` (float64), for tests."""
    n_cols = dom.shape[1]
    kf = dom.kernel_ft(k)
    k2 = kf.real**2 + kf.imag**2
    kty = np.conj(kf) * dom.rfft(y_grid)
    x = np.array(x, dtype=np.float64, copy=True)
    xf = dom.rfft(x)
    kx = dom.irfft(kf * xf)
    beta = 2.0 * lam
    while beta < beta_max:
        gx, gy = grad(x)
        small = gx * gx + gy * gy < lam / beta
        gx[small] = 0.0
        gy[small] = 0.0
        dtg = dom.rfft(grad_adjoint(gx, gy))
        precond = 1.0 / (k2 + beta * dom.dd)
        for _ in range(steps):
            g_hat = np.conj(kf) * dom.rfft(mask * kx) - kty + beta * (dom.dd * xf - dtg)
            d_hat = -precond * g_hat
            d = dom.irfft(d_hat)
            kd = dom.irfft(kf * d_hat)
            num = -rdot(g_hat, d_hat, n_cols)
            den = float(np.sum(mask * kd * kd)) + beta * rdot(dom.dd * d_hat, d_hat, n_cols)
            if not (den > 0 and num > 0):
                break
            alpha = num / den
            x += alpha * d
            xf += alpha * d_hat
            kx += alpha * kd
        beta *= kappa
    return x


def latent_cost(dom, y_grid, mask, k, x, lam, threshold):
    """``(data, prior)``: ``0.5 ||W(MKx - y)||^2`` and ``lam * #{|grad x|^2 >= threshold}``."""
    kx = dom.irfft(dom.kernel_ft(np.asarray(k, dtype=x.dtype)) * dom.rfft(x))
    r = mask * kx - y_grid
    gx, gy = grad(x)
    return 0.5 * float(np.sum(r.astype(np.float64) ** 2)), lam * float(np.count_nonzero(gx * gx + gy * gy >= threshold))
