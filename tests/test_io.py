"""deblur.io: pixel types, alpha, palette, metadata, atomic writes, and clear errors."""

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from deblur import _png16
from deblur import io as imio

RNG = np.random.default_rng(7)


def _rgb8(h=10, w=12):
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()  # once: it embeds a timestamp


def _icc():
    return _ICC


def _exif():
    exif = Image.Exif()
    exif[0x010F] = "DeblurCam"  # Make
    exif[0x0110] = "Model 1"  # Model
    return exif.tobytes()


def _no_temp_files(folder):
    return not [n for n in os.listdir(folder) if n.endswith(".part")]


# --------------------------------------------------------------------------- reading pixel types


@pytest.mark.parametrize("ext", [".png", ".tif", ".bmp", ".webp"])
def test_rgb8_lossless_round_trip(tmp_path, ext):
    arr = _rgb8()
    path = tmp_path / f"x{ext}"
    kw = {"lossless": True} if ext == ".webp" else {}
    Image.fromarray(arr).save(path, **kw)
    data = imio.read_image(path)
    assert data.pixels.dtype == np.uint8 and data.alpha is None
    np.testing.assert_array_equal(data.pixels, arr)
    if ext != ".webp":  # deblur writes WebP lossy (--quality)
        imio.write_image(tmp_path / f"y{ext}", data)
        np.testing.assert_array_equal(imio.read_image(tmp_path / f"y{ext}").pixels, arr)


def test_gray8_and_describe(tmp_path):
    arr = RNG.integers(0, 256, (9, 11), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "g.png")
    data = imio.read_image(tmp_path / "g.png")
    assert data.pixels.shape == (9, 11) and not data.is_color
    assert data.describe() == "11x9 gray 8-bit"


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_gray16_stays_16_bit(tmp_path, ext):
    arr = RNG.integers(0, 65536, (9, 11), dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / f"g{ext}")
    data = imio.read_image(tmp_path / f"g{ext}")
    assert data.pixels.dtype == np.uint16 and data.bit_depth == 16
    np.testing.assert_array_equal(data.pixels, arr)
    imio.write_image(tmp_path / f"out{ext}", data)
    with Image.open(tmp_path / f"out{ext}") as im:
        np.testing.assert_array_equal(np.asarray(im), arr)


def test_rgb16_tiff_read_and_written_by_tifffile(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    arr = RNG.integers(0, 65536, (8, 10, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "c.tif", arr, photometric="rgb")
    data = imio.read_image(tmp_path / "c.tif")
    assert data.pixels.dtype == np.uint16
    np.testing.assert_array_equal(data.pixels, arr)
    imio.write_image(tmp_path / "o.tif", data)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "o.tif"), arr)


def test_float_tiff_gray_and_rgb(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    gray = RNG.random((8, 10)).astype(np.float32)
    Image.fromarray(gray).save(tmp_path / "g.tif")
    data = imio.read_image(tmp_path / "g.tif")
    assert data.pixels.dtype == np.float32
    np.testing.assert_array_equal(data.pixels, gray)
    rgb = RNG.random((8, 10, 3)).astype(np.float32)
    tifffile.imwrite(tmp_path / "c.tif", rgb, photometric="rgb")  # Pillow cannot open this one
    data = imio.read_image(tmp_path / "c.tif")
    np.testing.assert_array_equal(data.pixels, rgb)
    imio.write_image(tmp_path / "o.tif", data)
    np.testing.assert_array_equal(imio.read_image(tmp_path / "o.tif").pixels, rgb)


def _png16_naive(arr, filter_type):
    """A 16-bit PNG with every row filtered by ``filter_type`` (spec 9.2, written the obvious way)."""
    h, w, c = arr.shape
    raw = arr.astype(">u2").view(np.uint8).reshape(h, w * c * 2).astype(int)
    bpp = 2 * c
    rows = []
    for r in range(h):
        line, prior = raw[r], raw[r - 1] if r else np.zeros_like(raw[0])
        out = []
        for i, x in enumerate(line):
            a = line[i - bpp] if i >= bpp else 0
            b = prior[i]
            cc = prior[i - bpp] if i >= bpp else 0
            if filter_type == 0:
                pred = 0
            elif filter_type == 1:
                pred = a
            elif filter_type == 2:
                pred = b
            elif filter_type == 3:
                pred = (a + b) // 2
            else:
                p = a + b - cc
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else cc)
            out.append((x - pred) % 256)
        rows.append(bytes([filter_type]) + bytes(out))
    ctype = {2: 4, 3: 2, 4: 6}[c]
    chunk = _png16._png_chunk
    return (_png16._PNG_SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("channels", [2, 3, 4])
def test_png16_colour_decoder_matches_naive_encoder(tmp_path, filter_type, channels):
    arr = RNG.integers(0, 65536, (5, 7, channels), dtype=np.uint16)
    (tmp_path / "c.png").write_bytes(_png16_naive(arr, filter_type))
    data = imio.read_image(tmp_path / "c.png")
    assert data.pixels.dtype == np.uint16
    colour = arr[..., :3] if channels >= 3 else arr[..., 0]
    np.testing.assert_array_equal(data.pixels, colour)
    if channels in (2, 4):
        np.testing.assert_array_equal(data.alpha, arr[..., -1])
    else:
        assert data.alpha is None


def test_png16_colour_round_trip_with_metadata(tmp_path):
    arr = RNG.integers(0, 65536, (6, 9, 3), dtype=np.uint16)
    alpha = RNG.integers(0, 65536, (6, 9), dtype=np.uint16)
    data = imio.ImageData(arr, alpha, exif=_exif(), icc_profile=_icc(), dpi=(300.0, 300.0))
    imio.write_image(tmp_path / "c.png", data)
    back = imio.read_image(tmp_path / "c.png")
    np.testing.assert_array_equal(back.pixels, arr)
    np.testing.assert_array_equal(back.alpha, alpha)
    assert back.icc_profile == data.icc_profile
    assert Image.Exif().load(back.exif) is None or back.exif
    assert round(back.dpi[0]) == 300
    with Image.open(tmp_path / "c.png") as im:  # a valid PNG for other readers too
        im.load()
        assert im.size == (9, 6)
        assert im.getexif()[0x010F] == "DeblurCam"


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("shape", [(40, 37), (40, 37, 3)])
@pytest.mark.parametrize("with_alpha", [False, True])
def test_large_png_written_by_the_parallel_codec(tmp_path, monkeypatch, dtype, shape, with_alpha):
    """An image above two deflate pieces goes through _png16's encoder: the same pixels and metadata back."""
    from deblur import _image_write

    monkeypatch.setattr(_image_write, "DEFLATE_PIECE", 500)
    monkeypatch.setattr(_png16, "DEFLATE_PIECE", 500)
    calls, deflate = [], _png16._deflate
    monkeypatch.setattr(_png16, "_deflate", lambda *a: calls.append(1) or deflate(*a))
    top = np.iinfo(dtype).max + 1
    arr = RNG.integers(0, top, shape, dtype=dtype)
    alpha = RNG.integers(0, top, shape[:2], dtype=dtype) if with_alpha else None
    data = imio.ImageData(arr, alpha, exif=_exif(), icc_profile=_icc(), dpi=(300.0, 300.0))
    imio.write_image(tmp_path / "big.png", data)
    assert calls
    back = imio.read_image(tmp_path / "big.png")
    np.testing.assert_array_equal(back.pixels, arr)
    if with_alpha:
        np.testing.assert_array_equal(back.alpha, alpha)
    assert back.icc_profile == _icc() and round(back.dpi[0]) == 300
    with Image.open(tmp_path / "big.png") as im:  # a valid PNG for Pillow too
        im.load()
        assert im.getexif()[0x010F] == "DeblurCam"


@pytest.mark.parametrize("level", [1, 6, 9])
def test_deflate_in_pieces_is_one_zlib_stream(monkeypatch, level):
    monkeypatch.setattr(_png16, "DEFLATE_PIECE", 500)
    rows = RNG.integers(0, 8, (97, 41), dtype=np.uint8)
    stream = _png16._deflate(rows, level)
    assert zlib.decompress(stream) == rows.tobytes()
    assert zlib.decompressobj().decompress(stream[:2] + b"") == b""  # a valid header alone


def test_rgba_alpha_kept_apart(tmp_path):
    rgba = np.dstack([_rgb8(), RNG.integers(0, 256, (10, 12), dtype=np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "a.png")
    data = imio.read_image(tmp_path / "a.png")
    assert data.pixels.shape == (10, 12, 3)
    np.testing.assert_array_equal(data.alpha, rgba[..., 3])
    imio.write_image(tmp_path / "b.png", data)
    with Image.open(tmp_path / "b.png") as im:
        assert im.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(im), rgba)


def test_gray_alpha(tmp_path):
    la = RNG.integers(0, 256, (6, 7, 2), dtype=np.uint8)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    data = imio.read_image(tmp_path / "la.png")
    assert data.pixels.shape == (6, 7)
    np.testing.assert_array_equal(data.alpha, la[..., 1])


def test_palette_converted_with_note(tmp_path):
    im = Image.fromarray(_rgb8()).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    im.save(tmp_path / "p.png")
    data = imio.read_image(tmp_path / "p.png")
    assert data.pixels.shape == (10, 12, 3) and data.alpha is None
    assert any("palette" in n for n in data.notes)
    np.testing.assert_array_equal(data.pixels, np.asarray(im.convert("RGB")))


def test_palette_with_transparency_gets_alpha(tmp_path):
    im = Image.fromarray(_rgb8()).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    im.info["transparency"] = 0
    im.save(tmp_path / "p.png", transparency=0)
    data = imio.read_image(tmp_path / "p.png")
    assert data.alpha is not None and data.alpha.min() == 0


def test_bilevel_and_cmyk(tmp_path):
    Image.fromarray(RNG.random((8, 8)) > 0.5).save(tmp_path / "b.png")
    data = imio.read_image(tmp_path / "b.png")
    assert data.pixels.dtype == np.uint8 and set(np.unique(data.pixels)) <= {0, 255}
    Image.fromarray(_rgb8()).convert("CMYK").save(tmp_path / "c.jpg", icc_profile=b"not-rgb")
    data = imio.read_image(tmp_path / "c.jpg")
    assert data.pixels.shape == (10, 12, 3)
    assert data.icc_profile is None and any("CMYK" in n for n in data.notes)


# --------------------------------------------------------------------------- metadata


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".webp"])
def test_exif_and_icc_carried(tmp_path, ext):
    src = tmp_path / f"s{ext}"
    Image.fromarray(_rgb8(16, 16)).save(src, exif=_exif(), icc_profile=_icc())
    data = imio.read_image(src)
    assert data.icc_profile == _icc()
    out = tmp_path / f"o{ext}"
    notes = imio.write_image(out, data)
    assert notes == []
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == _icc()
        assert im.getexif()[0x010F] == "DeblurCam"


def test_bmp_drops_metadata_with_note(tmp_path):
    data = imio.ImageData(_rgb8(), exif=_exif(), icc_profile=_icc())
    notes = imio.write_image(tmp_path / "o.bmp", data)
    assert any("BMP" in n for n in notes)


def test_jpeg_quality_and_depth_reduction(tmp_path):
    arr = RNG.integers(0, 65536, (16, 16, 3), dtype=np.uint16)
    data = imio.ImageData(arr, alpha=np.zeros((16, 16), np.uint16))
    notes = imio.write_image(tmp_path / "lo.jpg", data, quality=10)
    assert any("8 bits" in n for n in notes) and any("alpha" in n for n in notes)
    imio.write_image(tmp_path / "hi.jpg", data, quality=100)
    assert os.path.getsize(tmp_path / "hi.jpg") > os.path.getsize(tmp_path / "lo.jpg")


def test_float_to_png_becomes_16_bit(tmp_path):
    data = imio.ImageData(RNG.random((5, 6)).astype(np.float32))
    notes = imio.write_image(tmp_path / "f.png", data)
    assert any("16-bit" in n for n in notes)
    assert imio.read_image(tmp_path / "f.png").pixels.dtype == np.uint16


# --------------------------------------------------------------------------- errors


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(imio.ImageFileError, match="does not exist"):
        imio.read_image(tmp_path / "nope.png")
    with pytest.raises(imio.ImageFileError, match="folder"):
        imio.read_image(tmp_path)


def test_not_an_image(tmp_path):
    (tmp_path / "x.png").write_text("hello")
    with pytest.raises(imio.ImageFileError, match="not an image"):
        imio.read_image(tmp_path / "x.png")


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_truncated_file(tmp_path, ext):
    Image.fromarray(_rgb8(40, 40)).save(tmp_path / f"t{ext}")
    blob = (tmp_path / f"t{ext}").read_bytes()
    (tmp_path / f"t{ext}").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(imio.ImageFileError, match="truncated|damaged"):
        imio.read_image(tmp_path / f"t{ext}")


def test_truncated_png16(tmp_path):
    arr = RNG.integers(0, 65536, (6, 9, 3), dtype=np.uint16)
    imio.write_image(tmp_path / "c.png", imio.ImageData(arr))
    blob = (tmp_path / "c.png").read_bytes()
    (tmp_path / "c.png").write_bytes(blob[: len(blob) - 40])
    with pytest.raises(imio.ImageFileError, match="truncated|damaged"):
        imio.read_image(tmp_path / "c.png")


def test_decompression_bomb_is_a_clear_error(tmp_path):
    Image.fromarray(_rgb8(20, 20)).save(tmp_path / "big.png")
    with pytest.raises(imio.ImageFileError, match="--max-pixels"):
        imio.read_image(tmp_path / "big.png", max_pixels=100)
    # between the limit and twice it Pillow only warns: still refused, and the limit is restored after
    with pytest.raises(imio.ImageFileError, match="too large"):
        imio.read_image(tmp_path / "big.png", max_pixels=300)
    assert imio.read_image(tmp_path / "big.png", max_pixels=0).pixels.shape == (20, 20, 3)
    assert Image.MAX_IMAGE_PIXELS and Image.MAX_IMAGE_PIXELS > 10**6


def test_unknown_output_extension():
    with pytest.raises(imio.ImageFileError, match=".png"):
        imio.output_format("out.xyz")


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_refuses_existing(tmp_path):
    target = tmp_path / "o.png"
    target.write_bytes(b"keep")
    with pytest.raises(imio.OutputExistsError, match="--overwrite"):
        imio.atomic_write(target, lambda fh: fh.write(b"new"))
    assert target.read_bytes() == b"keep"
    imio.atomic_write(target, lambda fh: fh.write(b"new"), overwrite=True)
    assert target.read_bytes() == b"new"
    assert _no_temp_files(tmp_path)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_write_failure_leaves_nothing(tmp_path, error):
    def write(fh):
        fh.write(b"partial")
        raise error("boom")

    with pytest.raises(error):
        imio.atomic_write(tmp_path / "o.png", write)
    assert os.listdir(tmp_path) == []


def test_atomic_write_failure_keeps_old_file(tmp_path):
    target = tmp_path / "o.png"
    target.write_bytes(b"old")

    def write(fh):
        fh.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(imio.ImageFileError, match="disk full"):
        imio.atomic_write(target, write, overwrite=True)
    assert target.read_bytes() == b"old" and _no_temp_files(tmp_path)


def test_atomic_write_file_mode_follows_umask(tmp_path):
    imio.atomic_write(tmp_path / "o.bin", lambda fh: fh.write(b"x"))
    mode = os.stat(tmp_path / "o.bin").st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_unwritable_or_missing_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(imio.ImageFileError, match="cannot write"):
        imio.atomic_write(tmp_path / "file" / "o.png", lambda fh: fh.write(b"x"))
    with pytest.raises(imio.ImageFileError, match="does not exist"):
        imio.check_output(tmp_path / "missing" / "o.png")
    with pytest.raises(imio.OutputExistsError):
        imio.check_output(tmp_path / "file")


def test_to_from_float():
    u8 = np.array([0, 128, 255], np.uint8)
    np.testing.assert_array_equal(imio.from_float(imio.to_float(u8), np.uint8), u8)
    u16 = np.array([0, 1, 65535], np.uint16)
    np.testing.assert_array_equal(imio.from_float(imio.to_float(u16, np.float64), np.uint16), u16)
    np.testing.assert_array_equal(imio.from_float(np.array([-0.5, 1.5]), np.uint8), [0, 255])


def test_side_by_side():
    pair = imio.side_by_side(np.zeros((50, 40), np.uint16), np.full((50, 40), 65535, np.uint16))
    assert pair.pixels.shape == (50 + 14, 84, 3) and pair.pixels.dtype == np.uint8
    assert pair.pixels[30, 10, 0] == 0 and pair.pixels[30, 70, 0] == 255


def test_reading_never_changes_pillows_pixel_limit(tmp_path, monkeypatch):
    """The limit is checked from the header; PIL.Image.MAX_IMAGE_PIXELS is read, never written, per file."""
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "big.png")
    sentinel = 10**7 + 1
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", sentinel)
    seen = []
    real_load = Image.Image.load

    def load(self):
        seen.append(Image.MAX_IMAGE_PIXELS)
        return real_load(self)

    monkeypatch.setattr(Image.Image, "load", load)
    for limit in (0, 500, None):
        imio.read_image(tmp_path / "big.png", max_pixels=limit)
    with pytest.raises(imio.ImageFileError, match="--max-pixels"):
        imio.read_image(tmp_path / "big.png", max_pixels=399)
    assert seen and set(seen) == {sentinel} and Image.MAX_IMAGE_PIXELS == sentinel


def test_a_16bit_colour_png_obeys_the_pixel_limit(tmp_path):
    pixels = np.full((20, 20, 3), 1000, np.uint16)
    imio.write_image(tmp_path / "deep.png", imio.ImageData(pixels))
    with pytest.raises(imio.ImageFileError, match="--max-pixels"):
        imio.read_image(tmp_path / "deep.png", max_pixels=100)
    assert imio.read_image(tmp_path / "deep.png", max_pixels=400).pixels.dtype == np.uint16


def test_atomic_write_never_touches_the_umask(tmp_path, monkeypatch):
    from deblur import atomic

    def no_umask(mask):
        raise AssertionError("os.umask called while writing")

    umask = atomic._read_umask()
    monkeypatch.setattr(os, "umask", no_umask)
    for i in range(2):
        imio.atomic_write(tmp_path / f"f{i}.bin", lambda fh: fh.write(b"x"))
    if umask is not None:  # Linux tells it in /proc/self/status
        assert os.stat(tmp_path / "f1.bin").st_mode & 0o777 == 0o666 & ~umask
