"""What the descent minimises: the problem, its cost, and its gradient at a point.

:class:`Problem` holds ``f(x) = 0.5 ||A x - y||^2 + weight * R(x)`` (with a
box, a preconditioner and the clipped pixels' mask);
:class:`ObjectiveMixin` gives :class:`deblur.solver.GradientDescent` the
gradient and direction at the extrapolated point, formed from the stored
blurs by linearity, with the stochastic variants' sampling, and the
direction's blur from the preconditioner's spectrum where it can.
"""

import math
from dataclasses import dataclass

import numpy as np

from . import _kernels_step as _kernels

MINIBATCH_TILE = 32
# Consecutive candidates blurred by linearity (see ObjectiveMixin._gradient)
# before one is blurred afresh, so that rounding cannot build up in A x.
LINEAR_BLURS_MAX = 15


@dataclass
class Problem:
    """The least-squares problem: operator, observation, regulariser, weight, box."""

    operator: object
    observed: np.ndarray
    regularizer: object
    weight: float
    bounds: object = None  # (lo, hi) or None
    preconditioner: object = None  # FourierPreconditioner or None
    data_mask: object = None  # bool array over the frame: False marks a clipped pixel
    # A clipped pixel's value is a lower bound of the model's (censored: one-sided residual)
    # for a positive combination of the channels; for a colour difference it bounds
    # nothing and the pixel leaves the data term.
    censored: bool = True

    @property
    def lipschitz(self):
        """Lipschitz constant of the gradient, in the preconditioner's metric when there is one."""
        if self.preconditioner is not None:
            return max(self.operator.lipschitz, 1.0)
        return self.operator.lipschitz + self.weight * self.regularizer.curvature

    @property
    def blurs_direction_in_spectrum(self):
        """True when the direction's blur can be formed from the preconditioner's spectrum.

        The FFT engine under the 'valid' model sharing its transform buffer
        with the Fourier preconditioner, and no clipped pixels (their
        censored residual is not ``A z - y``).
        """
        precond = self.preconditioner
        return (
            self.data_mask is None
            and hasattr(precond, "apply_keeping")
            and self.operator.blurs_spectra
            and precond.buffer is self.operator.spectral_buffer
        )

    def data_and_reg(self, x, blurred):
        """Data term from ``blurred = A x`` and the weighted regulariser of ``x``."""
        if self.data_mask is None:
            data = _kernels.half_sq_diff(blurred, self.observed)
        else:  # one pass, no image-sized temporaries (a 12 MP luminance: 3 of them)
            data = _kernels.masked_half_sq_diff(blurred, self.observed, self.data_mask, self.censored)
        return data, self.weight * self.regularizer.value(x)


class ObjectiveMixin:
    """The gradient of :class:`deblur.solver.GradientDescent`'s problem (methods on its state)."""

    def _gradient(self, gamma):
        """Gradient (and direction) at ``x + gamma (x - x_prev)``; returns (point, data, weighted reg)."""
        op, prob = self.problem.operator, self.problem
        if gamma != 0:
            point = self._take(self.x, self.x_prev) if self._keeps_originals else self._take(self.x)
            _kernels.extrapolate(self.x, self.x_prev, gamma, point)
            if point is self.x_prev:
                self._prev_valid = False
        else:
            point = self.x
        residual = self.Ax_prev  # A z - y is formed in place of A x_prev
        data = _kernels.residual_half_sq(self.Ax, self.Ax_prev, gamma, prob.observed, residual)
        if prob.data_mask is not None:  # clipped highlights (see Problem.censored)
            if prob.censored:
                _kernels.censor_by_mask(residual, prob.data_mask)
            else:
                _kernels.scale_by_mask(residual, prob.data_mask, 1.0)
            data = 0.5 * _kernels.dot(residual, residual)
        if self.options.variant != "full":
            mask, fraction = self._sample_mask()
            _kernels.scale_by_mask(residual, mask, 1.0 / fraction)
        op.adjoint(residual, self.g)
        reg = prob.regularizer.value_grad(point, prob.weight, self.g)
        self._held = self._outside = 0
        if self._use_active:
            self._held, self._outside, norm_sq = _kernels.free_gradient(point, self.g, *prob.bounds, self._active)
        else:
            norm_sq = _kernels.dot(self.g, self.g)
        self._gnorm = math.sqrt(norm_sq)
        self._direction_blurred = False
        if prob.preconditioner is None:
            pass
        elif self._blurs_direction():
            # A d from P g's spectrum (one inverse transform): the candidate's
            # blur is then A z - eta A d, not a forward and inverse pair of its own
            if self._Ad is None:
                self._Ad = np.empty(op.range_shape, dtype=op.dtype)
            op.forward_spectrum(prob.preconditioner.apply_keeping(self.g, self.d), self._Ad)
            self._direction_blurred = True
        else:
            prob.preconditioner.apply(self.g, self.d)
        return point, data, prob.weight * reg

    def _blurs_direction(self):
        """Whether to blur the direction now: no pixel held or outside the box, the last step clipped none.

        Otherwise the step differs from ``z - eta d`` at those pixels, and
        blurring the difference (a sparse image through the dense kernel)
        measured as costly as the transforms saved (12 MP, 2 % held pixels:
        72 ms against a 38 ms forward transform).
        """
        return (
            self._spectral_steps
            and self._held == 0
            and self._outside == 0
            and self._last_clipped == 0
            and self._linear_blurs < LINEAR_BLURS_MAX
        )

    def _sample_mask(self):
        """Pixels (stochastic) or tiles (minibatch) whose residuals enter this step's gradient."""
        shape = self.problem.operator.range_shape
        fraction = self.options.batch_fraction
        if self.options.variant == "stochastic":
            mask = self._rng.random(shape, dtype=np.float32) < fraction
        else:
            tiles = (-(-shape[0] // MINIBATCH_TILE), -(-shape[1] // MINIBATCH_TILE))
            n_tiles = tiles[0] * tiles[1]
            chosen = np.zeros(n_tiles, dtype=bool)
            chosen[self._rng.choice(n_tiles, size=max(1, round(fraction * n_tiles)), replace=False)] = True
            mask = np.repeat(np.repeat(chosen.reshape(tiles), MINIBATCH_TILE, 0), MINIBATCH_TILE, 1)
            mask = mask[: shape[0], : shape[1]]
        actual = max(np.count_nonzero(mask), 1) / mask.size
        return np.ascontiguousarray(mask), actual
