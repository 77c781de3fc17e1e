"""Reading and writing image files for the command line.

Pillow does the work; tifffile steps in for what Pillow cannot hold (float
and 16-bit colour TIFF), and a small PNG codec here handles 16-bit colour
PNG, which Pillow would silently reduce to 8 bits.

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
from dataclasses import dataclass, field, replace

import numpy as np

from .images import to_float
from .images import to_pixels as from_float
from .atomic import atomic_write, check_output
from .errors import ImageFileError, OutputExistsError
from .psf import KERNEL_EXTENSIONS
from .psf import save as write_kernel

__all__ = [
    "IMAGE_EXTENSIONS",
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

# Extension -> Pillow format name. The readable and writable set is the same.
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


def _convert_depth(pixels, dtype):
    """Change bit depth (uint8/uint16/float32) keeping the [0, 1] meaning."""
    if pixels is None or pixels.dtype == np.dtype(dtype):
        return pixels
    return from_float(np.clip(to_float(pixels, np.float64), 0.0, 1.0), dtype)


# --------------------------------------------------------------------------- reading


def _pixel_limit(max_pixels):
    """The largest image to decode, in pixels (None: no limit); Pillow's limit by default."""
    from PIL import Image

    if max_pixels is None:
        return Image.MAX_IMAGE_PIXELS
    return int(max_pixels) if max_pixels > 0 else None


def _check_pixels(path, size, limit):
    """Refuse, before decoding, an image larger than ``limit`` pixels (a decompression bomb, maybe)."""
    width, height = size
    if limit is not None and width * height > limit:
        raise ImageFileError(
            f"{path} is too large to open safely ({width}x{height} = {width * height} pixels, above the limit "
            f"of {limit}): a small malicious file can expand to fill memory. If you trust this file, raise the "
            "limit with --max-pixels N (or --max-pixels 0 for no limit)."
        )


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
    if _is_png16_color(path):
        return _read_png16(path, limit)
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


# --------------------------------------------------------------------------- 16-bit colour PNG

_PNG_SIG = b"\x89PNG\r\n\x1a\n"


def _is_png16_color(path):
    """True for a 16-bit colour (or gray+alpha) PNG, which Pillow reads as 8 bits."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(29)
    except OSError:
        return False
    if len(head) < 29 or head[:8] != _PNG_SIG or head[12:16] != b"IHDR":
        return False
    return head[24] == 16 and head[25] in (2, 4, 6)


def _png_chunks(data, path):
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ImageFileError(f"{path} is truncated (a PNG chunk is cut short); re-export or re-download it")
        yield kind, body
        pos += 12 + length
        if kind == b"IEND":
            return
    raise ImageFileError(f"{path} is truncated (no PNG end marker); re-export or re-download it")


def _read_png16(path, limit=None):
    with open(path, "rb") as fh:
        data = fh.read()
    idat, exif, icc, dpi = [], None, None, None
    header = None
    for kind, body in _png_chunks(data, path):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"eXIf":
            exif = body
        elif kind == b"iCCP":
            name_end = body.index(b"\x00")
            icc = zlib.decompress(body[name_end + 2 :])
        elif kind == b"pHYs":
            px, py, unit = struct.unpack(">IIB", body)
            if unit == 1:
                dpi = (px * 0.0254, py * 0.0254)
    width, height, depth, ctype, _, _, interlace = header
    _check_pixels(path, (width, height), limit)
    if interlace:
        raise ImageFileError(
            f"{path} is an interlaced 16-bit colour PNG, which deblur cannot read; save it without interlacing"
        )
    channels = {2: 3, 4: 2, 6: 4}[ctype]
    bpp = 2 * channels
    stride = width * bpp
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as exc:
        raise ImageFileError(f"{path} could not be decoded ({exc}); the file is probably damaged") from None
    if len(raw) < height * (stride + 1):
        raise ImageFileError(f"{path} is truncated (image data ends early); re-export or re-download it")
    rows = np.frombuffer(raw, np.uint8, height * (stride + 1)).reshape(height, stride + 1)
    out = _png_unfilter(rows[:, 1:], rows[:, 0], bpp)
    arr = out.view(">u2").reshape(height, width, channels).astype(np.uint16)
    alpha = None
    if ctype in (4, 6):
        alpha, arr = arr[..., -1].copy(), arr[..., :-1]
    if arr.shape[-1] == 1:
        arr = arr[..., 0]
    return ImageData(np.ascontiguousarray(arr), alpha, "PNG", "16-bit colour PNG", exif, icc, dpi, [])


def _png_unfilter(filtered, kinds, bpp):
    """Undo PNG's per-row filters (spec section 9). Sub and Up are vectorised;
    Average and Paeth run a loop along the row in plain integers."""
    h, n = filtered.shape
    out = np.zeros((h, n), np.uint8)
    prior = np.zeros(n, np.uint8)
    for r in range(h):
        line, kind = filtered[r], kinds[r]
        if kind == 0:
            cur = line.copy()
        elif kind == 1:  # Sub: a running sum (mod 256) along each byte lane
            cur = np.cumsum(line.reshape(-1, bpp), axis=0, dtype=np.uint8).reshape(-1)
        elif kind == 2:  # Up
            cur = line + prior
        elif kind in (3, 4):
            cur = _unfilter_sequential(line.tolist(), prior.tolist(), bpp, kind)
        else:
            raise ImageFileError(f"invalid PNG filter type {kind}; the file is damaged")
        out[r] = cur
        prior = out[r]
    return out


def _unfilter_sequential(line, prior, bpp, kind):
    cur = [0] * len(line)
    for i, x in enumerate(line):
        a = cur[i - bpp] if i >= bpp else 0
        b = prior[i]
        if kind == 3:
            cur[i] = (x + ((a + b) >> 1)) & 0xFF
        else:
            c = prior[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
            cur[i] = (x + pred) & 0xFF
    return np.asarray(cur, np.uint8)


def _png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _encode_png16(pixels, alpha, exif, icc, dpi):
    """A 16-bit PNG (gray+alpha or colour), written with the Up filter."""
    arr = pixels if pixels.ndim == 3 else pixels[..., None]
    if alpha is not None:
        arr = np.concatenate([arr, alpha[..., None]], axis=-1)
    h, w, c = arr.shape
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = arr.astype(">u2").view(np.uint8).reshape(h, w * c * 2)
    up = raw.copy()
    up[1:] -= raw[:-1]  # uint8 arithmetic wraps mod 256, as the filter wants
    rows = np.concatenate([np.full((h, 1), 2, np.uint8), up], axis=1)
    parts = [_PNG_SIG, _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, 0))]
    if icc:
        parts.append(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    if dpi:
        ppm = [int(round(d / 0.0254)) for d in dpi]
        parts.append(_png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
    if exif:
        body = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
        parts.append(_png_chunk(b"eXIf", body))
    parts.append(_png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)))
    parts.append(_png_chunk(b"IEND", b""))
    return b"".join(parts)


# --------------------------------------------------------------------------- writing


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
            blob = _encode_png16(pixels, alpha, data.exif, data.icc_profile, data.dpi)
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
    return ImageData(np.asarray(im), None, "PNG", "RGB")
