"""The names users may pass for each solver choice (one place, shared by the library and the CLI)."""

REGULARIZERS = ("none", "tikhonov", "tv", "hyper-laplacian")
BOUNDARIES = ("valid", "reflect", "periodic")
SCHEDULES = ("auto", "constant", "exponential", "step", "inverse-time", "cosine", "armijo", "bb")
MOMENTA = ("none", "heavy-ball", "nesterov")
VARIANTS = ("full", "minibatch", "stochastic")
PRECISIONS = ("float32", "float64")
PRECONDITIONERS = ("fourier", "none")
COLOR_SPACES = ("opponent", "rgb")


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``, else raise a ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
    return value


# Defaults of deblur.solve, here so that the command line can show them
# without importing the engine. The signature of solve() reads them.
DEFAULTS = {
    "regularizer": "hyper-laplacian",
    "weight": "auto",
    "boundary": "valid",
    "schedule": "auto",
    "momentum": "nesterov",
    "preconditioner": "fourier",
    "variant": "full",
    "max_num_iter": 30,
    "tol": 1e-3,
    "precision": "float32",
    "batch_fraction": 0.25,
    "color_space": "opponent",
}
