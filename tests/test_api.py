"""The public front door: dtype/shape handling, channels, and a clear error for every bad input."""

import numpy as np
import pytest

import deblur
import naive
from deblur import BOUNDARIES, psf
from deblur.operators import ENGINES

FAST = dict(max_num_iter=3)
DTYPES = [np.float16, np.float32, np.float64, np.uint8, np.uint16]


def make_image(dtype, shape=(12, 14), seed=0):
    """A blurred scene in [0, 1] as ``dtype`` (integers scaled to their full range)."""
    img = naive.observe(naive.scene(shape[:2], seed), psf.gaussian(1.0), "reflect", noise=0.01, seed=seed)
    img = np.clip(img, 0, 1)
    if np.dtype(dtype).kind == "u":
        return np.round(img * np.iinfo(dtype).max).astype(dtype)
    return img.astype(dtype)


def colour(dtype, axis):
    channels = [make_image(dtype, seed=s) for s in range(3)]
    return np.stack(channels, axis=axis)


# --- dtype and shape ----------------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channel_axis", [None, 0, -1, 2])
def test_output_keeps_shape_and_dtype(dtype, channel_axis, precision):
    image = make_image(dtype) if channel_axis is None else colour(dtype, channel_axis)
    out = deblur.restore(image, "gaussian:sigma=1", channel_axis=channel_axis, precision=precision, **FAST)
    assert out.shape == image.shape
    assert out.dtype == image.dtype
    if out.dtype.kind == "f":
        assert np.all(np.isfinite(out))
    # a few iterations of deblurring stay close to the input
    scale = 1.0 if image.dtype.kind == "f" else np.iinfo(image.dtype).max
    assert np.mean(np.abs(out.astype(float) - image.astype(float))) / scale < 0.1


@pytest.mark.parametrize("channel_axis", [0, 2])
def test_channel_axis_only_moves_the_channels(channel_axis):
    last = colour(np.float32, -1)
    moved = np.moveaxis(last, -1, channel_axis)
    a = deblur.restore(last, "disk:radius=1.5", channel_axis=-1, weight=0.01, **FAST)
    b = deblur.restore(moved, "disk:radius=1.5", channel_axis=channel_axis, weight=0.01, **FAST)
    np.testing.assert_array_equal(np.moveaxis(b, channel_axis, -1), a)


@pytest.mark.parametrize("weight", [0.01, "auto"])
def test_rgb_colour_space_restores_the_channels_independently(weight):
    image = colour(np.float64, -1)
    result = deblur.solve(image, "motion:length=5,angle=20", channel_axis=-1, weight=weight, color_space="rgb", **FAST)
    assert isinstance(result.weight, list) and len(result.weight) == 3
    assert result.settings["color_space"] == "rgb"
    for c in range(3):
        gray = deblur.solve(image[..., c], "motion:length=5,angle=20", weight=weight, **FAST)
        np.testing.assert_array_equal(result.image[..., c], gray.image)
        assert result.weight[c] == gray.weight


@pytest.mark.parametrize("weight", [0.01, "auto"])
def test_opponent_colour_space_restores_the_opponent_channels(weight):
    from deblur import color

    image = colour(np.float64, -1)
    options = dict(weight=weight, precision="float64", **FAST)
    result = deblur.solve(image, "motion:length=5,angle=20", channel_axis=-1, **options)
    assert result.settings["color_space"] == "opponent"
    channels = [deblur.solve(color.opponent_channel(image, c), "motion:length=5,angle=20", **options)
                for c in range(3)]
    expected = color.opponent_to_rgb(np.stack([r.image for r in channels], axis=-1))
    np.testing.assert_allclose(result.image, expected, rtol=0, atol=1e-12)
    assert result.weight == [r.weight for r in channels]


def test_opponent_colour_space_beats_independent_channels_on_a_noisy_photo():
    """The colour differences of a photograph are smooth: regularised on their own, they lose their noise."""
    from skimage import data

    truth = data.astronaut()[100:196, 150:246].astype(np.float64) / 255
    k = deblur.psf.gaussian(1.5)
    blurred = np.stack([naive.blur(truth[..., c], k, "valid") for c in range(3)], axis=-1)
    pad = k.shape[0] // 2
    truth = truth[pad:-pad, pad:-pad]
    noisy = blurred + np.random.default_rng(3).normal(0, 0.02, blurred.shape)
    errors = {}
    for space in ("opponent", "rgb"):
        restored = deblur.restore(noisy, k, channel_axis=-1, color_space=space)
        errors[space] = np.mean((np.clip(restored, 0, 1) - truth) ** 2)
    assert errors["opponent"] < 0.85 * errors["rgb"]  # > 0.7 dB better


def test_clip_keeps_a_colour_image_in_the_box_in_both_colour_spaces():
    truth = np.zeros((24, 24, 3))
    truth[6:18, 6:18] = [1.0, 0.0, 1.0]  # saturated magenta on black: deconvolution overshoots
    blurred = np.stack([naive.blur(truth[..., c], psf.gaussian(1.5), "reflect") for c in range(3)], axis=-1)
    for space in ("opponent", "rgb"):
        out = deblur.restore(blurred, "gaussian:sigma=1.5", channel_axis=-1, color_space=space, weight=1e-4)
        assert out.min() >= 0.0 and out.max() <= 1.0
        unclipped = deblur.restore(blurred, "gaussian:sigma=1.5", channel_axis=-1, color_space=space,
                                   weight=1e-4, clip=False)
        assert unclipped.min() < -0.01 or unclipped.max() > 1.01  # the box did something


def test_history_psnr_of_a_colour_solve_is_the_whole_image_psnr():
    image = colour(np.float64, -1)
    reference = np.clip(image + 0.05, 0, 1)
    for space in ("opponent", "rgb"):
        result = deblur.solve(image, "box:size=3", channel_axis=-1, reference=reference, color_space=space,
                              clip=False, precision="float64", **FAST)
        mse = np.mean((result.image - reference) ** 2)
        assert result.history["psnr"][-1] == pytest.approx(-10 * np.log10(mse), abs=1e-6)


def test_unknown_color_space_is_rejected():
    with pytest.raises(ValueError, match="color_space"):
        deblur.solve(colour(np.float64, -1), "box:size=3", channel_axis=-1, color_space="lab")


def test_integer_images_use_their_full_range():
    psf_spec = "box:size=3"
    for dtype, level in ((np.uint8, 200), (np.uint16, 40000)):
        flat = np.full((10, 10), level, dtype=dtype)  # a constant image is its own blur
        for boundary in BOUNDARIES:
            out = deblur.restore(flat, psf_spec, boundary=boundary, weight=0.01, **FAST)
            np.testing.assert_array_equal(out, flat)
    u8 = make_image(np.uint8)
    as_float = deblur.restore(u8.astype(np.float32) / 255, psf_spec, weight=0.01, **FAST)
    as_int = deblur.restore(u8, psf_spec, weight=0.01, **FAST)
    expected = np.rint(np.clip(as_float, 0, 1) * 255)
    assert np.abs(as_int.astype(int) - expected).max() <= 1


@pytest.mark.parametrize("flat", [np.full((16, 16), 0.5, np.float32), np.zeros((16, 16))])
def test_flat_image_with_auto_weight_gives_no_warning(flat):
    result = deblur.solve(flat, "gaussian:sigma=1", **FAST)
    np.testing.assert_allclose(result.image, flat, atol=1e-6)  # float32 rounding only
    assert result.weight > 0


def test_big_endian_uint16_is_accepted():
    image = make_image(np.uint16).astype(">u2")
    out = deblur.restore(image, "box:size=3", **FAST)
    assert out.shape == image.shape and out.dtype.kind == "u" and out.dtype.itemsize == 2


def test_float_values_far_outside_the_unit_range_are_refused():
    """A finite float64 image beyond float32's range once overflowed to an all-inf result."""
    with pytest.raises(ValueError, match=r"has values up to 1e\+39; float images are expected in \[0, 1\]"):
        deblur.restore(np.full((8, 8), 1e39), "box:size=3", max_num_iter=2)
    with pytest.raises(ValueError, match="expected in"):
        deblur.restore(np.full((8, 8), -3e7, np.float32), "box:size=3", max_num_iter=2)
    out = deblur.restore(np.full((8, 8), 1e3), "box:size=3", max_num_iter=2, weight=0.01)
    np.testing.assert_allclose(out, 1e3, rtol=1e-6)  # large but representable values still work


def test_float16_output_never_overflows():
    edges = (naive.scene((32, 32)) > 0.5) * 65000.0
    y = np.clip(naive.observe(edges, psf.gaussian(1.5), "reflect", noise=0), 0, 65000).astype(np.float16)
    out = deblur.restore(y, "gaussian:sigma=1.5", boundary="reflect", regularizer="none", weight=0, clip=False)
    assert out.dtype == np.float16 and np.all(np.isfinite(out))


def test_float_inputs_of_other_byte_order_and_layout():
    base = make_image(np.float32, shape=(16, 18))
    expected = deblur.restore(base, "gaussian:sigma=1", weight=0.01, **FAST)
    swapped = base.astype(">f4")
    np.testing.assert_array_equal(deblur.restore(swapped, "gaussian:sigma=1", weight=0.01, **FAST), expected)
    strided = np.zeros((32, 36), dtype=np.float32)
    strided[::2, ::2] = base
    view = strided[::2, ::2]
    np.testing.assert_array_equal(deblur.restore(view, "gaussian:sigma=1", weight=0.01, **FAST), expected)
    listed = deblur.restore(base.tolist(), "gaussian:sigma=1", weight=0.01, precision="float32", **FAST)
    np.testing.assert_allclose(listed, expected, atol=1e-6)


def test_input_is_not_modified():
    image = make_image(np.float32)
    before = image.copy()
    deblur.restore(image, "gaussian:sigma=1", boundary="periodic", clip=False, **FAST)
    np.testing.assert_array_equal(image, before)


def test_restore_is_solve_image():
    image = make_image(np.float32)
    restored = deblur.restore(image, "disk:radius=2", weight=0.02, **FAST)
    np.testing.assert_array_equal(restored, deblur.solve(image, "disk:radius=2", weight=0.02, **FAST).image)


def test_numpy_scalar_options_are_accepted():
    image = make_image(np.float32)
    result = deblur.solve(
        image, "box:size=3", weight=np.float32(0.01), lr=np.float64(0.5), max_num_iter=np.int64(3),
        seed=np.int64(2), variant="stochastic", schedule="step", decay=np.float32(0.5), tol=None,
        regularizer="tv", eps=np.float32(0.02),
    )  # fmt: skip
    assert result.iterations == 3
    assert result.weight == pytest.approx(0.01) and result.settings["lr"] == 0.5


def test_settings_and_result_fields():
    image = make_image(np.float32, shape=(20, 20))
    result = deblur.solve(
        image, "motion:length=7,angle=10", regularizer="tv", weight=0.01, boundary="reflect", max_num_iter=4, tol=None
    )
    s = result.settings
    assert s["regularizer"] == "tv" and s["boundary"] == "reflect" and s["precision"] == "float32"
    assert s["engine"] in ENGINES and len(s["lipschitz"]) == 1 and s["lipschitz"][0] > 0
    assert result.weight == 0.01 and result.noise_sigma is None
    assert result.iterations == 4 and result.stop_reason == "max_iter"
    np.testing.assert_allclose(result.psf, psf.motion(7, 10))
    assert "4 iterations" in result.summary() and "max_iter" in result.summary()


def test_auto_weight_follows_the_noise_level():
    truth = naive.scene((64, 64))
    quiet = np.clip(naive.observe(truth, psf.gaussian(1.5), "reflect", noise=0.005), 0, 1)
    noisy = np.clip(naive.observe(truth, psf.gaussian(1.5), "reflect", noise=0.05), 0, 1)
    a = deblur.solve(quiet, psf.gaussian(1.5), regularizer="tv", max_num_iter=1)
    b = deblur.solve(noisy, psf.gaussian(1.5), regularizer="tv", max_num_iter=1)
    assert b.noise_sigma == pytest.approx(0.05, rel=0.3)
    assert a.noise_sigma < 0.5 * b.noise_sigma
    assert 0 < a.weight < b.weight


def test_noise_estimate_and_weight_rule():
    from deblur.weights import NOISE_FLOOR, WEIGHT_RULES, auto_weight, estimate_noise

    rng = np.random.default_rng(5)
    noisy = 0.5 + 0.04 * rng.standard_normal((96, 96))
    assert estimate_noise(noisy) == pytest.approx(0.04, rel=0.1)
    assert estimate_noise(0.5 + 1e-6 * rng.standard_normal((32, 32))) == NOISE_FLOOR
    assert estimate_noise(noisy[:3, :3]) == NOISE_FLOOR  # too small to tell
    for name, (c, a, b) in WEIGHT_RULES.items():
        assert auto_weight(0.02, name, 0.05) == pytest.approx(c * 0.02**a * 0.05**b)
        if name != "none":
            assert 0 < auto_weight(0.01, name, 0.05) < auto_weight(0.05, name, 0.05)
    assert auto_weight(0.05, "none", 0.05) == 0
    # a smooth scene gets a stronger prior than a textured one at the same noise
    assert auto_weight(0.01, "hyper-laplacian", 0.01) > auto_weight(0.01, "hyper-laplacian", 0.1)


def test_content_estimate_removes_the_noise_share():
    from deblur.weights import CONTENT_FLOOR, estimate_content

    rng = np.random.default_rng(6)
    noise = 0.02 * rng.standard_normal((128, 128))
    assert estimate_content(0.5 + noise, 0.02) == pytest.approx(CONTENT_FLOOR, abs=0.01)
    ramp = np.tile(np.linspace(0, 1, 128), (128, 1))  # gradient 1/127 per pixel
    assert estimate_content(ramp + noise, 0.02) == pytest.approx(1 / 127, abs=0.004)


def test_clip_keeps_the_box():
    y = np.zeros((16, 16))
    y[4:12, 4:12] = 1.0  # sharp edges: deconvolution overshoots them
    for clip, inside in ((True, True), (False, False)):
        out = deblur.restore(
            y, "gaussian:sigma=1.5", regularizer="none", weight=0, clip=clip, boundary="reflect", max_num_iter=30
        )
        assert inside == bool(out.min() >= 0 and out.max() <= 1), (out.min(), out.max())


# --- errors ----------------------------------------------------------------------------------


def gray(shape=(12, 12)):
    return np.full(shape, 0.5)


BAD_IMAGES = [
    ("nan pixel", np.where(np.eye(8) > 0, np.nan, 0.5), {}, ValueError, r"NaN or Inf pixels; replace them \(e.g. np.nan_to_num\)"),
    ("inf pixel", np.where(np.eye(8) > 0, np.inf, 0.5), {}, ValueError, "NaN or Inf pixels"),
    ("nan colour", np.full((6, 6, 3), np.nan), {"channel_axis": -1}, ValueError, "NaN or Inf"),
    ("empty", np.zeros((0, 0)), {}, ValueError, r"too small \(0x0 pixels\): deblurring needs at least 2x2"),
    ("1x1", np.zeros((1, 1)), {}, ValueError, r"too small \(1x1 pixels\)"),
    ("1 row", np.zeros((1, 9)), {}, ValueError, "too small"),
    ("1x1 colour", np.zeros((1, 1, 3)), {"channel_axis": -1}, ValueError, "too small"),
    ("scalar", np.float64(0.5), {}, ValueError, "must be a 2-D gray image or 3-D with channel_axis, got 0-D"),
    ("1-D", np.zeros(9), {}, ValueError, "got 1-D"),
    ("4-D", np.zeros((4, 4, 3, 2)), {}, ValueError, "got 4-D"),
    ("3-D without axis", np.zeros((8, 8, 3)), {}, ValueError, "is 3-D with shape \\(8, 8, 3\\); for a colour image pass channel_axis=-1"),
    ("2-D with axis", np.zeros((8, 8)), {"channel_axis": -1}, ValueError, "channel_axis=-1 needs a 3-D image, got 2-D; use channel_axis=None"),
    ("axis out of range", np.zeros((8, 8, 3)), {"channel_axis": 3}, ValueError, r"channel_axis must be an integer in \[-3, 2\], got 3"),
    ("axis not integer", np.zeros((8, 8, 3)), {"channel_axis": 1.5}, ValueError, "channel_axis must be an integer"),
    ("int32", np.zeros((8, 8), np.int32), {}, TypeError, r"dtype int32; use float \(values in \[0, 1\]\), uint8 or uint16"),
    ("bool", np.zeros((8, 8), bool), {}, TypeError, "dtype bool"),
    ("complex", np.zeros((8, 8), complex), {}, TypeError, "dtype complex128"),
    ("object", np.array([["a", "b"], ["c", "d"]], dtype=object), {}, TypeError, "dtype object"),
]


@pytest.mark.parametrize("label, image, kwargs, error, match", BAD_IMAGES, ids=[b[0] for b in BAD_IMAGES])
def test_bad_images(label, image, kwargs, error, match):
    with pytest.raises(error, match=match):
        deblur.restore(image, "box:size=1", **kwargs)


BAD_PSFS = [
    ("nan", np.array([[0.5, np.nan]]), ValueError, "psf contains NaN or Inf values"),
    ("inf", np.array([[0.5, np.inf]]), ValueError, "NaN or Inf"),
    ("zeros", np.zeros((3, 3)), ValueError, r"psf sums to 0; a blur kernel needs a positive sum \(is it all zeros\?\)"),
    ("negative", np.array([[1.0, -0.2]]), ValueError, "negative values"),
    ("negative sum", -np.ones((3, 3)), ValueError, "negative values"),
    ("1-D", np.ones(3), ValueError, "psf must be 2-D, got 1-D"),
    ("empty", np.ones((0, 2)), ValueError, "psf is empty"),
    ("taller than image", np.ones((13, 3)), ValueError, r"the PSF \(13x3\) is larger than the image \(12x12\); use a smaller PSF"),
    ("wider than image", np.ones((3, 20)), ValueError, "larger than the image"),
    ("spec larger than image", "gaussian:sigma=3", ValueError, r"the PSF \(19x19\) is larger than the image"),
    ("complex", np.ones((3, 3), complex), TypeError, "real numeric array"),
    ("None", None, TypeError, "real numeric array"),
    ("unknown kind", "blob:size=3", ValueError, "unknown PSF kind 'blob'; use one of: gaussian:sigma=2"),
    ("malformed", "gaussian:sigma", ValueError, "malformed PSF spec parameter 'sigma'"),
    ("missing parameter", "disk", ValueError, r"missing parameter\(s\) \['radius'\]; write it as disk:radius=3"),
    ("unknown parameter", "box:size=3,angle=2", ValueError, r"unknown parameter\(s\) \['angle'\]"),
    ("bad number", "disk:radius=big", ValueError, "PSF radius must be a number, got 'big'"),
    ("missing file", "no/such/kernel.npy", ValueError, "PSF file not found"),
]


@pytest.mark.parametrize("label, kernel, error, match", BAD_PSFS, ids=[b[0] for b in BAD_PSFS])
def test_bad_psfs(label, kernel, error, match):
    with pytest.raises(error, match=match):
        deblur.restore(gray(), kernel)


@pytest.mark.parametrize("spec", ["box:size=10000000", "gaussian:sigma=1e12", "motion:length=1e12"])
def test_huge_psf_spec_is_refused_before_it_is_built(spec):
    with pytest.raises(ValueError, match="larger than the image"):
        deblur.restore(gray(), spec)


BAD_OPTIONS = [
    ({"lr": 0}, ValueError, r"lr \(step size\) must be > 0, got 0"),
    ({"lr": -0.5}, ValueError, r"lr \(step size\) must be > 0"),
    ({"lr": float("nan")}, ValueError, "must be a finite number"),
    ({"lr": float("inf")}, ValueError, "must be a finite number"),
    ({"lr": "big"}, ValueError, "must be a finite number, got 'big'"),
    ({"lr": True}, ValueError, "must be a finite number"),
    ({"schedule": "linear"}, ValueError, "unknown schedule 'linear'; choose one of: auto, constant, exponential"),
    ({"momentum": "adam"}, ValueError, "unknown momentum 'adam'; choose one of: none, heavy-ball, nesterov"),
    ({"variant": "sgd"}, ValueError, "unknown variant 'sgd'; choose one of: full, minibatch, stochastic"),
    ({"boundary": "zero"}, ValueError, "unknown boundary 'zero'; choose one of: valid, reflect, periodic"),
    ({"precision": "float16"}, ValueError, "unknown precision 'float16'; choose one of: float32, float64"),
    ({"regularizer": "l1"}, ValueError, "unknown regularizer 'l1'; choose one of"),
    ({"preconditioner": "jacobi"}, ValueError, "unknown preconditioner 'jacobi'; choose one of"),
    ({"schedule": None}, ValueError, "unknown schedule None"),
    ({"max_num_iter": -1}, ValueError, "max_num_iter must be a non-negative integer, got -1"),
    ({"max_num_iter": 2.5}, ValueError, "max_num_iter must be a non-negative integer"),
    ({"max_num_iter": True}, ValueError, "max_num_iter must be a non-negative integer"),
    ({"tol": -1e-3}, ValueError, "tol must be >= 0"),
    ({"gtol": float("nan")}, ValueError, "gtol must be a finite number"),
    ({"time_limit": 0}, ValueError, "time_limit must be > 0"),
    ({"batch_fraction": 0}, ValueError, "batch_fraction must be > 0"),
    ({"batch_fraction": 1.5}, ValueError, r"batch_fraction must be in \(0, 1\]"),
    ({"schedule": "exponential", "decay": 2.0}, ValueError, r"decay for the exponential schedule must be in \(0, 1\)"),
    ({"schedule": "inverse-time", "decay": 0}, ValueError, "decay for the inverse-time schedule must be > 0"),
    ({"seed": -1}, ValueError, "seed must be a non-negative integer or None"),
    ({"seed": 1.5}, ValueError, "seed must be a non-negative integer or None"),
    ({"weight": -0.1}, ValueError, "weight must be >= 0"),
    ({"weight": float("nan")}, ValueError, "weight must be a finite number"),
    ({"weight": "high"}, ValueError, "weight must be a finite number, got 'high'"),
    ({"regularizer": "tv", "eps": 0}, ValueError, "the tv smoothing eps must be > 0"),
    ({"regularizer": "hyper-laplacian", "p": 3}, ValueError, r"exponent p must be in \(0, 2\]"),
    ({"callback": 3}, TypeError, "callback must be callable"),
    ({"reference": np.zeros((5, 5))}, ValueError, r"reference has shape \(5, 5\), the image \(12, 12\): they must match"),
    ({"reference": np.full((12, 12), np.nan)}, ValueError, "reference contains NaN or Inf pixels"),
    ({"max_iter": 5}, TypeError, "max_iter"),
    ({"iterations": 5}, TypeError, "unexpected keyword argument 'iterations'"),
]


@pytest.mark.parametrize("kwargs, error, match", BAD_OPTIONS, ids=[str(b[0])[:40] for b in BAD_OPTIONS])
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        deblur.restore(gray(), "box:size=3", **kwargs)


def test_a_bad_option_fails_before_any_work():
    """Validation happens up front: a wrong late option does not cost a solve first."""
    calls = []
    with pytest.raises(ValueError, match="unknown variant"):
        deblur.solve(gray(), "box:size=3", variant="nope", callback=lambda s: calls.append(s))
    assert calls == []


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_blind_fallback_warns_and_returns_the_photo_as_it_was(dtype):
    """No estimate to trust: the output is the input itself (not a denoised copy), and the record says so."""
    from deblur.blind import BlindEstimationWarning
    from deblur.images import from_float

    noise = from_float(np.random.default_rng(0).random((64, 64, 3)), np.dtype(dtype))
    with pytest.warns(BlindEstimationWarning, match="could not estimate.*left as it was"):
        result = deblur.solve(noise, "estimate", channel_axis=-1)
    assert result.psf_estimation.status == "fallback"
    assert "left as it was" in result.psf_estimation.message
    assert np.count_nonzero(result.psf) == 1  # a delta: nothing invented
    assert result.image.dtype == noise.dtype and np.array_equal(result.image, noise)
    assert result.iterations == 0 and len(result.history) == 1  # the record and the plot read as any run's
    assert result.stop_reason == "unchanged"
    result.image[0, 0, 0] = 0  # a copy: the caller's array is not handed back to be changed
    assert noise[0, 0, 0] != 0 or noise.dtype != np.uint8


def test_a_sharp_photo_is_still_denoised():
    """'No blur detected' is a finding, not a failure: that photo is restored with no blur (denoised)."""
    from skimage import data

    sharp = data.camera()[100:260, 150:310] / 255.0
    noisy = np.clip(sharp + 0.02 * np.random.default_rng(1).standard_normal(sharp.shape), 0, 1)
    result = deblur.solve(noisy, "estimate")
    assert result.psf_estimation.status == "sharp" and result.iterations > 0
    assert np.mean((result.image - sharp) ** 2) < 0.8 * np.mean((noisy - sharp) ** 2)  # 0.74 measured


# --- color_space='luma' -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_luma_is_the_luma_restored_and_the_chroma_kept(dtype):
    """color_space='luma' is what the file pipeline did itself before: split, restore the luma, merge."""
    from deblur import color
    from deblur.images import from_float, to_float

    image, sharp = colour(dtype, -1), colour(dtype, -1)[::-1].copy()
    kernel = "motion:length=5,angle=20"
    result = deblur.solve(image, kernel, channel_axis=-1, color_space="luma", reference=sharp, **FAST)
    work = np.dtype(np.float32)
    luma, chroma = color.split_luma(to_float(image, work))
    old = deblur.solve(luma, kernel, reference=color.split_luma(to_float(sharp, work))[0], **FAST)
    expected = from_float(color.merge_luma(old.image, chroma), dtype)
    assert result.image.dtype == dtype and np.array_equal(result.image, expected)
    assert result.weight == old.weight and result.noise_sigma == old.noise_sigma  # one channel: one weight
    np.testing.assert_array_equal(result.history["psnr"], old.history["psnr"])
    assert result.settings["color_space"] == "luma"
    if dtype != np.uint8:  # the chroma is kept exactly (up to the rounding of the sum)
        np.testing.assert_allclose(color.split_luma(to_float(result.image, work))[1], chroma, atol=1e-6)
    assert np.array_equal(deblur.restore(image, kernel, channel_axis=-1, color_space="luma", **FAST), result.image)


def test_luma_of_a_gray_image_is_the_gray_restore():
    image = make_image(np.float32)
    a = deblur.restore(image, "box:size=3", color_space="luma", **FAST)
    assert np.array_equal(a, deblur.restore(image, "box:size=3", **FAST))
