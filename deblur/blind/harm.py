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

A wrong kernel also shows in the restore's fit to the photo: a right kernel's
restore, blurred again by it, gives the photo back to within its noise, while
a wrong one asks for a scene darker than black or brighter than white, which
the image returned cannot hold, and the fit fails there. :func:`fit_residual`
is that misfit over the photo's noise, away from clipped highlights (whose
scene the restore does not know). Measured (stop 21): good restores 0.9-6.4
(``benchmarks/blind_sheet.py``'s 112 restored photos at most 4.2,
``benchmarks/blind_scenes.py`` at most 4.6 but 6.4 on a field of point lights
brighter than white once sharp); damaged 9.0 (a sharp page of text given a
55 px kernel of glyph strokes: its paper turned to black and white noise) and
10.4 (Lai's topresso: dark rings round its lamps). Above
:data:`MAX_FIT_RESIDUAL` the restore is not used.
"""

import numpy as np
from scipy.ndimage import gaussian_filter, uniform_filter

from ..spectral import fft_convolve
from ..weights import estimate_noise

__all__ = ["flat_detail_gain", "MAX_FLAT_DETAIL_GAIN", "fit_residual", "MAX_FIT_RESIDUAL"]

# Half-way (on a log scale) between the most any good restore measured (1.9) and the damaged 6.0.
MAX_FLAT_DETAIL_GAIN = 3.0
# Half-way (on a log scale) between the most any good restore measured (6.4) and the least damaged 9.0.
MAX_FIT_RESIDUAL = 7.5


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


def fit_residual(before, after, kernel, mask=None):
    """RMS of ``kernel * after - before`` over the noise of ``before``, on the pixels the restore fits.

    ``before`` and ``after`` are 2-D luminances of the same shape (``after``
    clipped to [0, 1], as returned); the model is the ``valid`` convolution (the
    pixels whose kernel footprint lies inside the frame), compared with the
    matching pixels of ``before``, leaving out those whose kernel footprint
    reaches a pixel where ``mask`` (the restore's data mask) is 0: a clipped
    highlight. The noise is :func:`deblur.weights.estimate_noise`'s.
    """
    y = np.asarray(before, dtype=np.float64)
    x = np.clip(np.asarray(after, dtype=np.float64), 0.0, 1.0)
    k = np.asarray(kernel, dtype=np.float64)
    kh, kw = k.shape
    if y.shape[0] < kh or y.shape[1] < kw:
        return float("nan")
    model = fft_convolve(x, k, mode="valid")
    inner = (slice(kh // 2, kh // 2 + model.shape[0]), slice(kw // 2, kw // 2 + model.shape[1]))
    misfit = model - y[inner]
    if mask is not None:
        # a clipped highlight may be brighter than white in the solve (its scene is censored, not
        # known) and is white in the image returned: the pixels whose model reaches one are not judged
        clipped = (np.asarray(mask) <= 0).astype(np.float64)
        reach = fft_convolve(clipped, (k > 0).astype(np.float64), mode="valid")
        misfit = misfit[reach < 0.5]
    if misfit.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean(misfit * misfit)) / estimate_noise(y))
