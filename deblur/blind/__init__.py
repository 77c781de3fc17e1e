"""Blind PSF estimation: the blur kernel of a photo from the photo alone.

>>> import numpy as np
>>> from deblur.blind import estimate_psf
>>> from deblur import psf
>>> from scipy.signal import fftconvolve
>>> rng = np.random.default_rng(0)
>>> sharp = np.kron(rng.random((12, 12)), np.ones((8, 8)))         # 96 x 96 blocks
>>> blurred = fftconvolve(sharp, psf.motion(9, 30), mode="valid")  # scene beyond the frame
>>> k = estimate_psf(blurred, size=15)
>>> k.shape, bool(np.isclose(k.sum(), 1.0)), bool((k >= 0).all())
((15, 15), True, True)

Method (Gradient descent throughout; see ``docs/blind.md``)
------------------------------------------------------------
Coarse to fine over an image pyramid (Fergus et al. 2006), alternating

1. a latent-image step: a sharp-edged latent image under an L0 gradient prior
   (Xu, Zheng and Jia, CVPR 2013; Pan, Hu, Su and Yang, CVPR 2014), by
   half-quadratic splitting whose quadratic sub-problems are solved by
   Fourier-preconditioned gradient descent on the ``valid`` blur model
   (the scene extends beyond the frame);
2. a kernel step: accelerated projected gradient descent on the kernel in the
   gradient domain, using only the latent image's strongest edges (Cho and
   Lee, SIGGRAPH Asia 2009), then non-negativity, unit sum, compact support,
   small taps and small isolated pieces removed;

with clipped highlights left out of the data term (Cho, Wang and Lee, ICCV
2011). The final non-blind restore is :func:`deblur.solve` with the estimate.

Public functions
----------------
:func:`estimate_psf` returns the kernel; :func:`estimate` returns
``(kernel, record)`` for :func:`deblur.solve` (``psf='estimate'``), where the
record (:class:`EstimationRecord`) holds the per-level/iteration history and
whether the estimation fell back to a delta. :func:`clipped_mask` gives the
data-term weights that drop saturated pixels.
"""

import math
import numbers
import warnings
from dataclasses import replace

import numpy as np

from ..errors import ArgumentError, DeblurWarning, InputError
from ..images import _row_blocks, check_image, to_float
from .config import BlindOptions, make_options, parse_spec
from .crop import best_window
from .looks import Look
from .confidence import edge_steepness, featureless_reason, featureless_test, finer_support, refusal
from ..clipped import clipped_mask
from .record import RECORD_COLUMNS, EstimationRecord
from .scale import block_mean, block_min, enlarge_kernel, reduction
from .spectrum import ORIENTATION_SECTORS, evidence
from .support import auto_size, delta, odd, uncapped_size
from ..weights import estimate_noise

__all__ = [
    "estimate_psf",
    "estimate",
    "clipped_mask",
    "luminance",
    "parse_spec",
    "BlindOptions",
    "EstimationRecord",
    "RECORD_COLUMNS",
    "BlindEstimationWarning",
]

LUMA = (0.2989, 0.5870, 0.1140)  # ITU-R BT.601, as MATLAB's rgb2gray


class BlindEstimationWarning(DeblurWarning):
    """The blur could not be estimated; a delta (no blur) was used instead."""


def luminance(image, channel_axis=None):
    """2-D float64 luminance in [0, 1] of a gray or colour image (uint8/uint16/float).

    Validated as :func:`deblur.restore` validates its input (the same errors), and
    taken in the restore's working precision (float32) first, so that a photo
    gives the same kernel however it is passed (uint8, float32 or float64): the
    estimation is a non-convex descent whose restarts can end within 0.2 % of
    each other, and rounding differences of 1e-8 changed the pick.
    """
    img = check_image(image, channel_axis)  # channels last
    n = img.shape[-1]
    out = np.empty(img.shape[:2], dtype=np.float64)
    # by blocks of rows: the whole photo in float64 was 270 MB of a 12 MP photo's 490 MB peak here
    for rows in _row_blocks(img):
        block = to_float(to_float(img[rows], np.dtype(np.float32)), np.dtype(np.float64))
        if n == 1:
            luma = block[..., 0]
        elif n in (3, 4):
            luma = block[..., :3] @ np.asarray(LUMA)
        else:
            luma = block.mean(axis=-1)
        # float32 values again (held in float64): the luminance of a luminance is itself
        out[rows] = luma.astype(np.float32)
    return out


def _check_size(size, shape):
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ArgumentError(f"size must be a positive whole number of pixels or None (automatic), got {size!r}")
    if odd(size) > min(shape):
        raise InputError(f"a kernel of {size} px is larger than the image ({shape[0]}x{shape[1]}); use a smaller size")
    return int(size)


def estimate(image, size=None, *, channel_axis=None, mask=None, **options):
    """Estimate the blur kernel of ``image``; return ``(kernel, record)``.

    Parameters
    ----------
    image : ndarray
        Blurred photo: 2-D gray or colour with ``channel_axis``; float in [0, 1],
        uint8 or uint16. Colour is estimated on its luminance.
    size : int or None
        Kernel side in pixels (rounded up to odd). ``None``: automatic, 12 % of the
        shorter side (7 to 75 px), then shrunk level by level to the kernel's extent
        plus a margin; the returned kernel is cropped to that extent.
    mask : ndarray, optional
        Data-term weights (0 = ignore the pixel); default :func:`clipped_mask`.
    **options
        Any field of :class:`BlindOptions`.

    Returns
    -------
    kernel : ndarray of float64
        Non-negative, sums to 1, convolution orientation, centred on its centre
        of mass (the centre of mass lies within half a tap of ``(kh//2, kw//2)``).
        A centred delta when the estimation fell back.
    record : EstimationRecord
        ``status`` (``'estimated'`` or ``'fallback'``), ``message``, the
        per-level/iteration history (``record['cost']``...) and settings.
    """
    opts = make_options(**options)
    y = luminance(image, channel_axis)
    size = _check_size(size, y.shape)
    if mask is not None:
        mask = np.asarray(mask, dtype=np.float64)
        if mask.shape != y.shape:
            raise InputError(f"mask has shape {mask.shape}, the image {y.shape[:2]}: they must match")

    full = auto_size(y.shape, opts.max_size) if size is None else odd(size)
    # Featureless input (flat, or noise only): nothing to estimate from.
    score, floor = featureless_test(y, full, opts)
    factor = reduction(y.shape, opts.scale_above)  # estimated on means of factor x factor pixels when > 1
    finer = finer_support(y, full, opts) if not score >= floor and size is None and factor == 1 else None
    if finer is not None:  # detail finer than the automatic support's coarsest level
        full, opts = finer, replace(opts, max_size=finer)
        score, floor = featureless_test(y, full, opts)
    if not score >= floor or min(y.shape) < 16:
        return _fallback(y, full, size, score, featureless_reason(y, full, opts))
    steep = edge_steepness(y)
    if opts.sharp_steepness is not None and steep >= opts.sharp_steepness:
        kernel, record = _fallback(y, full, size, score, "", status="sharp")
        record.steepness = steep
        record.reason = "no blur detected"
        record.message = (
            f"no blur detected: the strongest edges are as steep as in a sharp photo "
            f"(steepness {steep:.2f} >= {opts.sharp_steepness}); using no blur (a delta kernel)"
        )
        return kernel, record
    if mask is None and opts.saturation is not None:
        mask = clipped_mask(y, opts.saturation)
    noise = estimate_noise(y)  # of the whole photo, as a restore measures it
    if factor > 1:
        kernel, record = _estimate_reduced(y, factor, size, opts, mask, score, steep, noise)
        return kernel, _frame_crop(record, y.shape)
    capped = size is None and finer is None and beyond_reach(y.shape, opts.max_size)
    further = _ReachFurther(y, opts, mask, score, steep, noise) if capped else None
    kernel, record = _estimate_window(y, size, opts, mask, score, steep, noise, further)
    if further is not None and record.status == "fallback" and not further.tried:  # refused by a later check
        reached = further.attempt(record, record.reason)
        kernel, record = reached or _fallback(y, 3, None, score, further.with_reason(record.reason), record)
    _frame_crop(record, y.shape)
    if finer is not None:
        record.message += f"; started on a {finer} px support: the photo's detail is finer than a larger one's coarsest level"
    return kernel, record


def _frame_crop(record, shape):
    """``record`` with its window set to None when the window is the whole frame of ``shape`` (the restore then checks the frame)."""
    if record.crop is not None and list(record.crop) == [0, 0, *shape]:
        record.crop = None
    return record


def beyond_reach(shape, max_size):
    """Whether the automatic support of a photo of ``shape`` is capped at ``max_size``.

    The support is 12 % of the shorter side, at most ``max_size``
    (:func:`~deblur.blind.support.auto_size`): on a larger photo a shake longer
    than the cap is beyond the reach of a full-scale estimation (Köhler et al.'s
    800 x 800 shakes 8-10: 120-150 px).
    """
    return uncapped_size(shape) > auto_size(shape, max_size)


class _ReachFurther:
    """The estimate on means of 2 x 2 pixels of a photo whose automatic support is capped, asked at most once.

    There a shake longer than the cap is half as long, within the support's
    reach. It is taken only when it is used and longer than the full-scale
    reach (``max_size``): a shorter kernel was within reach at full scale, where
    the estimation refused it (texture estimated on 2 x 2 means fitted blur
    that restored worse than the photo). It is asked as soon as the full-scale
    kernel is refused as texture, before the sparse look at full scale: a long
    shake's refusal is often its support's cap, and there the sparse look took
    a worse, shorter kernel (``blind_scenes.py`` astronaut-xl/lai4x2: +1.19 dB
    on 2 x 2 means, -0.01 dB from the sparse look).
    """

    def __init__(self, y, opts, mask, score, steep, noise):
        self.y, self.opts, self.mask = y, opts, mask
        self.score, self.steep, self.noise = score, steep, noise
        self.tried = False
        self.reason = ""

    def with_reason(self, why):
        """``why`` the full-scale kernel was refused, with this look's reason added once it was asked."""
        return _both_reasons(why, self.reason) if self.tried else why

    def attempt(self, record, why):
        """``(kernel, record)`` of the 2 x 2 estimate when taken, else ``None`` (:attr:`reason` says why).

        ``record`` is the full-scale one, refused because ``why``; its time is
        added to the record returned, or the 2 x 2 look's time to it.
        """
        self.tried = True
        opts = self.opts
        further, further_record = _estimate_reduced(self.y, 2, None, opts, self.mask, self.score, self.steep, self.noise)
        if further_record.status != "estimated" or further.shape[0] <= opts.max_size:
            estimated = further_record.status == "estimated"
            self.reason = f"a {further.shape[0]} px kernel, within that reach" if estimated else further_record.reason
            record.elapsed += further_record.elapsed
            return None
        further_record.message += f" (at full scale, with the support capped at {opts.max_size} px: {why})"
        further_record.elapsed += record.elapsed
        return further, further_record


def _both_reasons(full_scale, reduced):
    """The two scales' reasons in one sentence, an explanation in parentheses they share said once, at the end.

    >>> _both_reasons("it fills 151 px (noise or texture)", "it fills 113 px (noise or texture)")
    'it fills 151 px; on means of 2 x 2 pixels too: it fills 113 px (noise or texture)'
    """
    cut = full_scale.rfind(" (")
    if full_scale.endswith(")") and cut > 0 and reduced.endswith(full_scale[cut:]):
        full_scale = full_scale[:cut]
    return f"{full_scale}; on means of 2 x 2 pixels too: {reduced}"


def _estimate_reduced(y, factor, size, opts, mask, score, steep, noise):
    """The estimation on means of ``factor`` x ``factor`` pixels, the kernel enlarged back to full scale."""
    small = block_mean(y, factor)
    kernel, record = _estimate_window(
        small, None if size is None else odd(size / factor), opts, None if mask is None else block_min(mask, factor), score, steep, noise
    )
    record.downscale = factor
    record.noise_sigma = noise
    if math.isfinite(record.model_sigma):
        # The residual is noise plus the kernel's error (dk * x). Averaging s x s pixels divides
        # white noise by up to s but keeps that smooth error: at full scale, the error with the
        # photo's own noise.
        error2 = max(0.0, record.model_sigma**2 - estimate_noise(small) ** 2)
        record.model_sigma = float(math.sqrt(noise**2 + error2))
    record.crop = [v * factor for v in record.crop]
    if record.status == "estimated":
        kernel = enlarge_kernel(kernel, factor, None if size is None else odd(size))
        record.message += f"; on means of {factor}x{factor} pixels, enlarged to {kernel.shape[0]} px"
    elif size is not None:
        kernel = delta(odd(size))
    record.size = int(kernel.shape[0])
    return kernel, record


def _estimate_window(y, size, opts, mask, score, steep, noise, further=None):
    """The estimation on the most textured window of ``y`` and the checks of its kernel.

    ``further``: a :class:`_ReachFurther` to ask when the kernel is refused as texture.
    """
    crop = best_window(y, opts.max_pixels, mask)
    if crop != (0, 0) + y.shape:
        top, left, ch, cw = crop
        y = y[top : top + ch, left : left + cw]
        mask = None if mask is None else mask[top : top + ch, left : left + cw]
    look = Look(y, opts, mask, score, steep, noise, crop)
    kernel, record = look.first(size)
    why, texture = refusal(kernel, record, size)
    if texture and size is None and opts.second_look and not opts.useful_edges:
        kernel, record, why = look.on_useful_edges(kernel, record, why)
    if why and texture and further is not None:
        reached = further.attempt(record, why)
        if reached is not None:
            return reached
    if why and texture and opts.sparse_retry and opts.kernel_projection != "simplex":
        kernel, record, why = look.sparse(size, kernel, record, why)
    if why:
        if further is not None:
            why = further.with_reason(why)
        return _fallback(y, kernel.shape[0], size, score, why, record)
    if record.touches:  # a size the user gave is kept, with a word of doubt
        record.confidence = 0.5
        record.reason = f"the kernel reaches the edge of its {record.support} px support: a larger size may be needed"
    if opts.spectral_check:
        return _check_spectrum(y, kernel, size, score, record, mask)
    return kernel, record


def _check_spectrum(y, kernel, size, score, record, mask=None):
    """No blur when the photo's power spectrum is explained no better by the kernel than by none.

    Under both scene models of :mod:`deblur.blind.spectrum`: one level for all
    orientations, and one per orientation sector, since a scene of long straight
    edges has a spectrum a streak along them imitates. A size the user gave is
    kept; the check then only sets the confidence.
    """
    if min(y.shape) < 64:
        return kernel, record
    noise = estimate_noise(y)
    (gain,) = evidence(y, [kernel], noise, mask)
    (oriented,) = evidence(y, [kernel], noise, mask, orientations=ORIENTATION_SECTORS)
    record.spectrum_gain, record.spectrum_gain_oriented = float(gain), float(oriented)
    if gain > 0 and oriented > 0:
        return kernel, record
    why = "the photo's power spectrum is explained no better by the kernel than by no blur"
    if gain > 0:
        why += " (once its level is fitted per orientation: the scene's straight edges, not blur)"
    if size is None:
        return _fallback(y, kernel.shape[0], size, score, why, record)
    record.confidence, record.reason = 0.0, why
    return kernel, record


def _fallback(y, full, size, score, why, record=None, status="fallback"):
    record = EstimationRecord() if record is None else record  # (a record with no rows is falsy: len 0)
    record.status = status
    record.structure = float(score)
    full = int(full) if size is not None else 3  # a small delta: nothing to gain from a large one
    record.size = full
    record.size_rule = record.size_rule or ("given" if size is not None else "automatic")
    record.message = f"could not estimate the blur: {why}; using no blur (a delta kernel) instead"
    record.confidence, record.reason = 0.0, why
    return delta(full), record


def estimate_psf(image, size=None, *, channel_axis=None, **options):
    """Estimate the blur kernel (PSF) of a photo from the photo alone.

    Same parameters as :func:`estimate`. Returns the kernel only; when the
    estimation falls back to a delta a :class:`BlindEstimationWarning` says why.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     k = estimate_psf(np.full((64, 64), 0.5))  # flat: nothing to estimate from
    >>> k.shape, float(k[k.shape[0] // 2, k.shape[1] // 2]), caught[0].category.__name__
    ((3, 3), 1.0, 'BlindEstimationWarning')
    """
    kernel, record = estimate(image, size, channel_axis=channel_axis, **options)
    if record.status == "fallback":
        warnings.warn(record.message, BlindEstimationWarning, stacklevel=2)
    return kernel
