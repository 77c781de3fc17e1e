"""The colour differences of the opponent basis restored on a grid twice as coarse.

The two colour differences of :mod:`deblur.color` are smooth (the eye
resolves colour far less finely than brightness, and cameras' demosaicing
and JPEG's chroma subsampling leave little colour detail at the pixel
scale), so they are restored at half the resolution and interpolated back:
a quarter of the pixels per iteration for two of the three channels.

Half the resolution of the model ``y = k * x + n``, sampled at the even
pixels after the tent filter ``t = [1/4, 1/2, 1/4]`` along each axis:

- observation ``y2 = (t * y)[::2, ::2]``;
- kernel ``k2 = (t * k)`` sampled every second tap around its centre (so a
  delta stays a delta at the same place), renormalised;
- weight: with ``x = U x2`` (``U`` the linear interpolation back), the
  image gradients are half as steep on the coarse grid and there are a
  quarter as many pixels, as for the data term; so the penalty
  ``sum |grad x|^p`` keeps its balance with the data at ``lambda 2^-p``
  (``p`` 2 for Tikhonov, 1 for TV);
- a pixel left out of the data term (clipped) leaves out every coarse pixel
  whose tent reaches it.

benchmarks/quality.py (24 cases of 256 x 256, 10 in colour) and
benchmarks/large_photo.py measure what it costs and gains (README).
"""

import numpy as np

from . import _kernels

__all__ = ["fits", "half_image", "half_kernel", "half_mask", "upsample", "weight_scale"]

TENT = np.array([0.25, 0.5, 0.25])
# Smallest coarse frame side (fine frames from 256 px) for the change of grid: on
# smaller frames the coarse boundary band and the interpolation's edges are a
# larger share of the image, and the time saved is small.
MIN_SIDE = 128


def _half_length(n):
    return (n + 1) // 2


# The coarse grid drops what lies above half the Nyquist frequency in either axis; a blur
# that lets more than this share of that band's power through (no blur at all: 1; every
# benchmark kernel, 5-px Gaussian to 75-px shake: <= 0.045) leaves detail there to keep.
MAX_TOP_OCTAVE = 0.1


def top_octave_power(kernel, grid=64):
    """Mean ``|K(w)|^2`` over the frequencies the coarse grid cannot hold (``max(|fx|, |fy|) > 1/4``)."""
    k = np.asarray(kernel, dtype=np.float64)
    grid = max(grid, *k.shape)
    power = np.abs(np.fft.fft2(k, (grid, grid))) ** 2
    f = np.abs(np.fft.fftfreq(grid))
    return float(power[np.maximum(f[:, None], f[None, :]) > 0.25].mean())


def fits(frame_shape, kernel):
    """True when the coarse frame is at least :data:`MIN_SIDE` and the coarse kernel's size, and the
    blur removed what the coarse grid drops (:data:`MAX_TOP_OCTAVE`; a sharp photo's colour keeps its detail)."""
    k2 = half_kernel_shape(np.shape(kernel))
    if not all(_half_length(n) >= max(MIN_SIDE, k) for n, k in zip(frame_shape, k2)):
        return False
    return top_octave_power(kernel) <= MAX_TOP_OCTAVE


def half_image(y):
    """``(t * y)[::2, ::2]`` with the tent ``t`` on both axes (edges replicated), in ``y``'s dtype."""
    # formed at the kept pixels only (a full-grid filter first took 0.3 s on a 12 MP channel);
    # each axis summed in float64 and rounded once, as scipy.ndimage does: the same values
    y = np.asarray(y)
    return np.ascontiguousarray(_half_axis(_half_axis(y, 0, y.dtype), 1, y.dtype))


def _half_axis(x, axis, dtype):
    """``(t * x)`` at the even indices of ``axis``: ``x[2i] / 2 + (x[2i - 1] + x[2i + 1]) / 4``, ends replicated."""
    x = np.moveaxis(x, axis, 0)
    odd = x[1::2]
    out = np.multiply(x[0::2], 0.5, dtype=np.float64)
    out[: odd.shape[0]] += 0.25 * odd  # the next row, 2i + 1
    if x.shape[0] % 2:
        out[-1] += 0.25 * x[-1]  # past the end: the last row replicated
    out[1:] += 0.25 * odd[: out.shape[0] - 1]  # the row before, 2i - 1
    out[0] += 0.25 * x[0]  # before the start: the first row replicated
    return np.moveaxis(out.astype(dtype, copy=False), 0, axis)


def half_kernel_shape(kernel_shape):
    """Shape of :func:`half_kernel`'s result."""
    return tuple(len(range((n // 2 + 1) % 2, n + 2, 2)) for n in kernel_shape)


def half_kernel(kernel):
    """The kernel on the coarse grid: ``t * k`` every second tap, centre on centre, summing to 1.

    ``t * k`` has its centre at ``n // 2 + 1``; the taps of that parity are
    kept, which puts it at ``m // 2`` of the ``m`` kept, where
    :func:`deblur.operators.kernel_padding` expects it.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernel.shape
    smooth = np.zeros((kh + 2, kw + 2))
    for a in range(3):  # the full convolution with the 3 x 3 tent
        for b in range(3):
            smooth[a : a + kh, b : b + kw] += TENT[a] * TENT[b] * kernel
    small = smooth[(kh // 2 + 1) % 2 :: 2, (kw // 2 + 1) % 2 :: 2]
    return small / small.sum()


def half_mask(mask):
    """Coarse pixels whose tent reaches only pixels in the data term (``mask`` True), or None."""
    if mask is None:
        return None
    # the 3 x 3 minimum of the mask: no left-out pixel in the neighbourhood (within the frame), the
    # restore mask's own pass, so no scipy.ndimage at start-up (0.12 s)
    left_out = (np.asarray(mask).astype(np.uint8) == 0).view(np.uint8)[..., None]  # as the uint8 minimum read it
    free = np.empty(left_out.shape[:2], dtype=bool)
    _kernels.unclipped(left_out, 1, free)
    kept = np.ascontiguousarray(free[::2, ::2])
    return None if kept.all() else kept


def upsample(x2, shape):
    """Linear interpolation of the coarse image back to ``shape``: fine pixel ``p`` at coarse ``p / 2``."""
    x2 = np.ascontiguousarray(x2)
    out = np.empty(tuple(shape), dtype=x2.dtype)
    _kernels.upsample_linear(x2, out)
    return out


def weight_scale(regularizer):
    """``2^-p`` of the penalty (see the module notes): the weight on the coarse grid per unit weight."""
    p = {"tikhonov": 2.0, "tv": 1.0, "hyper-laplacian": regularizer.p}.get(regularizer.name, 0.0)
    return 2.0**-p
