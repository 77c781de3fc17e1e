"""``weight='auto'``: the regularisation weight lambda from the image itself.

Rule
----
1. Estimate the noise standard deviation sigma of the blurred image with
   scikit-image's wavelet estimator ``estimate_sigma`` (Donoho's median
   absolute deviation of the finest diagonal sub-band). Blur removes the
   image's own content from that band, so what is left there is noise. The
   estimate is floored at the 8-bit quantisation level 1/(255*sqrt(12)).
2. ``lambda = C * sigma**A`` with ``(C, A)`` per regulariser. In the MAP
   reading of the cost, ``0.5 |Ax - y|^2 / sigma^2 + alpha R(x)``, the weight
   is ``alpha sigma^2``; the exponent ``A`` and constant ``C`` were fitted by
   maximising mean PSNR over the benchmark set of
   ``benchmarks/quality.py --weights`` (real camera-shake, Gaussian and disk
   kernels, noise 0.3-2 %), where this rule beats every fixed lambda.
"""

import math

import numpy as np

NOISE_FLOOR = 1.0 / (255.0 * math.sqrt(12.0))
# (C, A) of lambda = C * sigma**A, per regulariser.
WEIGHT_RULES = {
    "none": (0.0, 1.0),
    "tikhonov": (0.5, 2.0),
    "tv": (0.3, 1.5),
    "hyper-laplacian": (0.4, 1.4),
}
# The noise estimate looks at a central crop at most this many pixels a side:
# plenty for a stable median, and it bounds time and memory on huge images.
NOISE_CROP = 1024


def estimate_noise(image):
    """Noise standard deviation of a 2-D float image in [0, 1] units."""
    from skimage.restoration import estimate_sigma

    h, w = image.shape
    top, left = max(0, (h - NOISE_CROP) // 2), max(0, (w - NOISE_CROP) // 2)
    crop = np.asarray(image[top : top + NOISE_CROP, left : left + NOISE_CROP], dtype=np.float64)
    if min(crop.shape) < 4:
        return NOISE_FLOOR
    if np.ptp(crop) == 0:  # flat: no detail band to measure, nothing to regularise against
        return NOISE_FLOOR
    with np.errstate(all="ignore"):
        sigma = float(estimate_sigma(crop, channel_axis=None))
    return max(sigma, NOISE_FLOOR) if math.isfinite(sigma) else NOISE_FLOOR


def auto_weight(sigma, regularizer):
    """lambda for a noise level ``sigma`` under the named regulariser."""
    c, a = WEIGHT_RULES[regularizer]
    return c * sigma**a
