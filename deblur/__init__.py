"""deblur: image deblurring by gradient descent on a least-squares cost.

>>> import numpy as np, deblur
>>> blurry = np.full((32, 32), 0.5)
>>> deblur.restore(blurry, "gaussian:sigma=1").shape
(32, 32)
"""

__version__ = "0.1.0"

from . import psf
from .api import restore, solve
from .options import BOUNDARIES, MOMENTA, REGULARIZERS, SCHEDULES, VARIANTS
from .result import BackoffEvent, History, SolveResult
from .warnings import StepSizeWarning

__all__ = [
    "restore",
    "solve",
    "psf",
    "SolveResult",
    "History",
    "BackoffEvent",
    "StepSizeWarning",
    "REGULARIZERS",
    "BOUNDARIES",
    "SCHEDULES",
    "MOMENTA",
    "VARIANTS",
]
