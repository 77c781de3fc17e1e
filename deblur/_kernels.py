"""All Numba-compiled hot loops of deblur.

Pure array functions: no validation (callers validate), outputs written in
place into arrays the caller owns. Under ``prange`` each thread writes only
its own rows, so no two threads touch the same element. Each kernel has a
plain numpy/scipy twin in ``tests/naive.py`` that the tests compare against.
"""

import numba
import numpy as np
from numba import prange

from . import _config

_jit = dict(cache=_config.CACHE, nogil=True, fastmath=_config.FASTMATH)
njit_serial = numba.njit(**_jit)
njit_parallel = numba.njit(parallel=True, **_jit)

# Regulariser codes (see deblur/regularizers.py).
REG_NONE, REG_TIKHONOV, REG_TV, REG_HYPER_LAPLACIAN = 0, 1, 2, 3


# --- convolution by a list of taps -------------------------------------------------


@njit_parallel
def conv_valid_taps(x, rows, cols, weights, out):
    """``out[i, j] = sum_t weights[t] * x[i + rows[t], j + cols[t]]``.

    With ``rows[t] = kh - 1 - a_t`` and ``cols[t] = kw - 1 - b_t`` for the
    non-zero taps ``k[a_t, b_t]`` this is the 'valid' convolution of ``x``
    with ``k``; ``out`` has shape ``(H - kh + 1, W - kw + 1)``.
    """
    n_out, w_out = out.shape
    for i in prange(n_out):
        orow = out[i]
        orow[:] = 0
        for t in range(weights.size):
            xrow = x[i + rows[t]]
            c0 = cols[t]
            w = weights[t]
            for j in range(w_out):
                orow[j] += w * xrow[c0 + j]


@njit_parallel
def corr_full_taps(r, rows, cols, weights, out):
    """Adjoint of :func:`conv_valid_taps`: the 'full' correlation.

    ``out[u, v] = sum_t weights[t] * r[u - rows[t], v - cols[t]]`` over the
    indices that fall inside ``r``; written as a gather so that each thread
    owns its output rows.
    """
    n_r, w_r = r.shape
    n_out = out.shape[0]
    for u in prange(n_out):
        orow = out[u]
        orow[:] = 0
        for t in range(weights.size):
            i = u - rows[t]
            if i < 0 or i >= n_r:
                continue
            rrow = r[i]
            c0 = cols[t]
            w = weights[t]
            for j in range(w_r):
                orow[c0 + j] += w * rrow[j]


# --- regularisers -------------------------------------------------------------------


@njit_serial
def _penalty(s, kind, eps, p):
    """rho(s) and 2*rho'(s) of the penalty on the squared gradient magnitude s."""
    s = float(s)
    if kind == REG_TIKHONOV:
        return s, 2.0
    if kind == REG_TV:
        root = np.sqrt(s + eps * eps)
        return root - eps, 1.0 / root
    # hyper-Laplacian (s + eps^2)^(p/2), shifted to 0 at s = 0
    base = s + eps * eps
    powered = base ** (0.5 * p)
    return powered - eps**p, p * powered / base


@njit_parallel
def regularizer_value_grad(x, kind, eps, p, scale, grad, accumulate, chunk_rows):
    """Value of ``R(x) = sum rho(|Dx|^2)`` and, in ``grad``, ``scale * dR/dx``.

    ``D`` is the forward difference (zero at the last row/column). The
    gradient is ``D^T (2 rho'(s) D x)``. ``accumulate`` adds to ``grad``
    instead of overwriting it. Rows are split into chunks, one per work item;
    each chunk recomputes the vertical weights of the row above it so that
    threads never write the same row.
    """
    n, m = x.shape
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    partial = np.zeros(n_chunks)
    for c in prange(n_chunks):
        r0 = c * chunk_rows
        r1 = min(n, r0 + chunk_rows)
        wy_prev = np.zeros(m, dtype=x.dtype)
        wx = np.zeros(m, dtype=x.dtype)
        wy = np.zeros(m, dtype=x.dtype)
        if r0 > 0:  # vertical weights of the row above the chunk
            for j in range(m):
                gx = float(x[r0 - 1, j + 1]) - x[r0 - 1, j] if j + 1 < m else 0.0
                gy = float(x[r0, j]) - x[r0 - 1, j]
                _, w2 = _penalty(gx * gx + gy * gy, kind, eps, p)
                wy_prev[j] = w2 * gy
        total = 0.0
        for i in range(r0, r1):
            for j in range(m):
                gx = float(x[i, j + 1]) - x[i, j] if j + 1 < m else 0.0
                gy = float(x[i + 1, j]) - x[i, j] if i + 1 < n else 0.0
                rho, w2 = _penalty(gx * gx + gy * gy, kind, eps, p)
                total += rho
                wx[j] = w2 * gx
                wy[j] = w2 * gy
            for j in range(m):
                g = wy_prev[j] - wy[j] - wx[j]
                if j > 0:
                    g += wx[j - 1]
                if accumulate:
                    grad[i, j] += scale * g
                else:
                    grad[i, j] = scale * g
            for j in range(m):
                wy_prev[j] = wy[j]
        partial[c] = total
    return partial.sum()


@njit_parallel
def regularizer_value(x, kind, eps, p):
    """``R(x)`` alone (no gradient), for line searches and cost checks."""
    n, m = x.shape
    total = 0.0
    for i in prange(n):
        row = 0.0
        for j in range(m):
            gx = float(x[i, j + 1]) - x[i, j] if j + 1 < m else 0.0
            gy = float(x[i + 1, j]) - x[i, j] if i + 1 < n else 0.0
            rho, _ = _penalty(gx * gx + gy * gy, kind, eps, p)
            row += rho
        total += row
    return total


# --- fused vector operations of the solver ------------------------------------------


@njit_parallel
def extrapolate(x, x_prev, beta, out):
    """``out = x + beta * (x - x_prev)`` (also for the blurred images ``Ax``)."""
    n, m = x.shape
    for i in prange(n):
        for j in range(m):
            out[i, j] = x[i, j] + beta * (x[i, j] - x_prev[i, j])


@njit_parallel
def subtract_inplace_half_sq(a, y):
    """``a -= y`` and return ``0.5 * ||a||^2`` (the data term from ``Ax``)."""
    n, m = a.shape
    total = 0.0
    for i in prange(n):
        row = 0.0
        for j in range(m):
            d = a[i, j] - y[i, j]
            a[i, j] = d
            row += d * d
        total += row
    return 0.5 * total


@njit_parallel
def half_sq_diff(a, y):
    """``0.5 * ||a - y||^2``."""
    n, m = a.shape
    total = 0.0
    for i in prange(n):
        row = 0.0
        for j in range(m):
            d = a[i, j] - y[i, j]
            row += d * d
        total += row
    return 0.5 * total


@njit_parallel
def scale_by_mask(r, mask, factor):
    """``r *= mask * factor``: the stochastic variants' unbiased sub-sampling."""
    n, m = r.shape
    for i in prange(n):
        for j in range(m):
            r[i, j] = r[i, j] * factor if mask[i, j] else 0.0


@njit_parallel
def descent_step(z, g, eta, x, x_prev, delta, lo, hi, clip, out):
    """``out = P(z - eta * g + delta * (x - x_prev))``, P the box [lo, hi] when ``clip``.

    ``delta`` is the heavy-ball momentum (0 otherwise). ``out`` may alias
    ``x_prev`` but not ``z``, ``g`` or ``x``.
    """
    n, m = z.shape
    for i in prange(n):
        for j in range(m):
            v = z[i, j] - eta * g[i, j]
            if delta != 0.0:
                v += delta * (x[i, j] - x_prev[i, j])
            if clip:
                v = min(max(v, lo), hi)
            out[i, j] = v


@njit_parallel
def dot(a, b):
    """``sum(a * b)`` accumulated in float64."""
    n, m = a.shape
    total = 0.0
    for i in prange(n):
        row = 0.0
        for j in range(m):
            row += float(a[i, j]) * float(b[i, j])
        total += row
    return total


@njit_parallel
def diff_dot(a, b, g):
    """``sum((a - b) * g)`` and ``sum((a - b)^2)``, for Armijo and Barzilai-Borwein."""
    n, m = a.shape
    dg = 0.0
    dd = 0.0
    for i in prange(n):
        row_dg = 0.0
        row_dd = 0.0
        for j in range(m):
            d = float(a[i, j]) - float(b[i, j])
            row_dg += d * float(g[i, j])
            row_dd += d * d
        dg += row_dg
        dd += row_dd
    return dg, dd


@njit_parallel
def all_finite(a):
    """True when no element is NaN or Inf."""
    n, m = a.shape
    bad = 0
    for i in prange(n):
        for j in range(m):
            v = a[i, j]
            if not (v - v == 0.0):
                bad += 1
    return bad == 0
