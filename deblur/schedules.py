"""Step-size schedules: the learning rate eta(t) at iteration t = 0, 1, ...

Each schedule scales a base step ``eta0`` (``1/L`` unless the user gives
``lr``) by a factor that depends on the iteration ``t`` and the horizon ``T``
(the iteration budget):

==============  ===========================================  ==============
name            eta(t)                                       default decay
==============  ===========================================  ==============
``auto``        eta0 = 1/L, constant                         --
``constant``    eta0                                         --
``exponential`` eta0 * decay**t                              0.99
``step``        eta0 * decay**floor(4 t / T)  (4 drops)      0.5
``inverse-time``  eta0 / (1 + decay * t)                     0.05
``cosine``      eta0 * (decay + (1 - decay)(1 + cos(pi t/T))/2)  0.01 (floor)
``armijo``      backtracking from 2*eta(t-1), halving until   --
                sufficient decrease (in the solver)
``bb``          Barzilai-Borwein |s|^2 / <s, dg> (in the      --
                solver), 1/L at the start
==============  ===========================================  ==============
"""

import math

from .options import SCHEDULES, check_choice

DEFAULT_DECAY = {"exponential": 0.99, "step": 0.5, "inverse-time": 0.05, "cosine": 0.01}

# Schedules whose step the solver computes itself from the iterates.
ADAPTIVE = ("armijo", "bb")


def _constant(t, eta0, decay, horizon):
    return eta0


def _exponential(t, eta0, decay, horizon):
    return eta0 * decay**t


def _step(t, eta0, decay, horizon):
    return eta0 * decay ** math.floor(4 * t / max(horizon, 1))


def _inverse_time(t, eta0, decay, horizon):
    return eta0 / (1.0 + decay * t)


def _cosine(t, eta0, decay, horizon):
    frac = min(t / max(horizon, 1), 1.0)
    return eta0 * (decay + (1.0 - decay) * 0.5 * (1.0 + math.cos(math.pi * frac)))


_RULES = {
    "auto": _constant,
    "constant": _constant,
    "exponential": _exponential,
    "step": _step,
    "inverse-time": _inverse_time,
    "cosine": _cosine,
    "armijo": _constant,  # starting value; the solver backtracks
    "bb": _constant,  # first step; later steps come from the iterates
}


def check_decay(schedule, decay):
    """Return the decay parameter for ``schedule`` (its default when None), validated."""
    check_choice("schedule", schedule, SCHEDULES)
    if schedule not in DEFAULT_DECAY:
        return None
    decay = DEFAULT_DECAY[schedule] if decay is None else decay
    try:
        decay = float(decay)
    except (TypeError, ValueError):
        raise ValueError(f"decay must be a number, got {decay!r}") from None
    if schedule in ("exponential", "step", "cosine") and not 0 < decay < 1:
        raise ValueError(f"decay for the {schedule} schedule must be in (0, 1), got {decay!r}")
    if schedule == "inverse-time" and not decay > 0:
        raise ValueError(f"decay for the inverse-time schedule must be > 0, got {decay!r}")
    return decay


def step_size(schedule, t, eta0, decay=None, horizon=1):
    """Step size of ``schedule`` at iteration ``t`` (0-based).

    Examples
    --------
    >>> step_size("inverse-time", 10, 1.0, decay=0.1)
    0.5
    """
    decay = check_decay(schedule, decay)
    return _RULES[schedule](t, eta0, decay, horizon)
