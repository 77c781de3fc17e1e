"""PSF builders, spec strings, files and validation."""

import math

import numpy as np
import pytest

import deblur
import naive
from deblur import psf


def assert_normalised(k):
    assert k.dtype == np.float64 and k.ndim == 2
    assert np.all(k >= 0)
    assert k.sum() == pytest.approx(1.0, abs=1e-12)


def centroid(k):
    rows, cols = np.indices(k.shape)
    return float((rows * k).sum()), float((cols * k).sum())


@pytest.mark.parametrize(
    "k",
    [psf.gaussian(0.7), psf.gaussian(2.0), psf.gaussian(1.0, size=4)]
    + [psf.disk(0.3), psf.disk(2.5), psf.box(1), psf.box(4)]
    + [psf.motion(length, angle) for length in (1, 2.5, 7) for angle in (0, 33, 90, 200)],
)
def test_builders_are_normalised(k):
    assert_normalised(k)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.3])
def test_gaussian_symmetric_and_centred(sigma):
    k = psf.gaussian(sigma)
    assert k.shape == (2 * math.ceil(3 * sigma) + 1,) * 2
    np.testing.assert_allclose(k, k.T, atol=1e-15)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)
    c = k.shape[0] // 2
    assert np.unravel_index(np.argmax(k), k.shape) == (c, c)
    assert centroid(k) == pytest.approx((c, c))
    # second moment along a row is sigma^2 (sampling shrinks it below sigma = 1)
    rows = np.arange(k.shape[0]) - c
    if sigma >= 1:
        assert float((rows**2 * k.sum(axis=1)).sum()) == pytest.approx(sigma**2, rel=0.05)


def test_gaussian_even_size_puts_the_peak_on_the_centre_tap():
    k = psf.gaussian(1.0, size=4)
    assert k.shape == (4, 4)
    assert np.unravel_index(np.argmax(k), k.shape) == (2, 2)
    np.testing.assert_allclose(k[1:, 1:], k[1:, 1:][::-1, ::-1], atol=1e-15)  # symmetric about (2, 2)


@pytest.mark.parametrize("radius", [1.0, 2.5, 3.0, 5.0])
def test_disk_radius(radius):
    k = psf.disk(radius)
    half = math.ceil(radius)
    assert k.shape == (2 * half + 1,) * 2
    for turned in (k.T, k[::-1], k[:, ::-1], np.rot90(k)):
        np.testing.assert_allclose(turned, k, atol=1e-15)
    # fully covered pixels carry the top value; the area they stand for is pi r^2
    assert 1.0 / k.max() == pytest.approx(math.pi * radius**2, rel=0.05)
    rows, cols = np.indices(k.shape) - half
    nearest = np.hypot(np.maximum(np.abs(rows) - 0.5, 0), np.maximum(np.abs(cols) - 0.5, 0))
    assert np.all(k[nearest > radius] == 0)
    farthest = np.hypot(np.abs(rows) + 0.5, np.abs(cols) + 0.5)
    np.testing.assert_allclose(k[farthest <= radius], k.max())


def test_tiny_disk_is_a_delta():
    k = psf.disk(0.05)
    assert k[k.shape[0] // 2, k.shape[1] // 2] == 1.0


@pytest.mark.parametrize("length", [3, 5, 9])
def test_motion_at_angle_zero_is_a_horizontal_line(length):
    k = psf.motion(length, 0)
    c = k.shape[0] // 2
    assert np.all(k[np.arange(k.shape[0]) != c] == 0)
    row = k[c]
    support = np.flatnonzero(row)
    assert support.size == length and np.all(np.diff(support) == 1)  # contiguous, `length` taps
    np.testing.assert_allclose(row, row[::-1], atol=1e-15)  # centred
    np.testing.assert_allclose(psf.motion(length, 90), k.T, atol=1e-12)
    np.testing.assert_allclose(psf.motion(length, 180), k, atol=1e-12)


def test_motion_angle_is_counter_clockwise_with_rows_growing_down():
    k = psf.motion(7, 45)
    rows, cols = np.indices(k.shape) - k.shape[0] // 2
    covariance = float((rows * cols * k).sum())
    assert covariance < -1.0  # going right (+x) goes up (-row)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-12)  # a centred segment
    assert centroid(k) == pytest.approx((k.shape[0] // 2,) * 2)


def test_box_even_size():
    k = psf.box(4)
    assert k.shape == (4, 4)
    np.testing.assert_allclose(k, 1 / 16)


@pytest.mark.parametrize("size", [1, 3, 4])
@pytest.mark.parametrize("boundary", ["valid", "reflect", "periodic"])
def test_delta_kernel_leaves_the_image_unchanged(size, boundary):
    """The centre convention end to end: a 1 at (size // 2, size // 2) is no blur at all."""
    y = naive.scene((12, 10))
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1.0
    out = deblur.restore(
        y, delta, boundary=boundary, regularizer="none", weight=0, max_num_iter=20, precision="float64"
    )
    np.testing.assert_allclose(out, y, atol=1e-12)


def test_off_centre_delta_shifts_like_scipy_ndimage():
    y = naive.scene((12, 10))
    shift = np.zeros((3, 3))
    shift[1, 2] = 1.0  # k[1, 2] = 1: out[i, j] = x[i, j - 1] under the convolution
    blurred = naive.blur(y, shift, "periodic")
    np.testing.assert_allclose(blurred, np.roll(y, 1, axis=1))
    out = deblur.restore(
        blurred, shift, boundary="periodic", regularizer="none", weight=0, max_num_iter=50, precision="float64"
    )
    np.testing.assert_allclose(out, y, atol=1e-6)


# --- spec strings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("gaussian:sigma=2", psf.gaussian(2)),
        ("gaussian:sigma=1.5,size=5", psf.gaussian(1.5, size=5)),
        ("  Gaussian : sigma = 1 ", psf.gaussian(1)),
        ("disk:radius=3", psf.disk(3)),
        ("motion:length=15,angle=30", psf.motion(15, 30)),
        ("motion:length=5", psf.motion(5, 0)),
        ("box:size=5", psf.box(5)),
    ],
)
def test_parse_specs(spec, expected):
    np.testing.assert_array_equal(psf.parse(spec), expected)


@pytest.mark.parametrize(
    "spec, match",
    [
        ("blob:size=3", r"unknown PSF kind 'blob'; use one of: gaussian:sigma=2, disk:radius=3"),
        ("", "unknown PSF kind"),
        ("gaussian", r"missing parameter\(s\) \['sigma'\]; write it as gaussian:sigma=2"),
        ("gaussian:", r"missing parameter\(s\) \['sigma'\]"),
        ("gaussian:sigma", r"malformed PSF spec parameter 'sigma' in 'gaussian': write key=value"),
        ("gaussian:sigma=", "malformed PSF spec parameter"),
        ("gaussian:sigma=1,", "malformed PSF spec parameter"),
        ("gaussian:=2", "malformed PSF spec parameter"),
        ("gaussian:sigma=2,radius=3", r"unknown parameter\(s\) \['radius'\]"),
        ("gaussian:sigma=abc", "PSF sigma must be a number, got 'abc'"),
        ("gaussian:sigma=-1", "PSF sigma must be a positive finite number"),
        ("gaussian:sigma=nan", "positive finite"),
        ("gaussian:sigma=1,size=4.5", "PSF size must be a whole number of pixels"),
        ("disk:radius=0", "PSF radius must be a positive finite number"),
        ("motion:length=inf", "positive finite"),
        ("motion:length=5,angle=up", "PSF angle must be a number of degrees"),
        ("motion:length=5,angle=nan", "PSF angle must be finite"),
        ("box:size=0", "PSF size must be a positive finite number"),
        ("box:size=2.5", "whole number of pixels"),
    ],
)
def test_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        psf.parse(spec)


@pytest.mark.parametrize("spec", ["blob:radius=1.5", "gauss:sigma=2.5"])
def test_unknown_kind_with_a_decimal_parameter_lists_the_kinds(spec):
    with pytest.raises(ValueError, match="unknown PSF kind"):
        psf.parse(spec)


def test_parse_rejects_non_strings():
    with pytest.raises(TypeError, match="PSF spec must be a string or a path"):
        psf.parse(3)


# --- files -------------------------------------------------------------------------------------


def test_load_npy_csv_txt_png(tmp_path):
    from PIL import Image

    k = np.array([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 2.0]])
    expected = k / k.sum()
    np.save(tmp_path / "k.npy", k)
    np.savetxt(tmp_path / "k.csv", k, delimiter=",")
    np.savetxt(tmp_path / "k.txt", k)
    Image.fromarray((k * 50).astype(np.uint8)).save(tmp_path / "k.png")
    for name in ("k.npy", "k.csv", "k.txt", "k.png"):
        loaded = psf.parse(str(tmp_path / name))
        np.testing.assert_allclose(loaded, expected, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(psf.load(tmp_path / "k.npy"), expected)  # path-like


def test_load_errors(tmp_path):
    with pytest.raises(ValueError, match="PSF file not found"):
        psf.parse(str(tmp_path / "missing.npy"))
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="could not read PSF file"):
        psf.load(tmp_path / "bad.npy")
    np.save(tmp_path / "zeros.npy", np.zeros((3, 3)))
    with pytest.raises(ValueError, match="positive sum"):
        psf.load(tmp_path / "zeros.npy")


# --- validation --------------------------------------------------------------------------------


def test_validate_normalises():
    k = psf.validate([[1, 2], [3, 2]])
    np.testing.assert_allclose(k, [[0.125, 0.25], [0.375, 0.25]])
    assert k.dtype == np.float64


@pytest.mark.parametrize(
    "kernel, error, match",
    [
        (np.array([[np.nan, 1.0]]), ValueError, "NaN or Inf"),
        (np.array([[np.inf, 1.0]]), ValueError, "NaN or Inf"),
        (np.zeros((3, 3)), ValueError, r"sums to 0; a blur kernel needs a positive sum \(is it all zeros\?\)"),
        (np.array([[1.0, -0.5]]), ValueError, "negative values"),
        (-np.ones((2, 2)), ValueError, "negative values"),
        (np.ones(3), ValueError, "must be 2-D, got 1-D"),
        (np.ones((2, 2, 2)), ValueError, "must be 2-D, got 3-D"),
        (np.ones((0, 3)), ValueError, "is empty"),
        (np.ones((2, 2), dtype=complex), TypeError, "real numeric array"),
        (np.array([["a", "b"]]), TypeError, "real numeric array"),
        (None, TypeError, "real numeric array"),
    ],
)
def test_validate_errors(kernel, error, match):
    with pytest.raises(error, match=match):
        psf.validate(kernel)


def test_validate_huge_but_finite_taps():
    k = psf.validate(np.full((3, 3), 1e308))
    np.testing.assert_allclose(k, 1 / 9)


def test_gaussian_with_tiny_sigma_is_a_delta():
    k = psf.gaussian(1e-300)
    assert k.shape == (3, 3) and k[1, 1] == 1.0


def test_a_3d_npy_kernel_is_refused_not_averaged(tmp_path):
    """A 5x5x7 stack used to be averaged to 5x5 silently."""
    path = tmp_path / "stack.npy"
    np.save(path, np.ones((5, 5, 7)))
    with pytest.raises(ValueError, match=r"2-D.*\(5, 5, 7\)"):
        psf.load(path)
    with pytest.raises(ValueError, match="2-D"):
        psf.parse(str(path))


def test_a_colour_kernel_picture_is_read_as_its_gray_levels(tmp_path):
    from PIL import Image

    rgb = np.zeros((5, 5, 3), np.uint8)
    rgb[2, 2] = 255
    Image.fromarray(rgb).save(tmp_path / "k.png")
    kernel = psf.load(tmp_path / "k.png")
    assert kernel.shape == (5, 5) and kernel[2, 2] == 1.0


@pytest.mark.parametrize("spec", ["estimate", "estimate:size=5", " Estimate : size=9", "ESTIMATE"])
def test_estimate_is_recognised_in_one_place(spec):
    assert psf.is_estimate(spec)
    with pytest.raises(ValueError, match="estimated from an image"):
        psf.parse(spec)


@pytest.mark.parametrize("spec", ["gaussian:sigma=1", "estimated.npy", None, 3])
def test_other_specs_are_not_estimates(spec):
    assert not psf.is_estimate(spec)


@pytest.mark.parametrize("ext", [".npy", ".csv", ".png", ".tif"])
def test_save_and_load_round_trip(tmp_path, ext):
    kernel = psf.motion(7, angle=30)
    psf.save(tmp_path / f"k{ext}", kernel)
    back = psf.load(tmp_path / f"k{ext}")
    tol = {".npy": 0, ".csv": 0, ".png": 1e-4, ".tif": 1e-6}[ext]
    np.testing.assert_allclose(back, kernel, atol=tol)
    with pytest.raises(FileExistsError):
        psf.save(tmp_path / f"k{ext}", kernel)
