"""Where to estimate on a large photo: the most textured window of a pixel budget.

The kernel is the same everywhere (uniform blur), so a window rich in edges
of several directions carries all the information; estimating there bounds
the time on multi-megapixel photos without changing the kernel's scale.
"""

import math

import numpy as np

from .pyramid import downsample

__all__ = ["best_window"]


def best_window(y, max_pixels, weights=None):
    """``(top, left, height, width)`` of the window of at most ``max_pixels`` with the most edge energy.

    The window keeps the image's aspect ratio. Edge energy is the gradient
    magnitude (clipped at the 99th percentile of its non-zero values, so a few lights do not decide)
    summed over the window, on a copy reduced to about 256 px a side;
    pixels with zero ``weights`` (clipped highlights) count for nothing.
    """
    h, w = y.shape
    if h * w <= max_pixels:
        return 0, 0, h, w
    f = math.sqrt(max_pixels / (h * w))
    ch, cw = max(16, int(h * f)), max(16, int(w * f))
    s = min(1.0, 256.0 / max(h, w))
    small = downsample(y, (max(8, int(round(h * s))), max(8, int(round(w * s)))))
    gy, gx = np.gradient(small)
    mag = np.hypot(gx, gy)
    if np.any(mag > 0):
        mag = np.minimum(mag, np.percentile(mag[mag > 0], 99))
    if weights is not None:
        mag = mag * (downsample(weights, small.shape) > 0.999)
    integral = np.pad(mag.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sh, sw = small.shape
    wh, ww = max(1, int(round(ch * sh / h))), max(1, int(round(cw * sw / w)))
    sums = integral[wh:, ww:] - integral[:-wh, ww:] - integral[wh:, :-ww] + integral[:-wh, :-ww]
    i, j = np.unravel_index(int(np.argmax(sums)), sums.shape)
    top = min(h - ch, int(round(i * h / sh)))
    left = min(w - cw, int(round(j * w / sw)))
    return top, left, ch, cw
