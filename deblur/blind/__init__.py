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

import numpy as np

from ..errors import ArgumentError, DeblurWarning, InputError
from ..images import check_image, to_float
from .config import BlindOptions, make_options
from .crop import best_window
from .confidence import edge_steepness, kernel_plausible, noise_sigma, structure_score
from .coarse_to_fine import estimate_kernel
from .kernel_step import edge_threshold
from .outliers import clipped_mask
from .pyramid import downsample, plan
from .record import RECORD_COLUMNS, EstimationRecord
from .scale import block_mean, block_min, enlarge_kernel, reduction
from .spectrum import evidence
from .support import auto_size, delta, extent, odd
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
    img = to_float(to_float(check_image(image, channel_axis), np.dtype(np.float32)), np.dtype(np.float64))  # channels last
    n = img.shape[-1]
    if n == 1:
        out = img[..., 0]
    elif n in (3, 4):
        out = img[..., :3] @ np.asarray(LUMA)
    else:
        out = img.mean(axis=-1)
    # float32 values again (held in float64): the luminance of a luminance is itself
    return np.ascontiguousarray(out.astype(np.float32), dtype=np.float64)


def parse_spec(spec):
    """Parse ``'estimate'`` / ``'estimate:size=31'`` (the CLI's ``--psf`` form); return the size or None.

    >>> parse_spec("estimate"), parse_spec("estimate:size=31")
    (None, 31)
    """
    text = str(spec).strip()
    kind, _, rest = text.partition(":")
    if kind.strip().lower() != "estimate":
        raise ArgumentError(f"not an estimate spec: {spec!r}; write estimate or estimate:size=N")
    size = None
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, sep, value = item.partition("=")
        if key.strip() != "size" or not sep:
            raise ArgumentError(f"bad estimate option {item!r}; write estimate:size=N (N odd, in pixels)")
        try:
            size = int(value)
        except ValueError:
            raise ArgumentError(f"estimate size must be a whole number of pixels, got {value.strip()!r}") from None
    return size


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
    coarse = plan(y.shape, full, opts.ratio, opts.coarsest)[0]
    ys = downsample(y, coarse.shape)
    score = structure_score(edge_threshold(ys, coarse.ksize, opts.edge_per_bin), noise_sigma(y), coarse.scale, downsample)
    if not score >= opts.min_structure or min(y.shape) < 16:
        return _fallback(y, full, size, score, "the image has no edges that stand out of its noise (flat or pure noise)")
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
    factor = reduction(y.shape, opts.scale_above)
    if factor == 1:
        kernel, record = _estimate_window(y, size, opts, mask, score, steep, noise)
        record.crop = None if record.crop[2:] == list(y.shape) else record.crop
        return kernel, record
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


def _estimate_window(y, size, opts, mask, score, steep, noise):
    """The estimation on the most textured window of ``y`` and the checks of its kernel."""
    crop = best_window(y, opts.max_pixels, mask)
    if crop != (0, 0) + y.shape:
        top, left, ch, cw = crop
        y = y[top : top + ch, left : left + cw]
        mask = None if mask is None else mask[top : top + ch, left : left + cw]
    kernel, record = _estimate_growing(y, size, opts, mask)
    record.noise_sigma = noise
    if len(record):  # the residual the blind model leaves, for the restore's weight
        record.model_sigma = float(np.sqrt(2.0 * record["data"][-1]))
    record.structure = score
    record.steepness = steep
    record.crop = list(crop)
    ok, why = kernel_plausible(kernel)
    if not ok:
        return _fallback(y, kernel.shape[0], size, score, why, record)
    if record.touches and size is None:
        why = (
            f"the kernel still fills its {record.support} px support"
            + (" after growing it" if len(record.growths) > 1 else "")
            + " (a cut-off path, or texture or noise fitted as blur)"
        )
        return _fallback(y, kernel.shape[0], size, score, why, record)
    record.confidence, record.reason = 1.0, ""
    if record.touches:  # a size the user gave is kept, with a word of doubt
        record.confidence = 0.5
        record.reason = f"the kernel reaches the edge of its {record.support} px support: a larger size may be needed"
    if opts.spectral_check:
        return _check_spectrum(y, kernel, size, score, record, mask)
    return kernel, record


def _check_spectrum(y, kernel, size, score, record, mask=None):
    """No blur when the photo's power spectrum is explained no better by the kernel than by none.

    See :mod:`deblur.blind.spectrum`. A size the user gave is kept; the check
    then only sets the confidence.
    """
    if min(y.shape) < 64:
        return kernel, record
    (gain,) = evidence(y, [kernel], estimate_noise(y), mask)
    record.spectrum_gain = float(gain)
    if gain > 0:
        return kernel, record
    why = "the photo's power spectrum is explained no better by the kernel than by no blur"
    if size is None:
        return _fallback(y, kernel.shape[0], size, score, why, record)
    record.confidence, record.reason = 0.0, why
    return kernel, record


def _estimate_growing(y, size, opts, mask):
    """:func:`estimate_kernel`, and with an automatic size, the support grown while it is too small.

    A kernel that reaches the edge of its support was cut there (a long shake on
    a small automatic support) or is noise spread over the whole support; a
    support ``grow_factor`` times larger tells which: a cut path completes and
    stops touching, noise keeps filling it (then the estimate is not used).

    A shake longer than its support is not always cut, though: the descent can
    fold it into a shorter kernel that stays clear of the edge (a 75 px path
    estimated as a 31-53 px one on a 53-69 px support). So a kernel that does not
    touch is checked too (``probe_support``): estimated again on the larger
    support, it should come out no larger than the first support, and then the
    first is kept. When it does not fit there, the first support was too small,
    and the larger one is kept -- if its kernel settles: it does not touch the
    larger support either, or, grown once more, it fits that support. A kernel
    that keeps growing with its support, or breaks into strokes there, is the
    scene's texture, not a path, and the first estimate stands. An implausible
    first estimate (:func:`kernel_plausible`) is not probed (it falls back),
    nor one that spans less than half its support (:func:`_fills_half`).
    """
    kernel, record = estimate_kernel(y, size, opts, weights=mask)
    growths = [{"support": record.start_support, "touches": bool(record.touches), "size": int(kernel.shape[0])}]
    cap = min(opts.max_grown, odd(min(y.shape) // 3))

    def grow(record):
        support = min(cap, odd(opts.grow_factor * record.start_support))
        if support <= record.start_support:
            return None
        k, r = estimate_kernel(y, None, opts, weights=mask, start_support=support)
        r.elapsed += record.elapsed
        growths.append({"support": support, "touches": bool(r.touches), "size": int(k.shape[0])})
        return k, r

    note = ""
    if size is None and record.touches:
        for _ in range(opts.grow_steps):
            grown = grow(record)
            if grown is None:
                break
            kernel, record = grown
            if not record.touches:
                break
    elif size is None and opts.probe_support and opts.grow_steps > 0 and _fills_half(kernel, record) and kernel_plausible(kernel)[0]:
        first, first_record = kernel, record
        probe = grow(record)
        if probe is not None and _span(probe[0]) > first_record.start_support:
            kernel, record = probe
            if record.touches and opts.grow_steps > 1:
                again = grow(record)
                if again is not None and not again[1].touches and _span(again[0]) <= record.start_support:
                    kernel, record = again
            if record.touches or not kernel_plausible(kernel)[0]:
                # it keeps growing with its support, or breaks into strokes there: the scene's texture
                first_record.elapsed = record.elapsed
                kernel, record = first, first_record
                note = "; on larger supports the kernel grew with the support or broke up (texture), the first kept"
            elif not _explains_as_well(y, kernel, first, mask):
                first_record.elapsed = record.elapsed
                kernel, record = first, first_record
                note = "; the kernel found on a larger support explains the photo's power spectrum far worse, the first kept"
            else:
                note = f"; the kernel found on a {growths[1]['support']} px support did not fit the first {growths[0]['support']} px"
        elif probe is not None:
            first_record.elapsed = probe[1].elapsed
            note = f"; checked on a {growths[1]['support']} px support: the kernel fits the first"
    record.growths = growths
    record.message += note
    if record.touches or (note and "did not fit" in note):
        record.message += f"; support grown {' -> '.join(str(g['support']) for g in growths)} px"
    return kernel, record


def _explains_as_well(y, larger, first, mask, share=0.5):
    """Whether ``larger`` explains the photo's power spectrum at least ``share`` as well as ``first`` does.

    The gain of each over no blur (:func:`~deblur.blind.spectrum.evidence`). A
    shake folded into the first support explains the fall-off of the spectrum
    worse than the whole path, or about as well (measured: the larger kernel's
    gain 0.95-1.7x the first's on Lai's 75 px shake on 0.4-0.6 MP frames); a path
    with spurious taps added round a right kernel, far worse (0.08x: a 73 px
    kernel for a 31 px shake, 4 dB worse restored). Only a large drop counts:
    the spectrum ranks close kernels poorly (:mod:`deblur.blind.spectrum`).
    """
    if min(y.shape) < 64:
        return True
    gain_larger, gain_first = evidence(y, [larger, first], estimate_noise(y), mask)
    return gain_larger >= share * gain_first if gain_first > 0 else gain_larger > gain_first


def _fills_half(kernel, record):
    """Whether the kernel spans at least half its starting support: room it did not use says the support did not limit it.

    A long shake folded into a too-small support fills most of it (31-53 px
    kernels on 53-69 px supports); a 15 px kernel on a 61 px support had room
    to grow. Checked on a larger support anyway, such a kernel turned into a
    straight 83 px streak on a real night photo (Lai's car5) and rang.
    """
    return 2 * _span(kernel) >= record.start_support


def _span(kernel):
    """Side of the square, centred on the kernel's centre tap, that holds all its taps."""
    return 2 * extent(kernel) + 1


def _fallback(y, full, size, score, why, record=None, status="fallback"):
    record = record or EstimationRecord()
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
