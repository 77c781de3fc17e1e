"""Did the restore with an estimated kernel damage the photo? A check on the output, from the data alone.

A wrong kernel's restore rings, and a weight too small for the kernel's error
amplifies noise; both land where the photo is flat, while a right kernel's
restore sharpens edges and texture. :func:`flat_detail_gain` compares the fine
detail the output holds on the photo's flat half, relative to its strongest
edges, with the same ratio of the input. Measured (``benchmarks/blind_sheet.py``,
``benchmarks/blind_scenes.py``): good restores 0.01-1.9 (Lai et al.'s real
photos at most 1.29, Köhler's at most 1.86, the synthetic scenes at most 1.03);
the two damaged outputs that stood out, by eye and by PSNR, 6.0 (Lai's car3:
ripples over the car body) and 3.6 (a saturated night scene, JPEG: -1.1 dB).
Above :data:`MAX_FLAT_DETAIL_GAIN` the restore is not used.
"""

import numpy as np
from scipy.ndimage import gaussian_filter, uniform_filter

__all__ = ["flat_detail_gain", "MAX_FLAT_DETAIL_GAIN"]

# Half-way (on a log scale) between the most any good restore measured (1.9) and the damaged 6.0.
MAX_FLAT_DETAIL_GAIN = 3.0


def flat_detail_gain(before, after, window=9):
    """Fine detail on the flat half of ``before``, over that on its strongest tenth, in ``after`` / in ``before``.

    ``before`` and ``after`` are 2-D luminances in [0, 1] of the same shape. Fine
    detail: the image minus its Gaussian blur of sigma 1, squared; flat: local
    standard deviation (``window`` x ``window``) of ``before`` at most its median;
    strongest tenth: at least its 90th percentile.
    """
    a = np.asarray(before, dtype=np.float64)
    b = np.clip(np.asarray(after, dtype=np.float64), 0.0, 1.0)
    mean = uniform_filter(a, window)
    std = np.sqrt(np.maximum(uniform_filter(a * a, window) - mean * mean, 0.0))
    flat = std <= np.median(std)
    edge = std >= np.percentile(std, 90)
    tiny = (0.1 / 255) ** 2

    def ratio(u):
        hp = (u - gaussian_filter(u, 1.0)) ** 2
        return (hp[flat].mean() + tiny) / (hp[edge].mean() + tiny)

    return float(ratio(b) / ratio(a))
