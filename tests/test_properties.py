"""Property-based tests: over shapes, dtypes, channel axes, PSFs and options, solve() either
succeeds with the input's shape and dtype or raises a documented ValueError/TypeError."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import deblur

# Also run with NUMBA_DISABLE_JIT=1, so the kernels' Python is executed and measured (setup.cfg).
pytestmark = pytest.mark.jit_free

# A modest, fixed budget keeps the suite fast and reproducible; set DEBLUR_HYPOTHESIS_EXAMPLES
# (e.g. 2000) for a longer, randomised hunt.
_EXAMPLES = os.environ.get("DEBLUR_HYPOTHESIS_EXAMPLES")
SETTINGS = settings(
    max_examples=int(_EXAMPLES) if _EXAMPLES else 40,
    derandomize=not _EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
DTYPES = [np.float16, np.float32, np.float64, np.uint8, np.uint16]


@st.composite
def images(draw, min_side=2, max_side=24):
    """(image, channel_axis): gray or colour, any supported dtype, values in the dtype's nominal range."""
    h = draw(st.integers(min_side, max_side))
    w = draw(st.integers(min_side, max_side))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    channel_axis = draw(st.sampled_from([None, 0, -1, 2, -3]))
    if channel_axis is None:
        shape = (h, w)
    else:
        shape = [h, w]
        shape.insert(channel_axis % 3, draw(st.integers(1, 3)))
        shape = tuple(shape)
    if dtype.kind == "u":
        elements = st.integers(0, np.iinfo(dtype).max)
    else:
        elements = st.floats(0.0, 1.0, width=8 * dtype.itemsize)
    image = draw(hnp.arrays(dtype, shape, elements=elements))
    return image, channel_axis


def psfs(max_side=9):
    """Spec strings of every kind, and raw arrays (some all zero, some with zero rows)."""
    specs = st.one_of(
        st.floats(0.3, 3.0).map(lambda s: f"gaussian:sigma={s:.3g}"),
        st.builds(lambda s, n: f"gaussian:sigma={s:.3g},size={n}", st.floats(0.3, 2.0), st.integers(1, 8)),
        st.floats(0.2, 4.0).map(lambda r: f"disk:radius={r:.3g}"),
        st.builds(lambda n, a: f"motion:length={n:.3g},angle={a:.4g}", st.floats(1.0, 9.0), st.floats(-360, 360)),
        st.integers(1, 6).map(lambda n: f"box:size={n}"),
    )
    arrays = hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, max_side), st.integers(1, max_side)),
        elements=st.one_of(st.just(0.0), st.floats(0.0, 10.0)),
    )
    return st.one_of(specs, arrays)


OPTIONS = st.fixed_dictionaries(
    {
        "boundary": st.sampled_from(deblur.BOUNDARIES),
        "regularizer": st.sampled_from(deblur.REGULARIZERS),
        "weight": st.sampled_from([0.0, 1e-3, 0.05]),
        "precision": st.sampled_from(["float32", "float64"]),
        "momentum": st.sampled_from(deblur.MOMENTA),
        "schedule": st.sampled_from(deblur.SCHEDULES),
        "variant": st.sampled_from(deblur.VARIANTS),
        "max_num_iter": st.integers(0, 3),
        "clip": st.booleans(),
        "seed": st.just(0),
    }
)


def psf_too_large(kernel, image, channel_axis):
    frame = image.shape if channel_axis is None else tuple(np.delete(image.shape, channel_axis % 3))
    shape = deblur.psf.parse(kernel).shape if isinstance(kernel, str) else kernel.shape
    return shape[0] > frame[0] or shape[1] > frame[1]


@SETTINGS
@given(images(), psfs(), OPTIONS)
def test_solve_succeeds_or_raises_a_documented_error(case, kernel, options):
    image, channel_axis = case
    try:
        result = deblur.solve(image, kernel, channel_axis=channel_axis, **options)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert len(message) > 20  # says what is wrong
        expected = psf_too_large(kernel, image, channel_axis) or (not isinstance(kernel, str) and not kernel.any())
        assert expected, f"unexpected error for a valid call: {message}"
        return
    assert not psf_too_large(kernel, image, channel_axis)
    assert result.image.shape == image.shape
    assert result.image.dtype == image.dtype
    assert result.iterations <= options["max_num_iter"]
    assert len(result.history) >= 1 and np.all(np.isfinite(result.history["cost"]))
    if image.dtype.kind == "f":
        assert np.all(np.isfinite(result.image))


@SETTINGS
@given(images(), psfs(max_side=4), st.sampled_from(deblur.BOUNDARIES), st.sampled_from(["float32", "float64"]))
def test_a_constant_image_is_a_fixed_point(case, kernel, boundary, precision):
    """Blur maps a constant to itself and R vanishes on it, so nothing moves (whatever the PSF)."""
    image, channel_axis = case
    level = image.flat[0]
    flat = np.full_like(image, level)
    if psf_too_large(kernel, image, channel_axis) or (not isinstance(kernel, str) and not kernel.any()):
        return
    out = deblur.restore(
        flat, kernel, channel_axis=channel_axis, boundary=boundary, precision=precision, weight=0.01, max_num_iter=3
    )
    if flat.dtype.kind == "u":
        np.testing.assert_array_equal(out, flat)
    else:
        tol = 2e-3 if flat.dtype == np.float16 else 1e-5
        np.testing.assert_allclose(out.astype(np.float64), flat.astype(np.float64), atol=tol)


BAD_VALUES = st.sampled_from([np.nan, np.inf, -np.inf])


@SETTINGS
@given(images(), st.data())
def test_non_finite_pixels_are_always_refused(case, data):
    image, channel_axis = case
    scale = np.iinfo(image.dtype).max if image.dtype.kind == "u" else 1.0
    image = (image / scale).astype(data.draw(st.sampled_from([np.float16, np.float32, np.float64])))
    index = tuple(data.draw(st.integers(0, n - 1)) for n in image.shape)
    image[index] = data.draw(BAD_VALUES)
    with pytest.raises(ValueError, match="NaN or Inf"):
        deblur.solve(image, "box:size=1", channel_axis=channel_axis, max_num_iter=1)


@st.composite
def arbitrary_arrays(draw):
    """Any rank, size and dtype; floats in +-1e6 (within float32: see test_api), NaN and Inf included."""
    kinds = [np.float64, np.float32, np.float16, np.int64, np.int8, np.uint8, np.bool_, np.complex64]
    dtype = np.dtype(draw(st.sampled_from(kinds)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    bound = 6e4 if dtype == np.float16 else 1e6
    elements = None
    if dtype.kind == "f":
        elements = st.floats(-bound, bound, width=8 * dtype.itemsize) | st.sampled_from([np.nan, np.inf])
    return draw(hnp.arrays(dtype, shape, elements=elements))


@SETTINGS
@given(arbitrary_arrays(), st.sampled_from([None, 0, -1, 2, 3, -4]))
def test_arbitrary_arrays_only_raise_documented_errors(image, channel_axis):
    try:
        result = deblur.solve(image, "box:size=1", channel_axis=channel_axis, max_num_iter=1, weight=0.01)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    assert result.image.shape == image.shape and result.image.dtype == image.dtype


@SETTINGS
@given(
    st.text(alphabet=st.sampled_from("gaussinkmotbx:=,.-0123456789 "), max_size=30)
    | st.sampled_from(["gaussian:sigma=", "disk:radius=0", "motion:length=1,angle=nan", "box:size=1.5", ":"])
)
def test_malformed_spec_strings_only_raise_value_errors(spec):
    try:
        kernel = deblur.psf.parse(spec)
    except ValueError as exc:
        assert "PSF" in str(exc)
        return
    assert kernel.ndim == 2 and np.all(kernel >= 0) and kernel.sum() == pytest.approx(1.0)
