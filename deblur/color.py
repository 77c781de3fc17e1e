"""Colour handling around the solver: sRGB <-> linear light, and luma/chroma.

Blur happens in light, not in the numbers an sRGB file stores: a camera
integrates photons, then the file applies the sRGB transfer curve. Working
in linear light (``--linear``) decodes that curve before deblurring and
re-applies it after, so edges are restored with the right brightness profile.

Restoring only the luma (``--color luma``) deblurs one channel instead of
three and leaves the colour-difference signals as they were; the eye takes
its sharpness from luma, so this is about three times faster and avoids
colour fringes where channels would be restored differently.

Colour images are restored, by default, in an orthonormal opponent-colour
basis (:func:`rgb_to_opponent`): a luminance and two colour differences.
The blur acts on each channel alike, so any basis gives the same data
term, but natural images keep their detail in luminance while the colour
differences are smooth; restored one by one, each gets the regularisation
weight its own content and noise call for (:mod:`deblur.weights`), and the
colour differences are denoised far more than R, G and B could be. The
basis is orthonormal, so white noise stays white with the same sigma and
squared errors add up as in RGB.

All functions take and return float arrays; they never import click.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = [
    "LUMA_WEIGHTS",
    "OPPONENT_BASIS",
    "srgb_to_linear",
    "linear_to_srgb",
    "split_luma",
    "merge_luma",
    "opponent_channel",
    "rgb_to_opponent",
    "opponent_to_rgb",
    "channel_extreme",
]

# Where the encoding curve leaves its linear segment. The standard rounds it
# to 0.0031308, a hair below 0.04045 / 12.92, so values between the two
# would not round-trip; the decoder's own knee keeps the pair exact inverses.
_KNEE = 0.04045 / 12.92

# Orthonormal opponent-colour basis, one channel per row: luminance,
# red-blue and green-magenta differences.
OPPONENT_BASIS = np.array([[1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -2.0, 1.0]])
OPPONENT_BASIS /= np.linalg.norm(OPPONENT_BASIS, axis=1, keepdims=True)
# Extent of the RGB unit cube along each row: the affine map that puts each
# opponent channel of an image in [0, 1] onto [0, 1] (so the solver's box
# constraint and the weight rule see the units they were made for).
OPPONENT_OFFSET = np.minimum(OPPONENT_BASIS, 0.0).sum(axis=1)
OPPONENT_SPAN = np.abs(OPPONENT_BASIS).sum(axis=1)

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

# Pixels per block of the in-place conversion back to RGB.
_BLOCK_PIXELS = 1 << 18


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


def opponent_channel(rgb, index):
    """Channel ``index`` of :func:`rgb_to_opponent`, computed alone (no three-channel temporary).

    Parameters
    ----------
    rgb : ndarray or dask.array.Array
        ``(H, W, 3)`` float image (a dask array gives a lazy channel).
    index : int
        0 (luminance), 1 or 2 (colour differences).

    Returns
    -------
    array
        ``(H, W)``, in ``rgb``'s dtype; in [0, 1] when ``rgb`` is.
    """
    weights = OPPONENT_BASIS[index] / OPPONENT_SPAN[index]
    dtype = rgb.dtype.type
    w0, w1, w2 = (dtype(w) for w in weights)
    offset = dtype(OPPONENT_OFFSET[index] / OPPONENT_SPAN[index])

    if not isinstance(rgb, np.ndarray):  # dask: lazily, as a whole
        out = rgb[..., 0] * w0
        out += rgb[..., 1] * w1
        out += rgb[..., 2] * w2
        out -= offset
        return out

    def combine(part, out):
        np.multiply(part[..., 0], w0, out=out)
        out += part[..., 1] * w1
        out += part[..., 2] * w2
        out -= offset

    out = np.empty(rgb.shape[:-1], dtype=rgb.dtype)
    _by_row_blocks(combine, rgb, out)
    return out


def _row_blocks(shape):
    """Slices along axis 0 of an ``(H, W, C)`` image, by blocks of about :data:`_BLOCK_PIXELS` pixels."""
    rows = max(1, _BLOCK_PIXELS // max(1, int(np.prod(shape[1:-1]))))
    return [slice(r0, r0 + rows) for r0 in range(0, shape[0], rows)]


def _by_row_blocks(function, source, out):
    """``function(source[rows], out[rows])`` for blocks of rows, on every core.

    A block fits in cache, so the channels' strided reads cost one pass over
    the image, not three; numpy releases the GIL, and each block computes
    what the whole array would, to the bit (12 MP: 100 -> 25 ms a channel).
    """
    blocks = _row_blocks(source.shape)
    workers = min(len(blocks), os.cpu_count() or 1)
    if workers <= 1:
        for b in blocks:
            function(source[b], out[b])
        return
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda b: function(source[b], out[b]), blocks))


def rgb_to_opponent(rgb):
    """``(H, W, 3)`` RGB to opponent channels, each mapped onto [0, 1] (see the module notes).

    Examples
    --------
    >>> import numpy as np
    >>> rgb = np.random.default_rng(0).random((4, 5, 3))
    >>> bool(np.allclose(opponent_to_rgb(rgb_to_opponent(rgb)), rgb))
    True
    """
    rgb = np.asarray(rgb)
    rgb = rgb if rgb.dtype.kind == "f" else rgb.astype(np.float64)
    return np.stack([opponent_channel(rgb, c) for c in range(3)], axis=-1)


def opponent_to_rgb(opponent, out=None):
    """The inverse of :func:`rgb_to_opponent`.

    ``out`` (which may be ``opponent`` itself, float) receives the result,
    converted a block of rows at a time so that no image-sized temporary is
    made; returns it.
    """
    opponent = np.asarray(opponent)
    dtype = opponent.dtype if opponent.dtype.kind == "f" else np.float64
    span, offset, basis = (a.astype(dtype) for a in (OPPONENT_SPAN, OPPONENT_OFFSET, OPPONENT_BASIS))
    if out is None:
        return (opponent * span + offset) @ basis

    for rows in _row_blocks(opponent.shape):
        # on one thread: the matrix product in threads measured slower (12 MP: 130 -> 220 ms)
        out[rows] = (opponent[rows] * span + offset) @ basis
    return out


def channel_extreme(rgb, reduce):
    """``reduce(rgb, axis=(0, 1))`` of a C-contiguous ``(H, W, 3)`` image, by contiguous rows of 1024 pixels.

    The same values; numpy's reduction over the two leading axes walks the
    channels with a stride of 3 (262 ms per extreme on a 12 MP float32 photo,
    11 ms this way).
    """
    flat = rgb.reshape(-1, 3)
    n = flat.shape[0] - flat.shape[0] % 1024
    parts = [reduce(flat[n:], axis=0)] if n < flat.shape[0] else []
    if n:
        parts.append(reduce(reduce(flat[:n].reshape(-1, 3 * 1024), axis=0).reshape(-1, 3), axis=0))
    return reduce(np.stack(parts), axis=0)
