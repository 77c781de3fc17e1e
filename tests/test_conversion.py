"""The float -> integer conversions give, bit for bit, what they gave before they went by blocks in float32."""

import numpy as np
import pytest

from deblur import images
from deblur import io as imio


def old_io_from_float(values, dtype):
    """``deblur.io.from_float`` before the float32 conversion: float64 temporaries of the whole image."""
    dtype = np.dtype(dtype)
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}[dtype]
    return np.clip(np.rint(np.asarray(values, dtype=np.float64) * scale), 0, scale).astype(dtype)


def old_images_from_float(image, dtype):
    """``deblur.images.from_float``'s integer branch before it went by blocks of rows."""
    dtype = np.dtype(dtype)
    return np.rint(np.clip(image, 0.0, 1.0) * images.INT_SCALE[dtype]).astype(dtype)


def _random_images(float_dtype):
    rng = np.random.default_rng(20240611)
    yield rng.uniform(-0.25, 1.25, (517, 389, 3)).astype(float_dtype)  # colour, more rows than one block
    yield rng.uniform(0.0, 1.0, (300, 1100)).astype(float_dtype)  # gray
    yield (rng.standard_normal((64, 80, 3)) * 10.0).astype(float_dtype)  # far outside [0, 1]
    yield rng.uniform(-1.0, 2.0, 1000).astype(float_dtype)  # 1-D
    yield rng.uniform(0.0, 1.0, (0, 7)).astype(float_dtype)  # empty


def _near_ties(scale, float_dtype):
    """Values whose float32 product with ``scale`` lands on or next to a half-way point k + 0.5."""
    k = np.arange(-2, scale + 2, dtype=np.float64)
    center = ((k + 0.5) / scale).astype(float_dtype)
    values = [center]
    up, down = center, center
    for _ in range(4):
        up, down = np.nextafter(up, float_dtype(np.inf)), np.nextafter(down, float_dtype(-np.inf))
        values += [up, down]
    return np.concatenate(values)


@pytest.mark.parametrize("float_dtype", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("int_dtype", [np.uint8, np.uint16])
def test_io_from_float_bit_for_bit(float_dtype, int_dtype):
    scale = 255 if int_dtype == np.uint8 else 65535
    cases = list(_random_images(float_dtype)) + [_near_ties(scale, float_dtype)]
    cases.append(np.array([0.0, 1.0, -0.0, 6e4, -6e4, 0.5, 1 / 255, 1 / 65535], dtype=float_dtype))
    for values in cases:
        new = imio.from_float(values, int_dtype)
        old = old_io_from_float(values, int_dtype)
        assert new.dtype == old.dtype == np.dtype(int_dtype)
        assert new.shape == old.shape
        np.testing.assert_array_equal(new, old)


def test_near_ties_do_differ_in_plain_float32():
    """The case the float64 fix-up is there for: a float32 product alone would round some of these otherwise."""
    values = _near_ties(255, np.float32)
    plain = np.clip(np.rint(values * np.float32(255)), 0, 255).astype(np.uint8)
    assert np.any(plain != old_io_from_float(values, np.uint8))
    np.testing.assert_array_equal(imio.from_float(values, np.uint8), old_io_from_float(values, np.uint8))


@pytest.mark.parametrize("float_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("int_dtype", [np.uint8, np.uint16])
def test_images_from_float_bit_for_bit(float_dtype, int_dtype):
    scale = 255 if int_dtype == np.uint8 else 65535
    for image in list(_random_images(float_dtype)) + [_near_ties(scale, float_dtype)]:
        new = images.from_float(image, int_dtype)
        old = old_images_from_float(image, int_dtype)
        assert new.dtype == old.dtype
        np.testing.assert_array_equal(new, old)


def test_io_from_float_non_contiguous_and_integer_input():
    rng = np.random.default_rng(3)
    image = rng.uniform(-0.1, 1.1, (200, 300, 3)).astype(np.float32)
    view = np.moveaxis(image, -1, 0)[:, ::2]
    np.testing.assert_array_equal(imio.from_float(view, np.uint8), old_io_from_float(view, np.uint8))
    ints = np.array([[0, 1], [2, -1]])
    np.testing.assert_array_equal(imio.from_float(ints, np.uint16), old_io_from_float(ints, np.uint16))


def test_from_float_float_targets_unchanged():
    image = np.random.default_rng(5).uniform(0, 1, (10, 12)).astype(np.float32)
    assert imio.from_float(image, np.float32).dtype == np.float32
    np.testing.assert_array_equal(imio.from_float(image, np.float64), image.astype(np.float64))
