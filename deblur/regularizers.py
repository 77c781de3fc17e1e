"""Regularisers ``R(x) = sum_pixels rho(|grad x|^2)`` on forward differences.

=================  ===============================  ==========================
name               rho(s), s = |grad x|^2           curvature bound (per unit weight)
=================  ===============================  ==========================
``none``           0                                0
``tikhonov``       s                                16
``tv``             sqrt(s + eps^2) - eps            8 / eps
``hyper-laplacian``  (s + eps^2)^(p/2) - eps^p      8 p eps^(p-2)
=================  ===============================  ==========================

The bound is ``||D||^2 = 8`` times the largest second derivative of
``rho(|g|^2)`` in ``g``; the solver adds ``weight * bound`` to ``||A||^2`` for
its Lipschitz constant. Smoothing by ``eps`` keeps ``tv`` and
``hyper-laplacian`` differentiable so plain gradient descent applies.
The hyper-Laplacian prior with p around 0.8 follows the heavy-tailed
gradient statistics of natural images (Krishnan and Fergus, NeurIPS 2009).
"""

import math
import numbers
from dataclasses import dataclass

from . import _config, _kernels
from .options import REGULARIZERS, check_choice

_CODES = {
    "none": _kernels.REG_NONE,
    "tikhonov": _kernels.REG_TIKHONOV,
    "tv": _kernels.REG_TV,
    "hyper-laplacian": _kernels.REG_HYPER_LAPLACIAN,
}

# Smoothing in intensity units of a [0, 1] image.
DEFAULT_EPS = {"tv": 0.01, "hyper-laplacian": 0.01}
DEFAULT_P = 0.8


@dataclass(frozen=True)
class Regularizer:
    """A named gradient penalty with its smoothing ``eps`` and exponent ``p``."""

    name: str
    eps: float = 0.0
    p: float = DEFAULT_P

    @property
    def code(self):
        return _CODES[self.name]

    @property
    def curvature(self):
        """Lipschitz constant of ``grad R`` (multiply by the weight)."""
        if self.name == "none":
            return 0.0
        if self.name == "tikhonov":
            return 16.0
        if self.name == "tv":
            return 8.0 / self.eps
        return 8.0 * self.p * self.eps ** (self.p - 2.0)

    def value_grad(self, x, weight, grad):
        """Add ``weight * grad R(x)`` to ``grad`` and return ``R(x)``."""
        if self.name == "none" or weight == 0:
            return 0.0
        params = _kernels.penalty_params(self.eps, self.p, x.dtype)
        return _kernels.regularizer_value_grad(
            x, self.code, params, x.dtype.type(weight), grad, True, _config.REG_CHUNK_ROWS
        )

    def value(self, x):
        """``R(x)``."""
        if self.name == "none":
            return 0.0
        params = _kernels.penalty_params(self.eps, self.p, x.dtype)
        return _kernels.regularizer_value(x, self.code, params, _config.REG_CHUNK_ROWS)


def make_regularizer(name, eps=None, p=DEFAULT_P):
    """Build a :class:`Regularizer` from its name, validating the parameters."""
    check_choice("regularizer", name, REGULARIZERS)
    if eps is None:
        eps = DEFAULT_EPS.get(name, 0.0)
    if name in DEFAULT_EPS and not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"the {name} smoothing eps must be > 0 and finite, got {eps!r}")
    if name == "hyper-laplacian" and not (isinstance(p, numbers.Real) and not isinstance(p, bool) and 0 < p <= 2):
        raise ValueError(f"the hyper-Laplacian exponent p must be in (0, 2], got {p!r}")
    return Regularizer(name, float(eps), float(p))
