"""Clipped highlights as outliers of the data term (Cho, Wang and Lee, ICCV 2011).

A saturated pixel does not obey ``y = k (*) x``: the sensor clipped it. Leaving
such pixels out of the data term (weight 0) lets the latent image exceed the
white level there, so neither the kernel estimate nor the restore rings
around lights.
"""

import numpy as np
from scipy import ndimage

from ..images import to_float

__all__ = ["clipped_mask", "restore_mask", "CLIPPED_LEVEL"]

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
        clipped = ndimage.binary_dilation(clipped, structure=np.ones((3, 3)), iterations=int(dilate))
    return (~clipped).astype(np.float64)


def restore_mask(channels_last):
    """The restore's data mask: True where a pixel is fitted as observed, not a clipped highlight (nor next to one)."""
    return np.ascontiguousarray(clipped_mask(to_float(channels_last, np.dtype(np.float32)), CLIPPED_LEVEL) > 0)
