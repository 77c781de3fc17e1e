"""The forward model, run forwards: blur a sharp image with a kernel and add noise.

The one blur simulator of deblur: ``deblur blur``, the tests, the benchmarks
and ``sample_images/make_samples.py`` make their blurred images here. The
kernel's centre tap is ``(kh // 2, kw // 2)`` (see :mod:`deblur.psf`), so
``boundary='valid'`` returns exactly the frame that deblur's default
boundary model explains: every pixel saw the whole kernel, and real scene
lies beyond each edge.
"""

import numpy as np

from .errors import InputError

__all__ = ["blur", "blur_pixels", "valid_crop", "BOUNDARIES"]

# How the sharp image continues beyond its frame ('valid': it does not; the result is smaller).
BOUNDARIES = ("reflect", "periodic", "valid")


def valid_crop(array, kshape):
    """The part of a blurred array every kernel tap saw (centre tap at ``(kh // 2, kw // 2)``)."""
    kh, kw = kshape
    top, bottom, left, right = kh - 1 - kh // 2, kh // 2, kw - 1 - kw // 2, kw // 2
    return array[top : array.shape[0] - bottom, left : array.shape[1] - right]


def blur(image, kernel, boundary="reflect"):
    """Convolve a float image (2-D, or channels last) with ``kernel``.

    Parameters
    ----------
    image : ndarray
        Float, ``(H, W)`` or ``(H, W, C)``.
    kernel : ndarray
        2-D kernel, convolution orientation.
    boundary : {'reflect', 'periodic', 'valid'}
        Beyond the frame the image is mirrored or wrapped; 'valid' keeps only
        the part every tap saw, ``(H - kh + 1, W - kw + 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from deblur import psf, simulate
    >>> simulate.blur(np.ones((8, 9)), psf.box(3), boundary="valid").shape
    (6, 7)
    """
    from scipy import ndimage

    mode = {"reflect": "reflect", "periodic": "wrap", "valid": "reflect"}[boundary]
    x = np.asarray(image)
    chans = [x] if x.ndim == 2 else [x[..., c] for c in range(x.shape[-1])]
    y = [ndimage.convolve(c, kernel, mode=mode) for c in chans]
    y = y[0] if x.ndim == 2 else np.stack(y, axis=-1)
    return valid_crop(y, kernel.shape) if boundary == "valid" else y


def blur_pixels(pixels, kernel, *, noise=0.0, seed=None, boundary="reflect", linear=False):
    """Blur integer or float pixels with ``kernel``, add Gaussian noise, return the same dtype.

    ``noise`` is the standard deviation in units of the full range; ``linear``
    blurs in linear light (sRGB decoded first, encoded after), as a camera does.
    """
    from . import color
    from .images import to_float, to_pixels

    kh, kw = kernel.shape
    if kh > pixels.shape[0] or kw > pixels.shape[1]:
        raise InputError(f"the PSF ({kw}x{kh} px) is larger than the image "
                         f"({pixels.shape[1]}x{pixels.shape[0]} px); use a smaller kernel")
    x = to_float(pixels, np.float64)
    if linear:
        x = color.srgb_to_linear(x)
    y = blur(x, kernel, boundary)
    if linear:
        y = color.linear_to_srgb(np.clip(y, 0, 1))
    if noise:
        y = y + np.random.default_rng(seed).normal(0.0, noise, y.shape)
    if pixels.dtype.kind != "f":
        y = np.clip(y, 0.0, 1.0)
    return to_pixels(y, pixels.dtype)
