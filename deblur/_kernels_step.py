"""Numba loops of the descent step: fused vector operations of the solver.

Extrapolation, residual and data term, the blur of a step by linearity, sampling and censoring masks, the
box's held pixels, the projected step, dot products, the Fourier
preconditioner's multiplier, and the linear interpolation back from the colour differences' coarse grid. Conventions as in :mod:`deblur._kernels`.
"""

import numpy as np
from numba import prange

from ._kernels_jit import njit_parallel


# --- fused vector operations of the solver ------------------------------------------


@njit_parallel
def extrapolate(x, x_prev, beta, out):
    """``out = x + beta * (x - x_prev)`` (also for the blurred images ``Ax``); ``out`` may be ``x_prev``."""
    n, m = x.shape
    for i in prange(n):
        # row views: LLVM then vectorises the loop (12 MP: 6.0 -> 3.5 ms)
        xr, orow = x[i], out[i]
        if beta == 0.0:  # x_prev may hold scratch values: do not touch it
            orow[:] = xr
        else:
            pr = x_prev[i]
            for j in range(m):
                orow[j] = xr[j] + beta * (xr[j] - pr[j])


@njit_parallel
def residual_half_sq(a, a_prev, beta, y, out):
    """``out = a + beta * (a - a_prev) - y``; returns ``0.5 * ||out||^2``.

    The residual at the extrapolated point from the blurred iterates, in one
    pass (:func:`extrapolate`, then the residual and its half squared norm). ``out``
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
def blur_along(a, b, s, y, from_residual, out):
    """``out = a + s * b``, plus ``y`` when ``from_residual``; returns ``0.5 * ||out - y||^2``.

    The blur of a step along a direction from the blur ``b`` of the direction,
    by linearity: from the residual ``a = A z - y`` at the point (``s = -eta``),
    or from the blur ``a`` of an earlier step along it (``s`` the change of
    step). ``out`` may be ``a``.
    """
    n, m = a.shape
    total = 0.0
    for i in prange(n):
        ar, br, yr, orow = a[i], b[i], y[i], out[i]
        row = 0.0
        if from_residual:
            for j in range(m):
                d = ar[j] + s * br[j]
                orow[j] = d + yr[j]
                row += d * d
        else:
            for j in range(m):
                v = ar[j] + s * br[j]
                orow[j] = v
                d = v - yr[j]
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
def masked_half_sq_diff(a, y, mask, censored):
    """``0.5 * ||a - y||^2`` where ``mask`` is true; elsewhere the shortfall ``min(a - y, 0)``
    counts when ``censored`` (a clipped observation, see :func:`censor_by_mask`), nothing otherwise."""
    n, m = a.shape
    total = 0.0
    for i in prange(n):
        row = 0.0
        for j in range(m):
            d = a[i, j] - y[i, j]
            if not mask[i, j]:
                d = min(d, 0.0) if censored else 0.0
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
        zr, dr, xr, gr, orow = z[i], d[i], x[i], g[i], out[i]
        ar = active[i] if use_active else active[0]
        if delta == 0.0 and clip and use_active:
            # the default run's case in a loop of its own, without the
            # branches of the others (12 MP: 15 -> 12 ms; the same values)
            for j in range(m):
                free = ar[j] == 0
                v = zr[j] - eta * dr[j] if free else zr[j]
                c = min(max(v, lo), hi)
                row_clipped += c != v
                orow[j] = c
                row += np.float64(gr[j]) * (np.float64(c) - np.float64(xr[j])) if free else 0.0
        else:
            xpr = x_prev[i]
            for j in range(m):
                held = use_active and ar[j] != 0
                v = zr[j] if held else zr[j] - eta * dr[j]
                if delta != 0.0:
                    v += delta * (xr[j] - xpr[j])
                if clip:
                    c = min(max(v, lo), hi)
                    if c != v:
                        row_clipped += 1
                    v = c
                if not held:
                    row += np.float64(gr[j]) * (np.float64(v) - np.float64(xr[j]))
                orow[j] = v
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
def upsample_linear(x, out):
    """``out[i, j]``: ``x`` linearly interpolated at ``(i / 2, j / 2)``, beyond its last row and column replicated.

    The colour differences' way back from the coarse grid (:func:`deblur.coarse.upsample`), in one
    pass: rows first, then columns, each mean rounded as the two numpy passes rounded it.
    """
    n, m = out.shape
    last_row, last_col = x.shape[0] - 1, x.shape[1] - 1
    half = x.dtype.type(0.5)
    for i in prange(n):
        a = x[min(i // 2, last_row)]
        if i % 2:  # between two coarse rows: their mean, stored (fastmath may not fold it into the next)
            b = x[min(i // 2 + 1, last_row)]
            row = np.empty_like(a)
            for c in range(a.size):
                row[c] = half * (a[c] + b[c])
        else:
            row = a
        for j in range(m):
            c0 = min(j // 2, last_col)
            if j % 2:
                out[i, j] = half * (row[c0] + row[min(j // 2 + 1, last_col)])
            else:
                out[i, j] = row[c0]


@njit_parallel
def unclipped(image, level, out):
    """``out[i, j]``: no pixel of the 3 x 3 neighbourhood of ``(i, j)`` (within the frame) has a channel ``>= level``.

    ``image`` is ``(h, w, c)`` in its own units (``level`` too); the restore's
    data mask (:func:`deblur.clipped.restore_mask`) in one pass over the photo
    and one over the mask, where the channels' comparison, their ``any`` and a
    binary dilation took 0.4-0.7 s of a 12 MP restore.
    """
    h, w, c = image.shape
    hit = np.zeros((h, w), dtype=np.bool_)
    for i in prange(h):
        for j in range(w):
            for ch in range(c):
                if image[i, j, ch] >= level:
                    hit[i, j] = True
                    break
    for i in prange(h):
        i0, i1 = max(i - 1, 0), min(i + 2, h)
        for j in range(w):
            j0, j1 = max(j - 1, 0), min(j + 2, w)
            free = True
            for a in range(i0, i1):
                for b in range(j0, j1):
                    if hit[a, b]:
                        free = False
            out[i, j] = free
