"""The names users may pass for each solver choice (one place, shared by the library and the CLI)."""

REGULARIZERS = ("none", "tikhonov", "tv", "hyper-laplacian")
BOUNDARIES = ("valid", "reflect", "periodic")
SCHEDULES = ("auto", "constant", "exponential", "step", "inverse-time", "cosine", "armijo", "bb")
MOMENTA = ("none", "heavy-ball", "nesterov")
VARIANTS = ("full", "minibatch", "stochastic")
PRECISIONS = ("float32", "float64")
PRECONDITIONERS = ("fourier", "none")


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``, else raise a ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
    return value
