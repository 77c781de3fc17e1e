"""The benchmarks' estimate cache (``benchmarks/_blind_common.blind_solve(cache=...)``): read back, never stale."""

import os
import sys

import numpy as np
import pytest
from scipy.signal import fftconvolve

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import _blind_common as common  # noqa: E402

from deblur import blind, psf  # noqa: E402


@pytest.fixture
def photo():
    rng = np.random.default_rng(3)
    sharp = np.kron(rng.random((10, 10)), np.ones((8, 8)))
    y = fftconvolve(sharp, psf.motion(7, 20), mode="valid")
    return np.clip(y + 0.005 * rng.standard_normal(y.shape), 0, 1)


def test_a_cached_estimate_is_read_back_without_estimating(photo, tmp_path, monkeypatch):
    cache = str(tmp_path / "case.pkl")
    first, _ = common.blind_solve(photo, cache=cache)
    assert os.path.exists(cache)

    def no_estimation(*args, **kwargs):
        raise AssertionError("the estimation ran although its result was cached")

    monkeypatch.setattr(blind, "estimate", no_estimation)
    second, _ = common.blind_solve(photo, cache=cache)
    np.testing.assert_array_equal(second.psf, first.psf)
    np.testing.assert_array_equal(second.image, first.image)
    assert second.psf_estimation.status == first.psf_estimation.status


def test_an_estimate_cached_with_other_options_is_an_error(photo, tmp_path):
    cache = str(tmp_path / "case.pkl")
    common.blind_solve(photo, cache=cache, iterations=2)
    with pytest.raises(RuntimeError, match="made with options"):
        common.blind_solve(photo, cache=cache)
