"""Estimating a large photo's kernel at a reduced scale.

A 12-48 MP photo's shake is 50-150 px long, and its pixels are finer than its
detail (optics, demosaicing and the phone's processing soften the top octave).
At full scale both hurt the estimate: the kernel is beyond the sizes the
coarse-to-fine estimation handles well, a 1 MP window holds a small part of the
frame, and the power-law scene model of the spectrum check fails on the soft
top octave (on ``benchmarks/large_photo.py`` even the true kernel was refused
there). Means of ``s`` x ``s`` pixels make the shake ``s`` times shorter and the
photo's spectrum natural again; the kernel estimated there is enlarged back by
``s`` (Fergus et al. 2006 estimate coarse to fine for the same reason).
"""

import math

import numpy as np

from .support import centre_shift, extent, fit_support, odd, resample_kernel, shift_kernel

__all__ = ["reduction", "block_mean", "block_min", "enlarge_kernel"]


def reduction(shape, scale_above):
    """Integer factor ``s`` to estimate a photo of ``shape`` at: ``ceil(sqrt(pixels / scale_above))``, 1 at most that size."""
    if scale_above is None:
        return 1
    pixels = int(shape[0]) * int(shape[1])
    if pixels <= scale_above:
        return 1
    return int(math.ceil(math.sqrt(pixels / float(scale_above))))


def _blocks(a, s):
    h, w = (a.shape[0] // s) * s, (a.shape[1] // s) * s
    return a[:h, :w].reshape(h // s, s, w // s, s)


def block_mean(y, s):
    """Means of ``s`` x ``s`` pixels (the last rows/columns that do not fill a block dropped)."""
    return np.ascontiguousarray(_blocks(np.asarray(y, dtype=np.float64), s).mean(axis=(1, 3)))


def block_min(weights, s):
    """Data weights of the reduced photo: a block holding a left-out pixel (weight 0) is left out."""
    return np.ascontiguousarray(_blocks(np.asarray(weights, dtype=np.float64), s).min(axis=(1, 3)))


def enlarge_kernel(k, s, size=None):
    """A kernel estimated on means of ``s`` x ``s`` pixels, back at full scale.

    Resampled ``s`` times larger (bilinear), non-negative, sum 1, recentred on its
    centre of mass; ``size`` given: that side, else cropped to its extent plus 2 taps.
    """
    side = odd(size if size is not None else s * k.shape[0])
    out = resample_kernel(k, float(s), side)
    out = shift_kernel(out, centre_shift(out))
    if size is None:
        out = fit_support(out, min(side, odd(2 * (extent(out) + 2) + 1)))
    return out / out.sum()
