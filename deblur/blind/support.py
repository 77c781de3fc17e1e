"""Kernel support: automatic size, clean-up, centring, resampling between levels."""

import math

import numpy as np
from scipy import ndimage

__all__ = ["auto_size", "odd", "delta", "cleanup", "centre_shift", "shift_kernel", "extent", "fit_support", "internal_support", "crop_centred"]


def odd(n):
    """Smallest odd integer >= n (and >= 1)."""
    n = max(1, int(math.ceil(n)))
    return n if n % 2 else n + 1


def auto_size(shape, max_size=75):
    """Automatic kernel support for an image of ``shape``: 12 % of its shorter side.

    Odd, at least 7 and at most ``max_size`` (75 px: the blur of a phone photo at
    a slow shutter speed). With ``size=None`` the estimation starts from this
    support and then shrinks it level by level to the kernel's extent.
    """
    return int(min(odd(max_size) if max_size % 2 else max_size - 1, uncapped_size(shape)))


def uncapped_size(shape):
    """The rule of :func:`auto_size` without its cap: 12 % of the shorter side, odd, at least 7."""
    return max(7, odd(0.12 * min(shape)))


def delta(size):
    """A centred unit impulse of side ``size``."""
    k = np.zeros((size, size))
    k[size // 2, size // 2] = 1.0
    return k


def cleanup(k, threshold=0.05, min_component=0.05):
    """Zero taps below ``threshold * max``, drop connected pieces (8-connected)
    holding less than ``min_component`` of the mass, renormalise to sum 1."""
    k = np.where(k >= threshold * k.max(), k, 0.0)
    if min_component > 0:
        labels, n = ndimage.label(k > 0, structure=np.ones((3, 3)))
        if n > 1:
            mass = ndimage.sum(k, labels, index=np.arange(1, n + 1))
            keep = np.zeros(n + 1, dtype=bool)
            keep[1:] = mass >= min_component * mass.sum()
            keep[1 + int(np.argmax(mass))] = True
            k = np.where(keep[labels], k, 0.0)
    return k / k.sum()


def centre_shift(k):
    """Integer shift ``(dy, dx)`` that brings the centre of mass of ``k`` to its centre tap."""
    kh, kw = k.shape
    total = k.sum()
    cy = float((k.sum(axis=1) * np.arange(kh)).sum() / total)
    cx = float((k.sum(axis=0) * np.arange(kw)).sum() / total)
    return int(round(kh // 2 - cy)), int(round(kw // 2 - cx))


def shift_kernel(k, shift):
    """Shift the taps of ``k`` by ``shift`` (taps pushed outside are dropped)."""
    dy, dx = shift
    if dy == 0 and dx == 0:
        return k
    out = np.zeros_like(k)
    kh, kw = k.shape
    src = k[max(0, -dy) : kh - max(0, dy), max(0, -dx) : kw - max(0, dx)]
    out[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return out


def extent(k, fraction=0.0):
    """Largest distance (in taps, Chebyshev) of a tap above ``fraction * max`` from the centre."""
    kh, kw = k.shape
    ys, xs = np.nonzero(k > fraction * k.max())
    return int(max(np.abs(ys - kh // 2).max(), np.abs(xs - kw // 2).max()))


def fit_support(k, size):
    """Crop or zero-pad ``k`` (odd, centred) to ``size`` x ``size`` around its centre."""
    kh, kw = k.shape
    out = np.zeros((size, size))
    r = size // 2
    for_rows = [(i, i - kh // 2 + r) for i in range(kh) if 0 <= i - kh // 2 + r < size]
    for_cols = [(j, j - kw // 2 + r) for j in range(kw) if 0 <= j - kw // 2 + r < size]
    si = [a for a, _ in for_rows]
    di = [b for _, b in for_rows]
    sj = [a for a, _ in for_cols]
    dj = [b for _, b in for_cols]
    out[np.ix_(di, dj)] = k[np.ix_(si, sj)]
    s = out.sum()
    return out / s if s > 0 else delta(size)


def resample_kernel(k, scale, size):
    """Resample a centred kernel by ``scale`` (>1 enlarges) onto a ``size`` x ``size`` grid.

    Bilinear interpolation about the centre tap; non-negative, sum 1.
    """
    kh, kw = k.shape
    r = size // 2
    u = (np.arange(size) - r) / scale
    yy = u[:, None] + kh // 2
    xx = u[None, :] + kw // 2
    out = ndimage.map_coordinates(k, [np.broadcast_to(yy, (size, size)), np.broadcast_to(xx, (size, size))], order=1, mode="constant")
    out = np.maximum(out, 0.0)
    s = out.sum()
    return out / s if s > 0 else delta(size)


def internal_support(size, shape, scale=1.4, start=41):
    """Support to estimate a kernel of side ``size`` on: ``scale`` times larger (odd) when
    ``size >= start``, at most the largest odd side that fits the image ``shape``.

    Each kernel step recentres the estimate on its centre of mass; for a kernel
    as large as its support (a 75 px camera path that starts at one corner) that
    pushes its tail out of the support. A margin keeps it in; :func:`crop_centred`
    then returns the requested size.
    """
    if scale <= 1 or size < start:
        return size
    cap = min(shape)
    cap = cap if cap % 2 else cap - 1
    return max(size, min(odd(scale * size), cap))


def crop_centred(k, size):
    """Crop (or pad) a kernel to ``size`` x ``size`` around its centre of mass.

    Non-negative, sums to 1, and recentred after the crop so its centre of mass
    lies within half a tap of ``(size // 2, size // 2)``.
    """
    out = fit_support(shift_kernel(k, centre_shift(k)), size)
    out = shift_kernel(out, centre_shift(out))
    s = out.sum()
    return out / s if s > 0 else delta(size)
