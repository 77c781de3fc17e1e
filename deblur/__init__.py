"""deblur: image deblurring by gradient descent on a least-squares cost.

>>> import numpy as np, deblur
>>> blurry = np.full((32, 32), 0.5)
>>> deblur.restore(blurry, "gaussian:sigma=1").shape
(32, 32)

The engine (Numba kernels) is imported on first use of :func:`restore` or
:func:`solve`, so ``import deblur`` and ``deblur --help`` stay fast.
"""

__version__ = "0.1.0"

from . import psf
from .errors import DeblurError, DeblurWarning, UsageError
from .options import BOUNDARIES, MOMENTA, PRECONDITIONERS, REGULARIZERS, SCHEDULES, VARIANTS, SolveOptions
from .result import BackoffEvent, History, SolveResult
from .warnings import StepSizeWarning

_LAZY = {"restore": "api", "solve": "api", "estimate_psf": "blind"}

__all__ = [
    "restore",
    "solve",
    "estimate_psf",
    "psf",
    "SolveResult",
    "History",
    "BackoffEvent",
    "StepSizeWarning",
    "SolveOptions",
    "DeblurError",
    "UsageError",
    "DeblurWarning",
    "REGULARIZERS",
    "BOUNDARIES",
    "SCHEDULES",
    "MOMENTA",
    "VARIANTS",
    "PRECONDITIONERS",
]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'deblur' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
