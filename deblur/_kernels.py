"""All Numba-compiled hot loops of deblur.

Pure array functions: no validation (callers validate), outputs written in
place into arrays the caller owns. Under ``prange`` each thread writes only
its own rows, so no two threads touch the same element. Each kernel has a
plain numpy/scipy twin in ``tests/naive.py`` that the tests compare against.
"""

import functools
import os
import threading

# GNU OpenMP (the 'omp' threading layer of Numba's Linux wheels) spins while waiting for work by
# default. Measured on 2 cores, two processes each restoring at once (a batch with --jobs 2, a CI
# runner): 30 iterations on 512x512 took 0.8-2.9 s spinning against 0.11-0.34 s passive, and 40
# small 96x96 restores 9-60 s against 0.4-1.3 s; alone, 1024x1024 ran as fast either way (0.28-0.37
# s). It must be set before the OpenMP runtime loads (the first parallel call), so it is set here,
# once, and inherited by child processes; a user's own setting wins. Other layers ignore it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402  (after the environment is set)
import numpy as np  # noqa: E402
from numba import prange  # noqa: E402

from . import _config  # noqa: E402
from ._fastpow import pow_row  # noqa: E402

# error_model="numpy": a division by zero gives inf/nan instead of raising,
# which drops the per-element zero test that kept every loop with a division
# (the penalties, the preconditioner's multiplier) from vectorising.
_jit = dict(cache=_config.CACHE, nogil=True, fastmath=_config.FASTMATH, error_model="numpy")
njit_serial = numba.njit(**_jit)

# --- thread safety ------------------------------------------------------------------
# The kernels release the GIL, so several Python threads may call them at once. Numba runs
# the parallel ones on its threading layer, chosen at the first parallel call: TBB, else
# OpenMP, else 'workqueue' (or what NUMBA_THREADING_LAYER names). TBB and OpenMP take
# concurrent calls; 'workqueue', the only layer always present (macOS on ARM, Linux without
# libgomp, no `pip install tbb`), aborts the process on them ("Terminating: Nested parallel
# kernel launch detected"). So calls into the parallel kernels take turns behind one lock
# until the layer is known, and go on taking turns only if it is 'workqueue'.
# tests/test_threads.py checks this under each layer this machine has.
_launch_lock = threading.Lock()
_serialise = None  # None: layer not loaded yet; then True for 'workqueue', False otherwise


def _layer_needs_turns():
    if numba.config.DISABLE_JIT:  # plain Python loops: no threading layer at all
        return False
    try:
        return numba.threading_layer() == "workqueue"
    except ValueError:  # not loaded yet
        return None


def njit_parallel(function):
    """``numba.njit(parallel=True)``, called behind :data:`_launch_lock` when the
    threading layer cannot take concurrent calls (see above)."""
    kernel = numba.njit(parallel=True, **_jit)(function)

    @functools.wraps(function)
    def call(*args, **kwargs):
        global _serialise
        if _serialise is False:
            return kernel(*args, **kwargs)
        with _launch_lock:
            try:
                return kernel(*args, **kwargs)
            finally:
                if _serialise is None:
                    _serialise = _layer_needs_turns()

    call.dispatcher = kernel  # the compiled function itself (signatures, inspect_types, ...)
    return call


# Regulariser codes (see deblur/regularizers.py).
REG_NONE, REG_TIKHONOV, REG_TV, REG_HYPER_LAPLACIAN = 0, 1, 2, 3


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


# --- fused vector operations of the solver ------------------------------------------


@njit_parallel
def extrapolate(x, x_prev, beta, out):
    """``out = x + beta * (x - x_prev)`` (also for the blurred images ``Ax``); ``out`` may be ``x_prev``."""
    n, m = x.shape
    for i in prange(n):
        if beta == 0.0:  # x_prev may hold scratch values: do not touch it
            for j in range(m):
                out[i, j] = x[i, j]
        else:
            for j in range(m):
                out[i, j] = x[i, j] + beta * (x[i, j] - x_prev[i, j])


@njit_parallel
def residual_half_sq(a, a_prev, beta, y, out):
    """``out = a + beta * (a - a_prev) - y``; returns ``0.5 * ||out||^2``.

    The residual at the extrapolated point from the blurred iterates, in one
    pass (:func:`extrapolate` then :func:`subtract_inplace_half_sq`). ``out``
    may be ``a_prev``; with ``beta == 0`` ``a_prev`` is not read.
    """
    n, m = a.shape
    total = 0.0
    for i in prange(n):
        row = 0.0
        if beta == 0.0:
            for j in range(m):
                d = a[i, j] - y[i, j]
                out[i, j] = d
                row += d * d
        else:
            for j in range(m):
                d = a[i, j] + beta * (a[i, j] - a_prev[i, j]) - y[i, j]
                out[i, j] = d
                row += d * d
        total += row
    return 0.5 * total


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
def censor_by_mask(r, mask):
    """``r = min(r, 0)`` where ``mask`` is False: a clipped pixel says only that the
    scene reached the white level, so the model is penalised for falling short of
    it, never for going beyond (a censored observation)."""
    n, m = r.shape
    for i in prange(n):
        for j in range(m):
            if not mask[i, j] and r[i, j] > 0.0:
                r[i, j] = 0.0


@njit_parallel
def free_gradient(z, g, lo, hi, active):
    """Zero ``g`` where the box holds ``z`` (at or beyond a bound, the gradient pushing outward).

    Marks those pixels in ``active`` (1, else 0); returns how many there
    are, how many pixels of ``z`` lie outside the box, and ``||g||^2`` after
    the zeroing (the gradient norm without a pass of its own). Preconditioning only the rest keeps ``-P g`` a descent direction
    after the projection on the box (Bertsekas, "Projected Newton methods
    for optimization problems with simple constraints", SIAM J. Control
    Optim. 20, 1982): a non-diagonal ``P`` would otherwise carry the pull of
    the held pixels into their neighbours.
    """
    n, m = z.shape
    total = 0
    outside = 0
    norm_sq = 0.0
    for i in prange(n):
        row = 0
        row_outside = 0
        row_sq = 0.0
        for j in range(m):
            v = z[i, j]
            gj = g[i, j]
            held = (v <= lo and gj > 0) or (v >= hi and gj < 0)
            active[i, j] = held
            if held:
                gj = 0.0
                g[i, j] = gj
                row += 1
            if v < lo or v > hi:
                row_outside += 1
            row_sq += np.float64(gj) * np.float64(gj)
        total += row
        outside += row_outside
        norm_sq += row_sq
    return total, outside, norm_sq


@njit_parallel
def descent_step(z, d, eta, x, x_prev, delta, lo, hi, clip, g, out, active, use_active):
    """``out = P(z - eta * d + delta * (x - x_prev))``; returns ``<g, out - x>``.

    ``P`` is the box [lo, hi] when ``clip``; ``delta`` the heavy-ball
    momentum (0 otherwise). With ``use_active``, pixels marked in ``active``
    (see :func:`free_gradient`) take no step along ``d`` and add nothing to
    the product. Returns the product, which is the gradient restart test of
    O'Donoghue and Candes (2015): positive means the step went uphill along
    ``g``; and how many pixels the box clipped. ``out`` may alias ``x_prev``
    or ``z`` but not the others.
    """
    n, m = z.shape
    total = 0.0
    clipped = 0
    for i in prange(n):
        row = 0.0
        row_clipped = 0
        for j in range(m):
            held = use_active and active[i, j] != 0
            v = z[i, j] if held else z[i, j] - eta * d[i, j]
            if delta != 0.0:
                v += delta * (x[i, j] - x_prev[i, j])
            if clip:
                c = min(max(v, lo), hi)
                if c != v:
                    row_clipped += 1
                v = c
            if not held:
                row += np.float64(g[i, j]) * (np.float64(v) - np.float64(x[i, j]))
            out[i, j] = v
        total += row
        clipped += row_clipped
    return total, clipped


@njit_parallel
def scale_by_inverse_power(spec, kernel_spectrum, mu, row_power, col_power, delta):
    """``spec[i, j] /= |kernel_spectrum[i, j]|^2 + mu (row_power[i] + col_power[j]) + delta``, in place.

    The Fourier preconditioner's multiplier formed on the fly from the FFT
    engine's kernel spectrum, so that it needs no array of its own.
    """
    n, m = spec.shape
    for i in prange(n):
        base = mu * row_power[i] + delta
        for j in range(m):
            k = kernel_spectrum[i, j]
            spec[i, j] *= 1.0 / (k.real * k.real + k.imag * k.imag + mu * col_power[j] + base)


@njit_parallel
def dot(a, b):
    """``sum(a * b)`` accumulated in float64."""
    n, m = a.shape
    total = 0.0
    for i in prange(n):
        row = 0.0
        for j in range(m):
            row += np.float64(a[i, j]) * np.float64(b[i, j])
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
            d = np.float64(a[i, j]) - np.float64(b[i, j])
            row_dg += d * np.float64(g[i, j])
            row_dd += d * d
        dg += row_dg
        dd += row_dd
    return dg, dd


@njit_parallel
def copy_block(src, out):
    """``out[...] = src[:out.shape[0], :out.shape[1]]`` (crop of an FFT grid)."""
    n, m = out.shape
    for i in prange(n):
        for j in range(m):
            out[i, j] = src[i, j]
