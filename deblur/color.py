"""Colour handling around the solver: sRGB <-> linear light, and luma/chroma.

Blur happens in light, not in the numbers an sRGB file stores: a camera
integrates photons, then the file applies the sRGB transfer curve. Working
in linear light (``--linear``) decodes that curve before deblurring and
re-applies it after, so edges are restored with the right brightness profile.

Restoring only the luma (``--color luma``) deblurs one channel instead of
three and leaves the colour-difference signals as they were; the eye takes
its sharpness from luma, so this is about three times faster and avoids
colour fringes where channels would be restored differently.

All functions take and return float arrays; they never import click.
"""

import numpy as np

__all__ = ["LUMA_WEIGHTS", "srgb_to_linear", "linear_to_srgb", "split_luma", "merge_luma"]

# Where the encoding curve leaves its linear segment. The standard rounds it
# to 0.0031308, a hair below 0.04045 / 12.92, so values between the two
# would not round-trip; the decoder's own knee keeps the pair exact inverses.
_KNEE = 0.04045 / 12.92

# Rec. 709 / sRGB luminance weights (IEC 61966-2-1 primaries).
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)


def srgb_to_linear(values):
    """Decode the sRGB transfer curve (IEC 61966-2-1).

    Parameters
    ----------
    values : ndarray
        sRGB-encoded values in [0, 1] (float).

    Returns
    -------
    ndarray
        Linear-light values, same shape and float dtype.

    Notes
    -----
    .. math:: L = v / 12.92 \\ (v \\le 0.04045), \\quad L = ((v + 0.055) / 1.055)^{2.4} \\ \\text{otherwise}

    Examples
    --------
    >>> import numpy as np
    >>> round(float(srgb_to_linear(np.array(0.5))), 4)
    0.214
    """
    v = np.asarray(values)
    dtype = v.dtype if v.dtype.kind == "f" else np.float64
    v = v.astype(dtype, copy=False)
    return np.where(v <= 0.04045, v / 12.92, ((np.maximum(v, 0.04045) + 0.055) / 1.055) ** 2.4).astype(dtype)


def linear_to_srgb(values):
    """Encode linear light with the sRGB curve; the inverse of :func:`srgb_to_linear`.

    Negative inputs (which a restoration may produce) map through the
    linear segment, so they stay negative and are clipped later.
    """
    v = np.asarray(values)
    dtype = v.dtype if v.dtype.kind == "f" else np.float64
    v = v.astype(dtype, copy=False)
    high = 1.055 * np.maximum(v, _KNEE) ** (1 / 2.4) - 0.055
    return np.where(v <= _KNEE, 12.92 * v, high).astype(dtype)


def split_luma(rgb):
    """Split an ``(H, W, 3)`` image into luma and chroma.

    Returns
    -------
    luma : ndarray
        ``(H, W)``, the weighted sum with :data:`LUMA_WEIGHTS`.
    chroma : ndarray
        ``(H, W, 3)``, ``rgb - luma``: what :func:`merge_luma` adds back, so
        ``merge_luma(*split_luma(rgb))`` returns ``rgb`` exactly (up to rounding).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"split_luma needs an (H, W, 3) RGB image, got shape {rgb.shape}")
    luma = rgb @ np.asarray(LUMA_WEIGHTS, dtype=rgb.dtype)
    return luma, rgb - luma[..., None]


def merge_luma(luma, chroma):
    """Recombine a (restored) luma with the chroma from :func:`split_luma`."""
    return np.asarray(chroma) + np.asarray(luma)[..., None]
