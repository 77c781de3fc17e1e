"""Numba loops of the regularisers: ``R(x) = sum rho(|D x|^2)`` and its gradient.

``D`` is the forward difference; ``rho`` the Tikhonov, TV or
hyper-Laplacian penalty, by code (see :mod:`deblur.regularizers`).
Conventions as in :mod:`deblur._kernels`.
"""

import numpy as np
from numba import prange

from ._fastpow import pow_row
from ._kernels_jit import njit_parallel, njit_serial

# Regulariser codes (see deblur/regularizers.py).
REG_NONE, REG_TIKHONOV, REG_TV, REG_HYPER_LAPLACIAN = 0, 1, 2, 3


# --- regularisers -------------------------------------------------------------------


def penalty_params(eps, p, dtype):
    """Constants of the penalties in the working dtype, so float32 images get float32 maths.

    The last entry is 1 where the hyper-Laplacian's power may be taken by
    :func:`deblur._fastpow.pow_row` (float32, ``eps^2`` a normal number).
    """
    fast = np.dtype(dtype) == np.float32 and eps * eps >= np.finfo(np.float32).tiny
    return np.array([eps, eps * eps, p, 0.5 * p, eps**p if p > 0 else 0.0, 1.0 if fast else 0.0], dtype=dtype)


@njit_serial
def _penalty_row(gx, gy, kind, params, wx, wy, scratch):
    """Penalty of one row of gradients: returns sum rho(s) and sets ``w = 2 rho'(s) * g``.

    ``s = gx^2 + gy^2``; ``params`` from :func:`penalty_params`; ``scratch``
    three more rows. The branch on ``kind`` sits outside the loops so each
    loop vectorises.
    """
    m = gx.size
    total = 0.0
    eps, eps2, p, half_p, offset = params[0], params[1], params[2], params[3], params[4]
    if kind == REG_TIKHONOV:
        for j in range(m):
            total += gx[j] * gx[j] + gy[j] * gy[j]
            wx[j] = 2 * gx[j]
            wy[j] = 2 * gy[j]
    elif kind == REG_TV:
        for j in range(m):
            root = np.sqrt(gx[j] * gx[j] + gy[j] * gy[j] + eps2)
            total += root - eps
            wx[j] = gx[j] / root
            wy[j] = gy[j] / root
    elif params[5] != 0:  # hyper-Laplacian, the power in vector arithmetic
        base, mant, expo = scratch[0], scratch[1], scratch[2]
        for j in range(m):
            base[j] = gx[j] * gx[j] + gy[j] * gy[j] + eps2
        pow_row(base, half_p, mant, expo, wx)
        for j in range(m):
            powered = wx[j]
            total += powered - offset
            w2 = p * powered / base[j]
            wx[j] = w2 * gx[j]
            wy[j] = w2 * gy[j]
    else:  # hyper-Laplacian (s + eps^2)^(p/2), shifted to 0 at s = 0
        for j in range(m):
            base = gx[j] * gx[j] + gy[j] * gy[j] + eps2
            powered = base**half_p
            total += powered - offset
            w2 = p * powered / base
            wx[j] = w2 * gx[j]
            wy[j] = w2 * gy[j]
    return total


@njit_serial
def _row_gradients(x, i, gx, gy):
    """Forward differences of row ``i`` (zero at the last column and row)."""
    n, m = x.shape
    row = x[i, :m]
    for j in range(m - 1):
        gx[j] = row[j + 1] - row[j]
    gx[m - 1] = 0.0
    if i + 1 < n:
        below = x[i + 1, :m]
        for j in range(m):
            gy[j] = below[j] - row[j]
    else:
        gy[:] = 0.0


@njit_parallel
def regularizer_value_grad(x, kind, params, scale, grad, accumulate, chunk_rows):
    """Value of ``R(x) = sum rho(|Dx|^2)`` and, in ``grad``, ``scale * dR/dx``.

    ``D`` is the forward difference (zero at the last row/column). The
    gradient is ``D^T w`` with ``w = 2 rho'(s) D x``. ``accumulate`` adds to
    ``grad`` instead of overwriting it. Rows are split into chunks, one per
    work item; each chunk recomputes the weights of the row above it so that
    threads never write the same row.
    """
    n, m = x.shape
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    partial = np.zeros(n_chunks)
    for c in prange(n_chunks):
        r0 = c * chunk_rows
        r1 = min(n, r0 + chunk_rows)
        gx = np.empty(m, dtype=x.dtype)
        gy = np.empty(m, dtype=x.dtype)
        wx = np.empty(m, dtype=x.dtype)
        wy = np.empty(m, dtype=x.dtype)
        wy_prev = np.zeros(m, dtype=x.dtype)
        scratch = np.empty((3, m), dtype=x.dtype)
        if r0 > 0:  # vertical weights of the row above the chunk
            _row_gradients(x, r0 - 1, gx, gy)
            _penalty_row(gx, gy, kind, params, wx, wy_prev, scratch)
        total = 0.0
        for i in range(r0, r1):
            _row_gradients(x, i, gx, gy)
            total += _penalty_row(gx, gy, kind, params, wx, wy, scratch)
            out = grad[i, :m]
            if accumulate:
                out[0] += scale * (wy_prev[0] - wy[0] - wx[0])
                for j in range(1, m):
                    out[j] += scale * (wy_prev[j] - wy[j] - wx[j] + wx[j - 1])
            else:
                out[0] = scale * (wy_prev[0] - wy[0] - wx[0])
                for j in range(1, m):
                    out[j] = scale * (wy_prev[j] - wy[j] - wx[j] + wx[j - 1])
            wy_prev[:] = wy
        partial[c] = total
    return partial.sum()


@njit_parallel
def regularizer_value(x, kind, params, chunk_rows):
    """``R(x)`` alone (no gradient), for line searches and cost checks."""
    n, m = x.shape
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    partial = np.zeros(n_chunks)
    for c in prange(n_chunks):
        gx = np.empty(m, dtype=x.dtype)
        gy = np.empty(m, dtype=x.dtype)
        wx = np.empty(m, dtype=x.dtype)
        wy = np.empty(m, dtype=x.dtype)
        scratch = np.empty((3, m), dtype=x.dtype)
        total = 0.0
        for i in range(c * chunk_rows, min(n, (c + 1) * chunk_rows)):
            _row_gradients(x, i, gx, gy)
            total += _penalty_row(gx, gy, kind, params, wx, wy, scratch)
        partial[c] = total
    return partial.sum()
