"""Numba loops of the blur engines: the 'valid' convolution and its adjoint.

By a list of taps (any sparse kernel) and by two passes of taps (a rank-1
kernel); the FFT engine is :mod:`deblur.spectral`. The forward loops also
return the data term ``0.5 ||A x - y||^2`` when given ``y``. Conventions as
in :mod:`deblur._kernels`.
"""

import numpy as np
from numba import prange

from ._kernels_jit import njit_parallel, njit_serial


# --- convolution by a list of taps -------------------------------------------------


@njit_parallel
def conv_valid_taps(x, rows, cols, weights, out, y=None):
    """``out[i, j] = sum_t weights[t] * x[i + rows[t], j + cols[t]]``.

    With ``rows[t] = kh - 1 - a_t`` and ``cols[t] = kw - 1 - b_t`` for the
    non-zero taps ``k[a_t, b_t]`` this is the 'valid' convolution of ``x``
    with ``k``; ``out`` has shape ``(H - kh + 1, W - kw + 1)``. With an
    observation ``y`` it returns ``0.5 ||out - y||^2``, formed on each row
    while it is in cache (the line search's data term without a pass of its
    own); else 0.
    """
    n_out, w_out = out.shape
    total = 0.0
    for i in prange(n_out):
        # A fresh accumulator and explicit-length slices let LLVM prove the
        # rows do not alias and vectorise the inner loop (4x faster).
        acc = np.zeros(w_out, dtype=out.dtype)
        for t in range(weights.size):
            xrow = x[i + rows[t], cols[t] : cols[t] + w_out]
            w = weights[t]
            for j in range(w_out):
                acc[j] += w * xrow[j]
        out[i, :] = acc
        if y is not None:
            total += _row_half_sq(acc, y[i, :w_out])
    return total


@njit_serial
def _row_half_sq(acc, yrow):
    """``0.5 * sum (acc - yrow)^2`` of one row, accumulated in float64."""
    row = 0.0
    for j in range(acc.size):
        d = acc[j] - yrow[j]
        row += d * d
    return 0.5 * row


@njit_parallel
def corr_full_taps(r, rows, cols, weights, out):
    """Adjoint of :func:`conv_valid_taps`: the 'full' correlation.

    ``out[u, v] = sum_t weights[t] * r[u - rows[t], v - cols[t]]`` over the
    indices that fall inside ``r``; written as a gather so that each thread
    owns its output rows.
    """
    n_r, w_r = r.shape
    n_out, w_out = out.shape
    for u in prange(n_out):
        acc = np.zeros(w_out, dtype=out.dtype)
        for t in range(weights.size):
            i = u - rows[t]
            if i < 0 or i >= n_r:
                continue
            rrow = r[i, :w_r]
            dest = acc[cols[t] : cols[t] + w_r]
            w = weights[t]
            for j in range(w_r):
                dest[j] += w * rrow[j]
        out[u, :] = acc


@njit_parallel
def conv_valid_separable(x, col_rows, col_weights, row_cols, row_weights, out, y=None):
    """'Valid' convolution with a rank-1 kernel, one output row at a time.

    ``out = R(C x)`` with ``C`` the column taps (as :func:`conv_valid_taps`
    with ``cols = 0``) and ``R`` the row taps (``rows = 0``). Each output row
    combines its source rows into a scratch row first, so no intermediate
    image is ever stored. ``y``: as for :func:`conv_valid_taps`.
    """
    n_out, w_out = out.shape
    w_x = x.shape[1]
    total = 0.0
    for i in prange(n_out):
        mid = np.zeros(w_x, dtype=out.dtype)
        for t in range(col_weights.size):
            xrow = x[i + col_rows[t], :w_x]
            w = col_weights[t]
            for j in range(w_x):
                mid[j] += w * xrow[j]
        acc = np.zeros(w_out, dtype=out.dtype)
        for c in range(row_weights.size):
            src = mid[row_cols[c] : row_cols[c] + w_out]
            w = row_weights[c]
            for j in range(w_out):
                acc[j] += w * src[j]
        out[i, :] = acc
        if y is not None:
            total += _row_half_sq(acc, y[i, :w_out])
    return total


@njit_parallel
def corr_full_separable(r, col_rows, col_weights, row_cols, row_weights, out):
    """Adjoint of :func:`conv_valid_separable`: ``out = C^T (R^T r)``, computed as ``R^T (C^T r)``.

    The two passes act on different axes and commute, so each output row
    first gathers the column taps of ``r`` into a scratch row and then
    spreads it along the row.
    """
    n_r, w_r = r.shape
    n_out, w_out = out.shape
    for u in prange(n_out):
        mid = np.zeros(w_r, dtype=out.dtype)
        for t in range(col_weights.size):
            i = u - col_rows[t]
            if i < 0 or i >= n_r:
                continue
            rrow = r[i, :w_r]
            w = col_weights[t]
            for j in range(w_r):
                mid[j] += w * rrow[j]
        acc = np.zeros(w_out, dtype=out.dtype)
        for c in range(row_weights.size):
            dest = acc[row_cols[c] : row_cols[c] + w_r]
            w = row_weights[c]
            for j in range(w_r):
                dest[j] += w * mid[j]
        out[u, :] = acc
