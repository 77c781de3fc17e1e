"""Numba hot loops of the blind estimation (:mod:`deblur.blind`).

Pure array functions, no validation; outputs are written into arrays the
caller owns, serial loops. Reductions
accumulate in float64. Every kernel has a numpy twin in
``tests/test_blind_kernels.py`` that the tests compare against. Compile
flags come from :mod:`deblur._config`.
"""

import numba
import numpy as np

from . import _config

_jit = dict(cache=_config.CACHE, nogil=True, fastmath=_config.FASTMATH)
# Serial on purpose: these loops are memory-bound and run between FFTs that
# already use both cores; a parallel region per call costs more than it saves
# (and far more when the machine is oversubscribed).
_njit = numba.njit(**_jit)

__all__ = ["l0_split", "spectral_direction", "masked_sq_sum", "axpy", "masked_copy"]


@_njit
def l0_split(x, threshold, out):
    """Gradient step of the L0 splitting, fused with the adjoint.

    With periodic forward differences ``gx = x[i, j+1] - x[i, j]``, ``gy = x[i+1, j] - x[i, j]``,
    keep ``(gx, gy)`` where ``gx^2 + gy^2 >= threshold`` (else 0) and write
    ``out = D^T g`` (``gx[i, j-1] - gx[i, j] + gy[i-1, j] - gy[i, j]``).
    Returns the number of kept gradients.
    """
    n, m = x.shape
    kept = 0
    for i in range(n):
        ip = i + 1 if i + 1 < n else 0
        im = i - 1 if i > 0 else n - 1
        ipm = i  # row of the (i-1) pixel's forward y-difference target is i
        count = 0
        for j in range(m):
            jp = j + 1 if j + 1 < m else 0
            jm = j - 1 if j > 0 else m - 1
            # gradient at (i, j)
            gx0 = x[i, jp] - x[i, j]
            gy0 = x[ip, j] - x[i, j]
            if gx0 * gx0 + gy0 * gy0 < threshold:
                gx0 = 0.0
                gy0 = 0.0
            else:
                count += 1
            # gradient at (i, j-1): needs its own y-difference for the test
            gxl = x[i, j] - x[i, jm]
            gyl = x[ip, jm] - x[i, jm]
            if gxl * gxl + gyl * gyl < threshold:
                gxl = 0.0
            # gradient at (i-1, j)
            gxu = x[im, jp] - x[im, j]
            gyu = x[ipm, j] - x[im, j]
            if gxu * gxu + gyu * gyu < threshold:
                gyu = 0.0
            out[i, j] = (gxl - gx0) + (gyu - gy0)
        kept += count
    return kept


@_njit
def spectral_direction(kf, f1, kty, xf, dtg, dd, beta, n_cols, d_hat):
    """Preconditioned descent direction of the latent sub-problem, in the Fourier domain.

    ``g = conj(kf) f1 - kty + beta (dd xf - dtg)`` (half the gradient of
    ``||W(MKx - y)||^2 + beta ||Dx - g||^2``), ``d_hat = -g / (|kf|^2 + beta dd)``.
    Returns ``(-<g, d>, <D d, D d>)`` as real inner products of the full grids
    (``n_cols`` columns; the arrays hold the ``rfft2`` half).
    """
    n, m = kf.shape
    num = 0.0
    ener = 0.0
    last = m - 1 if n_cols % 2 == 0 else -1
    for i in range(n):
        row_num = 0.0
        row_ener = 0.0
        for j in range(m):
            k = kf[i, j]
            g = np.conj(k) * f1[i, j] - kty[i, j] + beta * (dd[i, j] * xf[i, j] - dtg[i, j])
            p = 1.0 / (k.real * k.real + k.imag * k.imag + beta * dd[i, j])
            d = -p * g
            d_hat[i, j] = d
            w = 1.0 if (j == 0 or j == last) else 2.0
            row_num += w * (g.real * d.real + g.imag * d.imag)
            row_ener += w * dd[i, j] * (d.real * d.real + d.imag * d.imag)
        num += row_num
        ener += row_ener
    scale = 1.0 / (n * n_cols)
    return -num * scale, ener * scale


@_njit
def masked_sq_sum(mask, a):
    """``sum(mask * a * a)``."""
    n, m = a.shape
    total = 0.0
    for i in range(n):
        s = 0.0
        for j in range(m):
            v = a[i, j]
            s += mask[i, j] * v * v
        total += s
    return total


@_njit
def axpy(y, alpha, x):
    """``y += alpha * x`` in place (real or complex arrays of the same shape)."""
    n, m = y.shape
    for i in range(n):
        for j in range(m):
            y[i, j] += alpha * x[i, j]


@_njit
def masked_copy(mask, a, out):
    """``out = mask * a``."""
    n, m = a.shape
    for i in range(n):
        for j in range(m):
            out[i, j] = mask[i, j] * a[i, j]
