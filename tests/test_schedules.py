"""Step-size schedules: values at given t against the formulas of deblur/schedules.py."""

import math

import pytest

from deblur import SCHEDULES
from deblur.schedules import ADAPTIVE, DEFAULT_DECAY, check_decay, step_size

T = 100  # horizon
TIMES = [0, 1, 5, 24, 25, 50, 74, 75, 99, 100, 150]


@pytest.mark.parametrize("t", TIMES)
def test_values_at_given_t(t):
    eta0 = 0.8
    assert step_size("auto", t, eta0, horizon=T) == eta0
    assert step_size("constant", t, eta0, horizon=T) == eta0
    assert step_size("exponential", t, eta0, decay=0.9, horizon=T) == pytest.approx(eta0 * 0.9**t)
    assert step_size("step", t, eta0, decay=0.5, horizon=T) == pytest.approx(eta0 * 0.5 ** math.floor(4 * t / T))
    assert step_size("inverse-time", t, eta0, decay=0.2, horizon=T) == pytest.approx(eta0 / (1 + 0.2 * t))
    frac = min(t / T, 1.0)
    cosine = eta0 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
    assert step_size("cosine", t, eta0, decay=0.1, horizon=T) == pytest.approx(cosine)
    for name in ADAPTIVE:  # the solver adapts from this first value
        assert step_size(name, t, eta0, horizon=T) == eta0


def test_hand_computed_values():
    assert step_size("inverse-time", 10, 1.0, decay=0.1) == pytest.approx(0.5)
    assert step_size("exponential", 2, 2.0, decay=0.5) == pytest.approx(0.5)
    # step: four drops over the horizon, at T/4, T/2, 3T/4 and T
    steps = [step_size("step", t, 1.0, decay=0.5, horizon=8) for t in range(9)]
    assert steps == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625])
    # cosine: eta0 at 0, halfway at T/2, the floor at T and after
    assert step_size("cosine", 0, 2.0, decay=0.1, horizon=10) == pytest.approx(2.0)
    assert step_size("cosine", 5, 2.0, decay=0.1, horizon=10) == pytest.approx(2.0 * 0.55)
    assert step_size("cosine", 10, 2.0, decay=0.1, horizon=10) == pytest.approx(0.2)
    assert step_size("cosine", 30, 2.0, decay=0.1, horizon=10) == pytest.approx(0.2)


@pytest.mark.parametrize("name", sorted(DEFAULT_DECAY))
def test_default_decay(name):
    assert check_decay(name, None) == DEFAULT_DECAY[name]
    assert step_size(name, 7, 1.0, horizon=20) == step_size(name, 7, 1.0, decay=DEFAULT_DECAY[name], horizon=20)


@pytest.mark.parametrize("name", sorted(DEFAULT_DECAY))
def test_decaying_schedules_never_increase(name):
    values = [step_size(name, t, 1.0, horizon=40) for t in range(60)]
    assert values[0] == 1.0
    assert all(b <= a for a, b in zip(values, values[1:]))
    assert values[-1] < values[0]


def test_zero_horizon_does_not_divide_by_zero():
    assert step_size("step", 3, 1.0, decay=0.5, horizon=0) == pytest.approx(0.5**12)
    assert step_size("cosine", 3, 1.0, decay=0.1, horizon=0) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "name, decay, match",
    [
        ("exponential", 0.0, r"decay for the exponential schedule must be in \(0, 1\)"),
        ("exponential", 1.0, r"must be in \(0, 1\)"),
        ("step", 1.5, r"must be in \(0, 1\)"),
        ("cosine", -0.1, r"must be in \(0, 1\)"),
        ("inverse-time", 0.0, "must be > 0"),
        ("inverse-time", -2.0, "must be > 0"),
        ("exponential", "fast", "decay must be a number"),
        ("exponential", None.__class__, "decay must be a number"),
    ],
)
def test_bad_decay(name, decay, match):
    with pytest.raises(ValueError, match=match):
        check_decay(name, decay)


@pytest.mark.parametrize("name", ["linear", "Constant", "", None, 1])
def test_unknown_schedule(name):
    with pytest.raises(ValueError, match="unknown schedule .*choose one of: " + ", ".join(SCHEDULES)):
        step_size(name, 0, 1.0)


def test_schedules_without_decay_ignore_it():
    assert check_decay("constant", None) is None
    assert check_decay("armijo", 0.5) is None
