"""Writing image files: :func:`write_image`, atomically, in the format the extension names.

What a format cannot store (16 bits in JPEG, alpha in JPEG, metadata in
BMP) is adapted and said in a note; PNGs (8 and 16 bits) are written by the
codec of :mod:`deblur._png16`, float colour by tifffile, the rest by Pillow.
"""

import os
from dataclasses import replace

import numpy as np

from ._png16 import DEFLATE_PIECE, encode_png, encode_png16
from .atomic import atomic_write
from .errors import ImageFileError
from .images import to_float
from .images import to_pixels as from_float

__all__ = ["write_image", "output_format", "side_by_side", "FORMATS", "IMAGE_EXTENSIONS", "DEFAULT_QUALITY"]

# Extension -> Pillow format name: what deblur writes (it reads whatever Pillow or tifffile opens).
FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".webp": "WEBP",
}
IMAGE_EXTENSIONS = tuple(FORMATS)

DEFAULT_QUALITY = 95  # JPEG/WebP; Pillow's own default (75) visibly blurs a restored image again


def _convert_depth(pixels, dtype):
    """Change bit depth (uint8/uint16/float32) keeping the [0, 1] meaning."""
    if pixels is None or pixels.dtype == np.dtype(dtype):
        return pixels
    return from_float(np.clip(to_float(pixels, np.float64), 0.0, 1.0), dtype)




def output_format(path):
    """Pillow format name for an output path, or ImageFileError naming the supported extensions."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    try:
        return FORMATS[ext]
    except KeyError:
        raise ImageFileError(
            f"cannot tell the image format of {os.fspath(path)!r} from its extension; "
            f"use one of {', '.join(IMAGE_EXTENSIONS)}"
        ) from None


def _pillow_mode(pixels, alpha):
    if pixels.dtype == np.uint8:
        return ("RGB" if pixels.ndim == 3 else "L") + ("A" if alpha is not None else "")
    if pixels.dtype == np.uint16 and pixels.ndim == 2 and alpha is None:
        return "I;16"
    if pixels.dtype == np.float32 and pixels.ndim == 2 and alpha is None:
        return "F"
    return None


def _fit_to_format(data, fmt):
    """Adapt depth/alpha/metadata to what ``fmt`` stores; returns (data, notes)."""
    notes = []
    pixels, alpha = data.pixels, data.alpha
    depth = "float" if pixels.dtype.kind == "f" else f"{pixels.dtype.itemsize * 8}-bit"
    if fmt in ("JPEG", "WEBP", "BMP") and pixels.dtype != np.uint8:
        notes.append(
            f"{fmt} stores 8 bits per channel: the {depth} result was reduced to 8 bits (use PNG or TIFF to keep it)"
        )
        pixels, alpha = _convert_depth(pixels, np.uint8), _convert_depth(alpha, np.uint8)
    elif fmt == "PNG" and pixels.dtype.kind == "f":
        notes.append("PNG has no float pixels: the result was written as 16-bit (use TIFF to keep floats)")
        pixels, alpha = _convert_depth(pixels, np.uint16), _convert_depth(alpha, np.uint16)
    if fmt == "JPEG" and alpha is not None:
        notes.append("JPEG has no alpha channel: transparency was dropped (use PNG, TIFF or WebP to keep it)")
        alpha = None
    if fmt == "BMP" and alpha is not None and pixels.ndim == 2:
        notes.append("BMP has no gray+alpha: transparency was dropped")
        alpha = None
    exif, icc = data.exif, data.icc_profile
    if fmt == "BMP" and (exif or icc):
        notes.append("BMP stores no EXIF or ICC profile: the metadata was not copied")
        exif = icc = None
    return replace(data, pixels=pixels, alpha=alpha, exif=exif, icc_profile=icc), notes


# zlib level of written PNGs (but 16-bit colour's): a 12 MP colour restore encoded by Pillow in
# 0.8 s at level 1 against 3.7 s at its default 6, for files 14 % larger (11.9 -> 13.6 MB); level
# 1 is OpenCV's default too.
PNG_COMPRESS_LEVEL = 1


def _save_kwargs(fmt, data, quality):
    kw = {}
    if data.icc_profile and fmt in ("PNG", "JPEG", "TIFF", "WEBP"):
        kw["icc_profile"] = data.icc_profile
    if data.exif and fmt in ("PNG", "JPEG", "TIFF", "WEBP"):
        kw["exif"] = data.exif
    if data.dpi and fmt in ("PNG", "JPEG", "TIFF", "BMP"):
        kw["dpi"] = tuple(float(d) for d in data.dpi)
    if fmt in ("JPEG", "WEBP"):
        kw["quality"] = int(DEFAULT_QUALITY if quality is None else quality)
    if fmt == "JPEG" and kw["quality"] >= 90:
        kw["subsampling"] = 0  # 4:4:4 - no chroma blur on top of the restored detail
    if fmt == "TIFF":
        kw["compression"] = "tiff_adobe_deflate"
    if fmt == "PNG":
        kw["compress_level"] = PNG_COMPRESS_LEVEL
    return kw


def write_image(path, data, *, quality=None, overwrite=False):
    """Write an :class:`ImageData` atomically, in the format named by the extension.

    Parameters
    ----------
    path : str or path-like
        Output file; ``.png``, ``.jpg``/``.jpeg``, ``.tif``/``.tiff``, ``.bmp`` or ``.webp``.
    data : ImageData
        Pixels, alpha and metadata.
    quality : int, optional
        JPEG/WebP quality 1-100 (default 95).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    list of str
        What had to change for the format (bit depth reduced, alpha or metadata dropped).
    """
    fmt = output_format(path)
    data, notes = _fit_to_format(data, fmt)
    pixels, alpha = data.pixels, data.alpha
    mode = _pillow_mode(pixels, alpha)
    if mode is None and fmt == "PNG":
        if pixels.dtype == np.uint16:
            blob = encode_png16(pixels, alpha, data.exif, data.icc_profile, data.dpi)
            atomic_write(path, lambda fh: fh.write(blob), overwrite=overwrite)
            return notes
    if fmt == "PNG" and _parallel_png(pixels, alpha):
        # Pillow's encoder runs on one thread and chooses a filter per row (a 12 MP colour image:
        # 0.75 s; this one 0.2-0.35 s on 2 cores, files 4 % larger)
        blob = encode_png(pixels, alpha, data.exif, data.icc_profile, data.dpi, PNG_COMPRESS_LEVEL)
        atomic_write(path, lambda fh: fh.write(blob), overwrite=overwrite)
        return notes
    if mode is None:  # 16-bit colour, float colour, or 16-bit/float with alpha: TIFF via tifffile
        return notes + _write_tifffile(path, data, overwrite)
    from PIL import Image

    arr = pixels if alpha is None else np.dstack([pixels, alpha])
    im = Image.fromarray(np.ascontiguousarray(arr))  # uint16 gray -> I;16, float32 -> F
    kw = _save_kwargs(fmt, data, quality)
    atomic_write(path, lambda fh: im.save(fh, format=fmt, **kw), overwrite=overwrite)
    return notes


def _parallel_png(pixels, alpha):
    """True for an 8/16-bit image large enough for :mod:`deblur._png16`'s parallel deflate to pay
    (smaller ones are written by Pillow, as before)."""
    same = alpha is None or alpha.dtype == pixels.dtype
    return pixels.dtype in (np.uint8, np.uint16) and same and pixels.nbytes >= 2 * DEFLATE_PIECE


def _write_tifffile(path, data, overwrite):
    import tifffile

    arr = data.pixels
    extrasamples = None
    if data.alpha is not None:
        arr = np.dstack([arr, data.alpha])
        extrasamples = ("unassalpha",)
    photometric = "rgb" if data.pixels.ndim == 3 else "minisblack"
    kw = {"photometric": photometric, "compression": "zlib"}
    if extrasamples:
        kw["extrasamples"] = extrasamples
    if data.icc_profile:
        kw["iccprofile"] = data.icc_profile
    if data.dpi:
        kw["resolution"] = tuple(float(d) for d in data.dpi)
        kw["resolutionunit"] = "INCH"
    atomic_write(path, lambda fh: tifffile.imwrite(fh, np.ascontiguousarray(arr), **kw), overwrite=overwrite)
    return ["EXIF was not copied: deblur writes 16-bit and float colour TIFF without it"] if data.exif else []


# --------------------------------------------------------------------------- before | after


def side_by_side(before, after, *, gap=4, labels=("before", "after")):
    """An 8-bit RGB :class:`ImageData` with ``before`` and ``after`` side by side, labelled."""
    from PIL import Image, ImageDraw

    def rgb8(arr):
        arr = _convert_depth(np.asarray(arr), np.uint8) if arr.dtype != np.uint8 else arr
        return np.dstack([arr] * 3) if arr.ndim == 2 else arr

    a, b = rgb8(before), rgb8(after)
    h, w = a.shape[:2]
    band = 14 if h >= 48 else 0  # a label band only when the image is large enough to read it
    canvas = np.full((h + band, 2 * w + gap, 3), 255, np.uint8)
    canvas[band:, :w] = a
    canvas[band:, w + gap :] = b
    im = Image.fromarray(canvas)
    if band:
        draw = ImageDraw.Draw(im)
        for x0, text in ((0, labels[0]), (w + gap, labels[1])):
            draw.text((x0 + 3, 1), text, fill=(0, 0, 0))
    from .io import ImageData

    return ImageData(np.asarray(im), None, "PNG", "RGB")
