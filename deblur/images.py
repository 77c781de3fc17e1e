"""The image conventions every entry point shares (scikit-image's).

Images are numpy arrays: float with values nominally in [0, 1], or uint8 /
uint16 scaled to it; gray 2-D, or colour 3-D with ``channel_axis``. Inside,
they are handled channels last; results go back to the caller's dtype.
"""

import numbers

import numpy as np

from .errors import ArgumentError, ArgumentTypeError

__all__ = ["INT_SCALE", "check_image", "to_float", "from_float", "to_pixels", "to_integer"]

INT_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
# Float images are nominally in [0, 1]; far beyond, float32 maths overflows.
_FLOAT_LIMIT = 1e6
# Pixels (array elements) per block of rows in the float -> integer conversions:
# their temporaries stay a few MB whatever the image size.
_BLOCK_PIXELS = 1 << 18


def check_image(image, channel_axis, name="image"):
    """Validate an image; return it as an ndarray with channels last (a view when possible)."""
    if not isinstance(image, np.ndarray):
        try:
            image = np.asarray(image)
        except Exception:  # noqa: BLE001
            raise ArgumentTypeError(f"{name} must be a numpy array") from None
    if image.dtype.byteorder not in "=|":
        image = image.astype(image.dtype.newbyteorder("="))  # big-endian data from FITS/TIFF readers
    if image.dtype.kind == "f":
        pass
    elif image.dtype not in INT_SCALE:
        raise ArgumentTypeError(
            f"{name} has dtype {image.dtype}; use float (values in [0, 1]), uint8 or uint16, "
            "e.g. skimage.img_as_float(image)"
        )
    if channel_axis is None:
        if image.ndim == 3:
            raise ArgumentError(
                f"{name} is 3-D with shape {image.shape}; for a colour image pass channel_axis=-1 "
                "(or the axis holding the channels)"
            )
        if image.ndim != 2:
            raise ArgumentError(f"{name} must be a 2-D gray image or 3-D with channel_axis, got {image.ndim}-D")
        image = image[..., np.newaxis]
    else:
        if image.ndim != 3:
            raise ArgumentError(
                f"channel_axis={channel_axis} needs a 3-D image, got {image.ndim}-D; use channel_axis=None for gray"
            )
        if not isinstance(channel_axis, numbers.Integral) or not -3 <= channel_axis < 3:
            raise ArgumentError(f"channel_axis must be an integer in [-3, 2], got {channel_axis!r}")
        image = np.moveaxis(image, channel_axis, -1)
    if image.shape[-1] == 0 or min(image.shape[:2]) < 2:
        raise ArgumentError(f"{name} is too small ({image.shape[0]}x{image.shape[1]} pixels): deblurring needs at least 2x2")
    if image.dtype.kind == "f":
        if not np.all(np.isfinite(image)):
            raise ArgumentError(f"{name} contains NaN or Inf pixels; replace them (e.g. np.nan_to_num) before deblurring")
        largest = float(max(-image.min(), image.max())) if image.size else 0.0
        if largest > _FLOAT_LIMIT:
            raise ArgumentError(
                f"{name} has values up to {largest:.3g}; float images are expected in [0, 1] "
                "(rescale, e.g. image / image.max())"
            )
    return image


def to_float(image, dtype=np.float32):
    """Integer images to [0, 1]; float images to the working dtype (no copy when they are in it)."""
    image, dtype = np.asarray(image), np.dtype(dtype)
    if image.dtype in INT_SCALE:
        return image.astype(dtype) / dtype.type(INT_SCALE[image.dtype])
    return image.astype(dtype, copy=False)


def _row_blocks(values):
    """Slices along axis 0 covering ``values`` by blocks of about :data:`_BLOCK_PIXELS` elements."""
    rows = values.shape[0]
    row_size = values.size // rows if rows else 0
    step = max(1, _BLOCK_PIXELS // max(row_size, 1))
    return [slice(i, i + step) for i in range(0, rows, step)]


def _convert_by_rows(values, dtype, convert):
    """``convert(block)`` for each block of rows, written into one ``dtype`` array (no full-size temporaries)."""
    values = np.asarray(values)
    if values.ndim == 0:
        return convert(values.reshape(1))[0].astype(dtype)
    out = np.empty(values.shape, dtype)
    for rows in _row_blocks(values):
        out[rows] = convert(values[rows])
    return out


def to_pixels(values, dtype):
    """Float values in [0, 1] to a file's pixel type: integers by :func:`to_integer`, floats cast."""
    dtype = np.dtype(dtype)
    if dtype in INT_SCALE:
        return to_integer(values, dtype)
    return np.asarray(values).astype(dtype)


def to_integer(values, dtype):
    """Float values in [0, 1] to ``uint8`` / ``uint16``: ``clip(rint(values * scale), 0, scale)``.

    The result is that of the product taken exactly (as in float64, where a
    float32 or float16 value times 255 or 65535 is exact), but the work is
    done by blocks of rows in float32 for float32 and float16 input: a float32
    product differs from the exact one in its rounding only, which can move it
    onto a half-way point ``k + 0.5`` but never across one; those few
    elements are recomputed in float64. Wider floats and integers go through
    float64, as before. Values outside [0, 1] are clipped; NaN is not
    supported.
    """
    dtype = np.dtype(dtype)
    scale = INT_SCALE[dtype]
    values = np.asarray(values)
    if values.dtype.kind == "f" and values.dtype.itemsize <= 4:
        scale32 = np.float32(scale)

        def convert(block):
            product = np.multiply(block, scale32, dtype=np.float32)
            rounded = np.rint(product)
            with np.errstate(invalid="ignore"):  # inf - inf for values beyond float32 once scaled
                np.subtract(product, rounded, out=product)
            np.abs(product, out=product)
            ties = product == 0.5
            if ties.any():
                rounded[ties] = np.rint(block[ties].astype(np.float64) * scale)
            return np.clip(rounded, 0.0, scale32, out=rounded)

    else:

        def convert(block):
            return np.clip(np.rint(np.asarray(block, dtype=np.float64) * scale), 0, scale)

    return _convert_by_rows(values, dtype, convert)


def from_float(image, dtype):
    """Float results back to ``dtype``: integers rounded from [0, 1] (clipped), floats cast.

    The library's rounding: in the working float, as :func:`deblur.solve` has
    always done. Image files round the exact product instead
    (:func:`to_pixels`); the two differ only where the float32 product lands
    on a half-way point, about 5 values in a million.
    """
    image = np.asarray(image)
    dtype = np.dtype(dtype).newbyteorder("=")
    if dtype in INT_SCALE:
        scale = INT_SCALE[dtype]
        # In the image's own dtype, as always; by blocks of rows to keep the temporaries small.
        return _convert_by_rows(image, dtype, lambda block: np.rint(np.clip(block, 0.0, 1.0) * scale))
    if np.finfo(dtype).max < np.finfo(image.dtype).max:  # float16: keep within its range
        image = np.clip(image, -np.finfo(dtype).max, np.finfo(dtype).max)
    return image.astype(dtype, copy=False)
