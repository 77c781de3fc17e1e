"""Regularizer objects: validation, value/gradient against naive twins, curvature bounds."""

import numpy as np
import pytest

import naive
from deblur import REGULARIZERS
from deblur.regularizers import DEFAULT_EPS, make_regularizer

# Also run with NUMBA_DISABLE_JIT=1, so the kernels' Python is executed and measured (setup.cfg).
pytestmark = pytest.mark.jit_free


def test_defaults():
    assert make_regularizer("tv").eps == DEFAULT_EPS["tv"] > 0
    assert make_regularizer("hyper-laplacian").eps == DEFAULT_EPS["hyper-laplacian"] > 0
    assert make_regularizer("hyper-laplacian", p=0.5).p == 0.5
    assert make_regularizer("tikhonov").curvature == 16.0
    assert make_regularizer("none").curvature == 0.0
    assert make_regularizer("tv", eps=0.5).curvature == pytest.approx(16.0)


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("l1", {}, "unknown regularizer 'l1'; choose one of: none, tikhonov, tv, hyper-laplacian"),
        ("TV", {}, "unknown regularizer"),
        (None, {}, "unknown regularizer"),
        ("tv", {"eps": 0.0}, "eps must be > 0"),
        ("tv", {"eps": -1.0}, "eps must be > 0"),
        ("tv", {"eps": float("nan")}, "eps must be > 0"),
        ("hyper-laplacian", {"eps": 0.0}, "eps must be > 0"),
        ("hyper-laplacian", {"p": 0.0}, r"p must be in \(0, 2\]"),
        ("hyper-laplacian", {"p": 2.5}, r"p must be in \(0, 2\]"),
        ("hyper-laplacian", {"p": float("nan")}, r"p must be in \(0, 2\]"),
    ],
)
def test_bad_parameters(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_regularizer(name, **kwargs)


@pytest.mark.parametrize("name", ["tv", "hyper-laplacian"])
def test_infinite_eps_is_rejected(name):
    with pytest.raises(ValueError, match="eps"):
        make_regularizer(name, eps=float("inf"))


@pytest.mark.parametrize("name", REGULARIZERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_value_and_weighted_gradient_match_naive(rng, name, dtype):
    reg = make_regularizer(name, eps=0.05 if name in DEFAULT_EPS else None, p=0.7)
    x = rng.random((12, 9)).astype(dtype)
    start = rng.standard_normal(x.shape).astype(dtype)
    grad = start.copy()
    value = reg.value_grad(x, 0.3, grad)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    expected = naive.regularizer_value(x, name, reg.eps, reg.p)
    assert value == pytest.approx(expected, rel=tol, abs=tol)
    assert reg.value(x) == pytest.approx(expected, rel=tol, abs=tol)
    expected_grad = start + 0.3 * naive.regularizer_grad(x, name, reg.eps, reg.p)
    np.testing.assert_allclose(grad, expected_grad, atol=tol * max(1, np.abs(expected_grad).max()))


def test_zero_weight_leaves_the_gradient_alone(rng):
    x = rng.random((6, 6))
    grad = np.ones_like(x)
    assert make_regularizer("tv").value_grad(x, 0.0, grad) == 0.0
    assert np.all(grad == 1.0)


@pytest.mark.parametrize(
    "name, eps, p",
    [("tikhonov", None, 0.8), ("tv", 0.05, 0.8), ("hyper-laplacian", 0.05, 0.5), ("hyper-laplacian", 0.1, 1.5)],
)
def test_curvature_is_a_lipschitz_bound_of_the_gradient(rng, name, eps, p):
    """||grad R(x) - grad R(z)|| <= curvature ||x - z||, including near-flat images where rho'' peaks."""
    reg = make_regularizer(name, eps=eps, p=p)

    def grad(x):
        g = np.zeros_like(x)
        reg.value_grad(x, 1.0, g)
        return g

    checker = 2.0 * (np.indices((16, 16)).sum(axis=0) % 2) - 1.0  # the highest frequency
    worst = 0.0
    for scale in (1e-4, 1e-2, 1.0):
        for _ in range(5):
            x = scale * rng.standard_normal((16, 16))
            for h in (scale * rng.standard_normal((16, 16)), 1e-3 * scale * checker):
                ratio = np.linalg.norm(grad(x + h) - grad(x)) / np.linalg.norm(h)
                worst = max(worst, ratio)
    assert worst <= reg.curvature * (1 + 1e-6)
    if name == "tikhonov":  # 2 ||D^T D|| is nearly reached by a checkerboard
        assert worst >= 0.75 * reg.curvature


@pytest.mark.parametrize("p", [np.float32(0.5), np.int64(1)])
def test_numpy_scalar_exponent_is_accepted(p):
    assert make_regularizer("hyper-laplacian", p=p).p == float(p)
