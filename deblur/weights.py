"""``weight='auto'``: the regularisation weight lambda from the image itself.

Rule
----
1. Estimate the noise standard deviation sigma of the blurred image with
   scikit-image's wavelet estimator ``estimate_sigma`` (Donoho's median
   absolute deviation of the finest diagonal sub-band). Blur removes the
   image's own content from that band, so what is left there is noise. The
   estimate is floored at the 8-bit quantisation level 1/(255*sqrt(12)),
   and at the JPEG block noise (:func:`block_noise`), which that band misses.
2. Measure the image's content as the RMS of its gradient with the noise's
   share removed, ``g = sqrt(mean |grad y|^2 - 4 sigma^2)`` (forward
   differences of white noise have mean square ``4 sigma^2``), floored at
   ``CONTENT_FLOOR``. A smooth scene (small ``g``) needs a stronger prior
   than a textured one at the same noise level.
3. ``lambda = C * sigma**A * g**B`` with ``(C, A, B)`` per regulariser. In
   the MAP reading of the cost, ``0.5 |Ax - y|^2 / sigma^2 + alpha R(x)``,
   the weight is ``alpha sigma^2`` with ``alpha`` the inverse scale of the
   gradient prior, hence ``A`` near 2 and ``B`` negative. The constants were
   fitted by maximising the mean PSNR of 96 restorations (8 scikit-image
   photographs x Levin camera-shake, Gaussian and disk kernels x noise
   0.3/1/2 %), where the rule came within 0.2 dB of the per-image best
   lambda on average; ``benchmarks/quality.py --weights`` compares it with
   every fixed lambda on the benchmark set. The Tikhonov rule is the
   Gaussian-prior ``sigma^2`` law, not fitted.
"""

import math

import numpy as np

NOISE_FLOOR = 1.0 / (255.0 * math.sqrt(12.0))
# (C, A, B) of lambda = C * sigma**A * content**B, per regulariser.
WEIGHT_RULES = {
    "none": (0.0, 1.0, 0.0),
    "tikhonov": (0.5, 2.0, 0.0),
    "tv": (1.2, 1.5, 0.0),
    "hyper-laplacian": (0.12, 1.6, -0.6),
}
CONTENT_FLOOR = 2e-3
# The noise estimate looks at a central crop at most this many pixels a side:
# plenty for a stable median, and it bounds time and memory on huge images.
NOISE_CROP = 1024


def central_crop(image, align=1):
    """The central :data:`NOISE_CROP` square (or less) of a 2-D image, float64; its corner on
    multiples of ``align`` (a JPEG's block grid stays where it was)."""
    h, w = image.shape
    top = max(0, (h - NOISE_CROP) // 2) // align * align
    left = max(0, (w - NOISE_CROP) // 2) // align * align
    return np.asarray(image[top : top + NOISE_CROP, left : left + NOISE_CROP], dtype=np.float64)


def block_noise(image, block=8):
    """Standard deviation of JPEG block noise of a 2-D float image in [0, 1] units (0 if none).

    JPEG quantises each 8x8 block's cosine coefficients on its own, so the error
    is independent from block to block: the difference of two neighbouring pixels
    across a block boundary carries about ``2 sigma_b^2`` more variance than one
    inside a block. The wavelet estimate misses it (the finest diagonal band of
    a JPEG is nearly empty), and a deconvolution amplifies it into a visible grid.
    The boundary is the phase (of 8) whose mean squared difference stands out;
    ``sigma_b = sqrt(excess / 2)`` from the excess over the median of the other
    phases, averaged over rows and columns. Counted only when the excess is at
    least a quarter of that median (a real grid, not the scene's own fluctuation).
    """
    crop = central_crop(image, align=block)
    if min(crop.shape) < 4 * block:
        return 0.0
    excess = []
    for diffs in (np.diff(crop, axis=1), np.diff(crop, axis=0).T):
        power = np.array([np.mean(diffs[:, p::block] ** 2) for p in range(block)])
        peak = int(np.argmax(power))
        rest = float(np.median(np.delete(power, peak)))
        gain = float(power[peak]) - rest
        excess.append(gain if gain >= 0.25 * rest else 0.0)
    return math.sqrt(max(0.5 * float(np.mean(excess)), 0.0))


def estimate_noise(image):
    """Noise standard deviation of a 2-D float image in [0, 1] units.

    The larger of the wavelet estimate and :func:`block_noise` (JPEG's 8x8 blocks).
    """
    crop = central_crop(image)
    if min(crop.shape) < 4:
        return NOISE_FLOOR
    if np.ptp(crop) == 0:  # flat: no detail band to measure, nothing to regularise against
        return NOISE_FLOOR
    with np.errstate(all="ignore"):
        sigma = _wavelet_sigma(crop)
    sigma = max(sigma, NOISE_FLOOR) if math.isfinite(sigma) else NOISE_FLOOR
    return max(sigma, block_noise(image))


# The 75 % point of the standard normal: |n| of Gaussian noise has median 0.6745 sigma.
_MAD_TO_SIGMA = 0.6744897501960817


def _wavelet_sigma(image):
    """scikit-image's ``estimate_sigma(image, channel_axis=None)``, without importing it.

    The median absolute finest diagonal db2 coefficient over 0.6745 (Donoho and
    Johnstone, Biometrika 1994; exact zeros left out, as there). Importing
    ``skimage.restoration`` loads ``scipy.stats``: 0.44 s of every restore process.
    """
    import pywt

    detail = pywt.dwtn(image, wavelet="db2")["dd"]
    detail = detail[np.nonzero(detail)]
    return float(np.median(np.abs(detail)) / _MAD_TO_SIGMA)


def estimate_content(image, sigma):
    """RMS gradient of a 2-D image with the noise's share removed (see the module notes)."""
    crop = central_crop(image)
    if min(crop.shape) < 2:
        return CONTENT_FLOOR
    gx = np.diff(crop, axis=1)[:-1]
    gy = np.diff(crop, axis=0)[:, :-1]
    power = float(np.mean(gx * gx + gy * gy)) - 4.0 * sigma * sigma
    return max(math.sqrt(max(power, 0.0)), CONTENT_FLOOR)


def auto_weight(sigma, regularizer, content=None):
    """lambda for a noise level ``sigma`` and ``content`` (see :func:`estimate_content`)."""
    c, a, b = WEIGHT_RULES[regularizer]
    if b and content is None:
        raise ValueError(f"the {regularizer} rule needs the image content")
    return c * sigma**a * (content**b if b else 1.0)


def image_weight(image, regularizer):
    """``(lambda, sigma)`` of the rule for a 2-D float image in [0, 1] units."""
    sigma = estimate_noise(image)
    return auto_weight(sigma, regularizer, estimate_content(image, sigma)), sigma


def model_error_factor(model_sigma, noise_sigma, regularizer):
    """Weight factor for a restore with an *estimated* kernel: the noise the blind model leaves.

    A kernel estimate is never exact, and its error ``dk * x`` adds to the
    observation what the restore cannot tell from noise -- signal-dependent,
    largest at edges, where a sharp restore turns it into ringing. The blind
    estimation's own residual (``model_sigma``: RMS of ``k * x - y`` for its
    latent ``x`` at full resolution) holds both the noise and that error; the
    rule's ``lambda ~ sigma^A`` is then applied to ``max(model_sigma, sigma)``,
    the discrepancy principle (Morozov 1966) for the blind model. Returns
    ``(max(model_sigma, noise_sigma) / noise_sigma) ** A`` (1 when unknown).
    """
    if not (model_sigma > 0 and noise_sigma > 0 and math.isfinite(model_sigma)):
        return 1.0
    return max(1.0, model_sigma / noise_sigma) ** WEIGHT_RULES[regularizer][1]
