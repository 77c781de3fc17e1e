"""Image files: :class:`ImageData`, and reading them (:func:`read_image`).

Pillow does the work; tifffile steps in for what Pillow cannot hold (float
and 16-bit colour TIFF), and a small codec (:mod:`deblur._png16`) handles
16-bit colour PNG, which Pillow would silently reduce to 8 bits. Writing is
:mod:`deblur._image_write`, atomic writes :mod:`deblur.atomic`; both are
re-exported here, as are the kernel files' :func:`write_kernel` and the
pixel conversions.

What a file becomes
-------------------
:func:`read_image` returns an :class:`ImageData`: the pixels as a 2-D gray
or ``(H, W, 3)`` RGB array of ``uint8``, ``uint16`` or ``float32``, the
alpha channel apart (it is carried through, never deblurred), and the EXIF
and ICC metadata to copy to the output. Palette, bilevel, CMYK, YCbCr, LAB
and HSV images are converted to RGB or gray, and each conversion is recorded
in :attr:`ImageData.notes` so the command line can say what it did.

:func:`write_image` writes atomically: the file is written to a temporary
name in the destination folder and renamed into place, so an error or
Ctrl-C never leaves a partial file, and an existing file is never replaced
unless ``overwrite=True``.

This module never imports click: errors are :class:`ImageFileError` (a
``ValueError``) and :class:`OutputExistsError` (a ``FileExistsError``),
with messages that say what to do.
"""

import contextlib
import os
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from ._image_write import (
    DEFAULT_QUALITY,
    FORMATS,
    IMAGE_EXTENSIONS,
    _convert_depth,
    output_format,
    side_by_side,
    write_image,
)
from ._png16 import _check_pixels, is_png16_color, read_png16
from .atomic import atomic_write, check_output
from .errors import ImageFileError, OutputExistsError
from .images import to_float
from .images import to_pixels as from_float
from .psf import KERNEL_EXTENSIONS
from .psf import save as write_kernel

__all__ = [
    "IMAGE_EXTENSIONS",
    "FORMATS",
    "DEFAULT_QUALITY",
    "ImageData",
    "ImageFileError",
    "OutputExistsError",
    "read_image",
    "write_image",
    "atomic_write",
    "check_output",
    "output_format",
    "to_float",
    "from_float",
    "side_by_side",
    "write_kernel",
    "allow_pixels",
    "KERNEL_EXTENSIONS",
]

@dataclass
class ImageData:
    """An image as read from a file, ready for the solver.

    Attributes
    ----------
    pixels : ndarray
        ``(H, W)`` gray or ``(H, W, 3)`` RGB; ``uint8``, ``uint16`` or ``float32``.
    alpha : ndarray or None
        ``(H, W)`` alpha in the dtype of ``pixels``, or None.
    format : str
        Pillow format name of the source file (``"PNG"``, ``"JPEG"``, ...).
    mode : str
        The mode the file was stored in (Pillow's name, e.g. ``"P"``, ``"I;16"``).
    exif, icc_profile : bytes or None
        Metadata carried to the output.
    dpi : tuple of float or None
        Resolution, carried to formats that store it.
    notes : list of str
        Conversions made while reading, in words.
    """

    pixels: np.ndarray
    alpha: object = None
    format: str = "PNG"
    mode: str = ""
    exif: object = None
    icc_profile: object = None
    dpi: object = None
    notes: list = field(default_factory=list)

    @property
    def is_color(self):
        return self.pixels.ndim == 3

    @property
    def bit_depth(self):
        """8, 16 or 32 (float)."""
        return {1: 8, 2: 16}.get(self.pixels.dtype.itemsize, 32)

    def describe(self):
        """E.g. ``'48x64 RGB 8-bit with alpha'``."""
        h, w = self.pixels.shape[:2]
        kind = "RGB" if self.is_color else "gray"
        depth = "float" if self.pixels.dtype.kind == "f" else f"{self.bit_depth}-bit"
        return f"{w}x{h} {kind} {depth}" + (" with alpha" if self.alpha is not None else "")


# --------------------------------------------------------------------------- dtype helpers


# --------------------------------------------------------------------------- reading


def _pixel_limit(max_pixels):
    """The largest image to decode, in pixels (None: no limit); Pillow's limit by default."""
    from PIL import Image

    if max_pixels is None:
        return Image.MAX_IMAGE_PIXELS
    return int(max_pixels) if max_pixels > 0 else None


def allow_pixels(max_pixels):
    """Let Pillow open images up to ``max_pixels`` (0: any), where its own limit is lower.

    For an application to call once, at start (the command line does, and
    each batch worker process): it sets ``PIL.Image.MAX_IMAGE_PIXELS`` to
    None, leaving the check to :func:`read_image`'s ``max_pixels``. Never
    called per file, and a no-op when Pillow's limit is already high enough.
    """
    from PIL import Image

    pillow = Image.MAX_IMAGE_PIXELS
    if max_pixels is not None and pillow is not None and (max_pixels == 0 or max_pixels > pillow):
        Image.MAX_IMAGE_PIXELS = None


def _bomb_message(path, exc):
    from PIL import Image

    return (
        f"{path} is too large for Pillow to open ({exc}): its own limit, PIL.Image.MAX_IMAGE_PIXELS = "
        f"{Image.MAX_IMAGE_PIXELS}, refuses it before deblur's --max-pixels is asked. The command line lifts "
        "Pillow's limit; in your own program set PIL.Image.MAX_IMAGE_PIXELS = None once, and pass max_pixels."
    )


def read_image(path, *, max_pixels=None):
    """Read an image file into an :class:`ImageData`.

    Parameters
    ----------
    path : str or path-like
        PNG, JPEG, TIFF, BMP or WebP file.
    max_pixels : int, optional
        Decompression-bomb limit in pixels (0: none), checked from the file's
        header before any decoding. Default: Pillow's ``MAX_IMAGE_PIXELS``,
        read (never changed). Pillow applies its own limit first; to open a
        larger image, set ``PIL.Image.MAX_IMAGE_PIXELS = None`` once (the
        command line does) and let ``max_pixels`` decide.

    Raises
    ------
    ImageFileError
        Missing, unreadable, non-image or truncated file, a decompression
        bomb, or a pixel type deblur cannot use.
    """
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageFileError(f"{path} does not exist; check the file name")
    if os.path.isdir(path):
        raise ImageFileError(f"{path} is a folder, not an image file (use 'deblur batch' for folders)")
    limit = _pixel_limit(max_pixels)
    if is_png16_color(path):
        pixels, alpha, exif, icc, dpi = read_png16(path, limit)
        return ImageData(pixels, alpha, "PNG", "16-bit colour PNG", exif, icc, dpi, [])
    try:
        with Image.open(path) as im:
            _check_pixels(path, im.size, limit)
            if im.format == "TIFF" and _tiff_needs_tifffile(im):
                return _read_tifffile(path, fmt="TIFF")
            im.load()
            return _from_pillow(im, path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageFileError(_bomb_message(path, exc)) from None
    except UnidentifiedImageError:
        if _looks_like_tiff(path):  # e.g. float RGB TIFF, which Pillow cannot open
            return _read_tifffile(path, fmt="TIFF")
        raise ImageFileError(
            f"{path} is not an image deblur can read (supported: PNG, JPEG, TIFF, BMP, WebP); "
            "check that it is an image and not damaged"
        ) from None
    except ImageFileError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
        if isinstance(exc, PermissionError):
            raise ImageFileError(f"cannot read {path}: permission denied") from None
        raise ImageFileError(
            f"{path} could not be decoded ({exc}); the file is probably truncated or damaged - "
            "re-export or re-download it"
        ) from None


def _looks_like_tiff(path):
    with open(path, "rb") as fh:
        return fh.read(4) in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _tiff_needs_tifffile(im):
    """Pillow reduces 16-bit colour TIFF to 8 bits; tifffile reads it whole."""
    bits = im.tag_v2.get(258, (8,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    samples = im.tag_v2.get(277, 1)
    return samples > 1 and max(bits) > 8


def _read_tifffile(path, fmt):
    import tifffile

    try:
        with tifffile.TiffFile(path) as tf:
            page = tf.pages[0]
            data = page.asarray()
            icc = page.tags[34675].value if 34675 in page.tags else None
            photometric = int(page.photometric)
            extrasamples = page.extrasamples
            n_pages = len(tf.pages)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad file
        raise ImageFileError(f"{path} could not be decoded as TIFF ({exc}); the file may be damaged") from None
    notes = ["only the first page of a multi-page TIFF was used"] if n_pages > 1 else []
    if data.ndim == 3 and data.shape[0] in (3, 4) and data.shape[-1] not in (3, 4):  # planar
        data = np.moveaxis(data, 0, -1)
    if photometric == 0 and data.ndim == 2:  # MINISWHITE
        data = _invert(data)
        notes.append("white-is-zero TIFF inverted to black-is-zero")
    alpha = None
    if data.ndim == 3:
        if data.shape[-1] in (2, 4) and (len(extrasamples) or data.shape[-1] == 4):
            alpha, data = data[..., -1], data[..., :-1]
        if data.shape[-1] == 1:
            data = data[..., 0]
        elif data.shape[-1] != 3:
            raise ImageFileError(f"{path} has {data.shape[-1]} colour channels; deblur reads gray or RGB TIFF")
    data, alpha = _normalise_dtype(path, data, alpha, notes)
    return ImageData(data, alpha, fmt, f"{data.dtype}x{1 if data.ndim == 2 else 3}", None, icc, None, notes)


def _invert(data):
    if data.dtype.kind == "f":
        return 1.0 - data
    return np.iinfo(data.dtype).max - data


def _normalise_dtype(path, data, alpha, notes):
    """uint8 / uint16 / float32 only."""
    kind, size = data.dtype.kind, data.dtype.itemsize
    if kind == "b":
        data = data.astype(np.uint8) * 255
        notes.append("bilevel image converted to 8-bit gray")
    elif kind == "u" and size <= 2:
        pass
    elif kind in "iu":
        lo, hi = (int(data.min()), int(data.max())) if data.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise ImageFileError(
                f"{path} holds {data.dtype} values from {lo} to {hi}; deblur reads 8- and 16-bit integer or "
                "float images - convert it to 16-bit or float first"
            )
        notes.append(f"{data.dtype.itemsize * 8}-bit integer values stored as 16-bit")
        data = data.astype(np.uint16)
    elif kind == "f":
        data = data.astype(np.float32)
    else:
        raise ImageFileError(f"{path} has pixels of type {data.dtype}, which deblur cannot restore")
    if alpha is not None and alpha.dtype != data.dtype:
        alpha = _convert_depth(np.asarray(alpha), data.dtype) if alpha.dtype.kind in "uf" else alpha.astype(data.dtype)
    return data, alpha


def _from_pillow(im, path):
    from PIL import Image

    notes = []
    info = im.info
    exif = info.get("exif")
    if not exif:
        with contextlib.suppress(Exception):
            data = im.getexif()
            exif = data.tobytes() if len(data) else None
    icc = info.get("icc_profile") or None
    dpi = info.get("dpi")
    mode = im.mode
    if getattr(im, "n_frames", 1) > 1:
        notes.append(f"only the first of {im.n_frames} frames was used")
    alpha = None
    if mode in ("1",):
        im = im.convert("L")
        notes.append("bilevel (1-bit) image converted to 8-bit gray")
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in info
        im = im.convert("RGBA" if has_alpha else "RGB")
        notes.append("palette image converted to RGB (a restored image has more colours than a palette holds)")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
        notes.append(f"{mode} image converted to RGB")
        if mode in ("CMYK", "LAB"):
            icc = None  # the profile describes the old colour space
            notes.append(f"its {mode} colour profile was dropped")
    elif mode in ("RGBa", "La"):
        im = im.convert(mode.upper())
    elif mode == "RGBX":
        im = im.convert("RGB")
    mode_now = im.mode
    if mode_now in ("LA", "RGBA"):
        arr = np.asarray(im)
        alpha, pixels = arr[..., -1].copy(), arr[..., :-1]
        if pixels.shape[-1] == 1:
            pixels = pixels[..., 0]
    elif mode_now in ("L", "RGB"):
        pixels = np.asarray(im)
    elif mode_now.startswith("I;16"):
        pixels = np.asarray(im).astype(np.uint16)
    elif mode_now in ("I", "F"):
        pixels = np.asarray(im)
    else:  # any mode Pillow adds later: RGB is the safe meeting point
        pixels = np.asarray(im.convert("RGB"))
        notes.append(f"{mode_now} image converted to RGB")
    pixels, alpha = _normalise_dtype(path, np.array(pixels), alpha, notes)
    fmt = im.format if isinstance(im, Image.Image) and im.format else (info.get("format") or "PNG")
    return ImageData(pixels, alpha, fmt, mode, exif, icc, dpi, notes)


