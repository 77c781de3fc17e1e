"""Clipped highlights: which model a restore fits them with, decided by the photo (``clipped='auto'``).

A pixel at the sensor's white level says only that the scene, blurred, reached
white there. Two models fit it:

- *kept* (``clipped='keep'``): fitted as observed, under the box ``[0, 1]``.
  Right for a scene that is itself at white (paper, a white cup, a saturated
  colour such as a logo's orange), whose pixels clip by noise at most; the box
  then also steadies the restore round them.
- *censored* (``clipped='ignore'``): the restore, blurred, must reach at least
  the observed value and may exceed it, and the scene under it may be brighter
  than white (:mod:`deblur.channels` lifts the box's upper bound). Right for
  lamps, stars, the sun on chrome. Kept instead, a light beyond white must
  become a white patch the kernel's size to reach the clipped value, and its
  blur's tails below the clip level then do not fit.

So ``'auto'`` restores with the kept model first, blurs that restore again by
the kernel and compares it with the photo on the pixels whose kernel footprint
reaches a clipped one (:func:`near_clipped_misfit`). A scene at white fits
there within its noise; a light beyond white cannot. Measured with the true
kernels (stop 23): the clipped cases of ``benchmarks/quality.py`` (coffee,
astronaut) 0.7-1.0 times the noise, and ``benchmarks/blind_scenes.py``'s
logos, documents, phantom and coffee 0.8-1.4; its night and star scenes
8.1-18.2. Above :data:`MAX_KEPT_MISFIT` the restore is solved again with the
clipped pixels censored. Censoring wherever a kernel is given cost
``quality.py``'s coffee 0.5 dB and the logos 5-7 dB; keeping them cost the
night scenes 5-11 dB (docs/blind.md, Known limits).

Which pixels are clipped is one rule for the restore and the blind estimation
(:func:`clipped_mask`): a saturated pixel does not obey ``y = k (*) x``, so
both leave it out of their data term as an outlier (Cho, Wang and Lee, ICCV
2011), and neither rings round lights. It lives here, outside the blind
package, so that a restore with a given kernel does not load that package.
"""

import numpy as np

from . import _kernels
from .images import INT_SCALE, to_float
from .weights import estimate_noise

__all__ = ["MAX_KEPT_MISFIT", "CLIPPED_LEVEL", "clipped_mask", "restore_mask", "planned_masks", "near_clipped_misfit"]

# Three times the noise: kept restores of scenes at white measured at most 1.4, of lights beyond white at least 8.1.
MAX_KEPT_MISFIT = 3.0

# A restore treats as clipped only what reached the white level (the last 8-bit code,
# give or take rounding); the estimation's looser 0.98 would also censor a white page's
# noise, whose upper half would then pull the page brighter.
CLIPPED_LEVEL = 1.0 - 1.0 / 255.0


def clipped_mask(image, threshold=0.98, dilate=1):
    """Data-term weights: 0 on clipped highlights (and ``dilate`` pixels around), 1 elsewhere.

    Parameters
    ----------
    image : ndarray
        Blurred image, 2-D or colour with the channel last, values in [0, 1].
        A pixel is clipped if any channel is ``>= threshold``.
    threshold : float
        White level above which a pixel is considered saturated.
    dilate : int
        Grow the clipped regions by this many pixels (JPEG and the camera's
        response bend values just below the white level too).

    Returns
    -------
    ndarray of float64
        Same 2-D shape as the image, values 0 or 1.
    """
    img = np.asarray(image)
    if not np.issubdtype(img.dtype, np.floating):
        img = img.astype(np.float64)
    clipped = img >= np.float64(threshold)  # compared in float64 without a float64 copy of a float32 image
    if clipped.ndim == 3:
        clipped = clipped.any(axis=-1)
    if dilate > 0 and clipped.any():
        from scipy import ndimage  # here: a restore with a known kernel does not need it (0.12 s to load)

        clipped = ndimage.binary_dilation(clipped, structure=np.ones((3, 3)), iterations=int(dilate))
    return (~clipped).astype(np.float64)


def restore_mask(channels_last):
    """The restore's data mask: True where a pixel is fitted as observed, not a clipped highlight (nor next to one).

    :func:`clipped_mask`'s rule at :data:`CLIPPED_LEVEL` (one pixel of growth)
    on the photo in the working precision, compared in the photo's own units
    (:func:`level_in_units`), so an 8-bit photo is not converted for it.
    """
    image = np.asarray(channels_last)
    if image.dtype not in INT_SCALE:  # float16 and float64 too, compared as the restore holds them (no copy of float32)
        image = to_float(image, np.dtype(np.float32))
    if image.ndim == 2:
        image = image[..., np.newaxis]
    out = np.empty(image.shape[:2], dtype=bool)
    _kernels.unclipped(np.ascontiguousarray(image), level_in_units(image.dtype, CLIPPED_LEVEL), out)
    return out


def level_in_units(dtype, level):
    """The least value of ``dtype`` that :func:`~deblur.images.to_float` (float32) takes to ``level`` or above.

    For float32, ``level`` itself. For ``uint8`` / ``uint16``, the
    smallest integer whose float32 value, scaled, compares ``>= level``: the
    same pixels as converting the photo first (255 for the 8-bit white, 254
    too for :data:`CLIPPED_LEVEL`, since float32 rounds 254/255 up past it);
    infinity when no value of ``dtype`` reaches ``level`` (nothing is clipped).
    """
    dtype = np.dtype(dtype)
    if dtype not in INT_SCALE:
        return float(level)
    values = np.arange(int(INT_SCALE[dtype]) + 1)
    reaches = to_float(values.astype(dtype), np.dtype(np.float32)) >= np.float64(level)
    return dtype.type(np.argmax(reaches)) if reaches.any() else np.inf


def planned_masks(clipped, channels_last, kernel, estimation):
    """``(data_mask, pending)`` of a restore: the clipped pixels' mask now, or the one ``'auto'`` may switch to.

    ``data_mask`` (False at a clipped pixel and one pixel round it) is set for
    ``'ignore'``; ``pending`` for ``'auto'`` when the photo has clipped pixels
    and a blur is to be removed (a kernel of more than one tap, not an
    estimation that found none). Both are None otherwise.
    """
    blur = (estimation is None or estimation.ok) and np.count_nonzero(kernel) > 1
    if clipped == "keep" or (clipped == "auto" and not blur):
        return None, None
    mask = restore_mask(channels_last)
    if mask.all():
        return None, None
    return (mask, None) if clipped == "ignore" else (None, mask)


def near_clipped_misfit(operator, latent, observed, mask, sigma=None):
    """RMS of ``A latent - observed``, over the noise, on the unclipped pixels whose kernel footprint reaches a clipped one.

    ``operator`` is the channel's :class:`~deblur.operators.BlurOperator` and
    ``latent`` the solver's image on its domain, so the model judged is the
    solve's own (the scene beyond the frame included); ``observed`` is the
    frame and ``mask`` False at its clipped pixels; ``sigma`` the observation's
    noise (:func:`deblur.weights.estimate_noise` when None). NaN when no pixel
    is judged.
    """
    model = operator.forward(latent)
    clipped = np.zeros(operator.domain_shape, dtype=operator.dtype)
    operator.crop(clipped)[...] = ~mask
    reach = operator.forward(clipped)  # the kernel's mass over the clipped pixels in each footprint
    taps = operator.psf[operator.psf > 0]
    # the smallest tap that counts, above the float32 transforms' rounding
    judged = (reach > max(0.5 * taps.min(), 1e-4 * taps.max())) & mask
    if not judged.any():
        return float("nan")
    if sigma is None:
        sigma = estimate_noise(np.asarray(observed, dtype=np.float64))
    misfit = (model - observed)[judged]
    return float(np.sqrt(np.mean(np.square(misfit, dtype=np.float64))) / max(float(sigma), 1e-6))
