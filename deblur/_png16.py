"""A small PNG codec: 16-bit colour, which Pillow would silently reduce to 8 bits, and fast writes.

Reading undoes the five PNG row filters (spec section 9) and keeps the
eXIf, iCCP and pHYs chunks; writing (8 and 16 bits) uses the Up filter and
deflates the rows in parallel pieces, each ended by a full flush so that
they join into one zlib stream (as pigz does). The pixel limit of
:func:`deblur.io.read_image` is checked from the header, before the image
data is inflated.
"""

import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import ImageFileError

__all__ = ["is_png16_color", "read_png16", "encode_png", "encode_png16"]


def _check_pixels(path, size, limit):
    """Refuse, before decoding, an image larger than ``limit`` pixels (a decompression bomb, maybe)."""
    width, height = size
    if limit is not None and width * height > limit:
        raise ImageFileError(
            f"{path} is too large to open safely ({width}x{height} = {width * height} pixels, above the limit "
            f"of {limit}): a small malicious file can expand to fill memory. If you trust this file, raise the "
            "limit with --max-pixels N (or --max-pixels 0 for no limit)."
        )



_PNG_SIG = b"\x89PNG\r\n\x1a\n"


def is_png16_color(path):
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


def read_png16(path, limit=None):
    """The pixels (uint16, gray+alpha or RGB[A] split), alpha, EXIF, ICC profile and dpi of a 16-bit PNG."""
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
    return np.ascontiguousarray(arr), alpha, exif, icc, dpi


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


def encode_png(pixels, alpha, exif, icc, dpi, level=6):
    """An 8- or 16-bit PNG (gray, gray+alpha, colour, colour+alpha), written with the Up filter."""
    arr = pixels if pixels.ndim == 3 else pixels[..., None]
    if alpha is not None:
        arr = np.concatenate([arr, alpha.astype(arr.dtype, copy=False)[..., None]], axis=-1)
    h, w, c = arr.shape
    depth = 8 * arr.dtype.itemsize
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = arr.astype(">u2" if depth == 16 else np.uint8, copy=False).view(np.uint8).reshape(h, w * c * depth // 8)
    rows = np.empty((h, raw.shape[1] + 1), np.uint8)
    rows[:, 0] = 2
    np.subtract(raw[1:], raw[:-1], out=rows[1:, 1:])  # uint8 arithmetic wraps mod 256, as the filter wants
    rows[0, 1:] = raw[0]
    parts = [_PNG_SIG, _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))]
    if icc:
        parts.append(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    if dpi:
        ppm = [int(round(d / 0.0254)) for d in dpi]
        parts.append(_png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
    if exif:
        body = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
        parts.append(_png_chunk(b"eXIf", body))
    parts.append(_png_chunk(b"IDAT", _deflate(rows, level)))
    parts.append(_png_chunk(b"IEND", b""))
    return b"".join(parts)


def encode_png16(pixels, alpha, exif, icc, dpi):
    """A 16-bit PNG (gray+alpha or colour): :func:`encode_png` at zlib level 6."""
    return encode_png(pixels, alpha, exif, icc, dpi, 6)


# Bytes per parallel deflate piece at least (a piece restarts the compressor's window: a
# few hundred bytes more per piece).
DEFLATE_PIECE = 4 << 20


def _deflate(rows, level):
    """One zlib stream of ``rows``' bytes, deflated in pieces of whole rows on several threads.

    zlib releases the GIL; each piece but the last ends with a full flush (byte-aligned, no
    back-references across it), so the raw pieces join into one stream under one header and
    the Adler-32 of the whole (a 12 MP colour PNG: 0.65 s on one core).
    """
    data = memoryview(np.ascontiguousarray(rows)).cast("B")
    n_pieces = max(1, min(os.cpu_count() or 1, 4, len(data) // DEFLATE_PIECE))
    if n_pieces == 1:
        return zlib.compress(data, level)
    bounds = [rows.shape[0] * i // n_pieces * rows.shape[1] for i in range(n_pieces + 1)]

    def piece(i):
        z = zlib.compressobj(level, zlib.DEFLATED, -15)
        body = z.compress(data[bounds[i] : bounds[i + 1]])
        return body + z.flush(zlib.Z_FINISH if i == n_pieces - 1 else zlib.Z_FULL_FLUSH)

    with ThreadPoolExecutor(n_pieces) as pool:
        bodies = list(pool.map(piece, range(n_pieces)))
    # the zlib header for a 32 KiB window (CMF 0x78) and the level's FLEVEL, its check bits set
    flevel = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    cmf, flg = 0x78, flevel << 6
    flg |= 31 - ((cmf << 8) | flg) % 31
    return bytes([cmf, flg]) + b"".join(bodies) + struct.pack(">I", zlib.adler32(data) & 0xFFFFFFFF)
