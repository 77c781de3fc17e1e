"""Gradient descent on ``f(x) = 0.5 ||A x - y||^2 + weight * R(x)``.

The solver sees an operator, an observation and a regulariser; it never
sees files or colour channels. One iteration:

1. momentum: ``z = x + gamma (x - x_prev)`` (Nesterov) or ``z = x``;
2. gradient ``g = A^T (A z - y) + weight * grad R(z)``, with ``A z`` formed
   from the stored ``A x`` and ``A x_prev`` by linearity (no extra blur);
3. step ``x_new = P(z - eta g + delta (x - x_prev))`` (``delta``: heavy-ball),
   ``P`` the projection on the box ``[lo, hi]`` when clipping;
4. ``A x_new`` and the cost ``f(x_new)``; a rise beyond rounding first
   restarts the momentum (O'Donoghue and Candes, 2015), and a rise of a
   plain gradient step, or a non-finite cost, returns to ``x``, halves the
   step and records a :class:`~deblur.result.BackoffEvent`.

So each iteration costs one blur and one adjoint blur, and the cost in the
history is the exact cost of the iterate.
"""

import math
import time
from dataclasses import dataclass

import numpy as np

from . import _kernels, schedules
from .result import BackoffEvent, History

# A cost may rise by this relative amount from float rounding alone.
ROUNDING_RISE = 1e-5
# Non-monotone methods (Barzilai-Borwein, stochastic gradients) are compared
# with the largest cost of this many recent iterations (Grippo et al., 1986).
NONMONOTONE_WINDOW = 10
HEAVY_BALL_BETA = 0.8
MAX_HALVINGS = 60
# 'tol' compares the cost drop over this many iterations with its size.
TOL_WINDOW = 10
MINIBATCH_TILE = 32


@dataclass
class Problem:
    """The least-squares problem: operator, observation, regulariser, weight, box."""

    operator: object
    observed: np.ndarray
    regularizer: object
    weight: float
    bounds: object = None  # (lo, hi) or None

    @property
    def lipschitz(self):
        return self.operator.lipschitz + self.weight * self.regularizer.curvature

    def data_and_reg(self, x, blurred):
        """Data term from ``blurred = A x`` and the weighted regulariser of ``x``."""
        return _kernels.half_sq_diff(blurred, self.observed), self.weight * self.regularizer.value(x)


@dataclass
class Options:
    """Solver settings (validated by the public API)."""

    schedule: str = "auto"
    lr: object = None
    decay: object = None
    momentum: str = "nesterov"
    variant: str = "full"
    batch_fraction: float = 0.25
    max_num_iter: int = 100
    tol: object = 1e-5
    gtol: object = None
    time_limit: object = None
    seed: object = None


@dataclass
class State:
    """What a callback sees after each iteration; return True from it to stop."""

    iteration: int
    image: np.ndarray  # current estimate, cropped to the frame (a view: copy to keep)
    cost: float
    step: float
    grad_norm: float


class GradientDescent:
    """Run gradient descent on a :class:`Problem` (setup, step, run)."""

    def __init__(self, problem, x0, options, callback=None, metrics=None, channel=0):
        self.problem = problem
        self.options = options
        self.callback = callback
        self.metrics = metrics  # callable(frame_image) -> (psnr, ssim) or None
        self.channel = channel
        self.lipschitz = problem.lipschitz
        self.limit = 2.0 / self.lipschitz
        self.eta0 = 1.0 / self.lipschitz if options.lr is None else float(options.lr)
        self.scale = 1.0  # halved by each back-off
        self.history = History()
        self.events = []
        self.restarts = 0
        self.stop_reason = None
        self.iteration = 0
        self._rng = np.random.default_rng(options.seed)
        self._setup(x0)

    # --- setup ------------------------------------------------------------------------

    def _setup(self, x0):
        op = self.problem.operator
        dtype = op.dtype
        self.x = np.ascontiguousarray(x0, dtype=dtype)
        if self.problem.bounds is not None:
            np.clip(self.x, *self.problem.bounds, out=self.x)
        self.x_prev = self.x.copy()
        self.g = np.empty(op.domain_shape, dtype=dtype)
        self.z = np.empty(op.domain_shape, dtype=dtype) if self.options.momentum == "nesterov" else None
        self.Ax = op.forward(self.x)
        self.Ax_prev = self.Ax.copy()
        self.r = np.empty(op.range_shape, dtype=dtype)
        data, reg = self.problem.data_and_reg(self.x, self.Ax)
        self.cost = data + reg
        self._t_nesterov = 1.0
        self._bb_sg_prev = None  # <s, g_prev> for Barzilai-Borwein
        self._eta_prev = self.eta0
        self._start = time.perf_counter()
        self._gnorm0 = None
        self._record(0, data, reg, math.nan, math.nan)

    def _record(self, iteration, data, reg, step, gnorm):
        psnr = ssim = math.nan
        if self.metrics is not None:
            psnr, ssim = self.metrics(self.problem.operator.crop(self.x))
        self.history.append(
            iteration=iteration,
            cost=data + reg,
            data=data,
            regularizer=reg,
            step=step,
            grad_norm=gnorm,
            elapsed=time.perf_counter() - self._start,
            psnr=psnr,
            ssim=ssim,
        )

    # --- one iteration ----------------------------------------------------------------

    def _momentum(self):
        """(gamma, delta): Nesterov extrapolation and heavy-ball coefficients."""
        if self.options.momentum == "nesterov":
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * self._t_nesterov**2))
            return (self._t_nesterov - 1.0) / t_next, 0.0, t_next
        if self.options.momentum == "heavy-ball" and self.iteration > 0:
            return 0.0, HEAVY_BALL_BETA, 1.0
        return 0.0, 0.0, 1.0

    def _gradient(self, gamma):
        """Gradient at the extrapolated point; returns (point, cost there)."""
        op, prob = self.problem.operator, self.problem
        if gamma > 0:
            _kernels.extrapolate(self.x, self.x_prev, gamma, self.z)
            point = self.z
        else:
            point = self.x
        _kernels.extrapolate(self.Ax, self.Ax_prev, gamma, self.r)
        data = _kernels.subtract_inplace_half_sq(self.r, prob.observed)
        if self.options.variant != "full":
            mask, fraction = self._sample_mask()
            _kernels.scale_by_mask(self.r, mask, 1.0 / fraction)
        op.adjoint(self.r, self.g)
        reg = prob.regularizer.value_grad(point, prob.weight, self.g)
        return point, data + prob.weight * reg

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

    def _base_step(self):
        opts = self.options
        if opts.schedule == "armijo":
            return 2.0 * self._eta_prev if self.iteration > 0 else self.eta0
        if opts.schedule == "bb" and self._bb_sg_prev is not None:
            sg, ss = _kernels.diff_dot(self.x, self.x_prev, self.g)
            curvature = sg - self._bb_sg_prev  # <s, g_k - g_{k-1}>
            if curvature > 0 and ss > 0:
                return min(ss / curvature, 1e3 / self.lipschitz)
            return 1.0 / self.lipschitz
        return self.scale * schedules.step_size(
            opts.schedule, self.iteration, self.eta0, opts.decay, opts.max_num_iter
        )

    def _reference_cost(self):
        nonmonotone = self.options.schedule == "bb" or self.options.variant != "full"
        if nonmonotone:
            recent = self.history["cost"][-NONMONOTONE_WINDOW:]
            return max(float(recent.max()), self.cost)
        return self.cost

    def step(self):
        """Take one accepted step (backing off as needed). Returns False to stop."""
        prob, op = self.problem, self.problem.operator
        lo, hi = prob.bounds if prob.bounds is not None else (0.0, 0.0)
        clip = prob.bounds is not None
        gamma, delta, t_next = self._momentum()
        point, cost_point = self._gradient(gamma)
        gnorm = math.sqrt(_kernels.dot(self.g, self.g))
        if self._gnorm0 is None:
            self._gnorm0 = gnorm
        eta = self._base_step()
        halvings = 0
        while True:
            # x_prev's buffer receives the candidate; it is restored on rejection.
            _kernels.descent_step(point, self.g, eta, self.x, self.x_prev, delta, lo, hi, clip, self.x_prev)
            op.forward(self.x_prev, self.Ax_prev)
            data, reg = prob.data_and_reg(self.x_prev, self.Ax_prev)
            cost = data + reg
            accepted, reason = self._judge(cost, cost_point, point, delta, eta)
            if accepted:
                break
            # Undo: x_prev = x drops the momentum (also the heavy-ball term).
            np.copyto(self.x_prev, self.x)
            np.copyto(self.Ax_prev, self.Ax)
            delta = 0.0
            halvings += 1
            if reason == "armijo":  # backtrack from the same point and gradient
                eta *= 0.5
            else:
                self._t_nesterov, t_next = 1.0, 1.0
                if reason == "restart":
                    self.restarts += 1
                else:
                    old = eta
                    self.scale *= 0.5
                    eta *= 0.5
                    self.events.append(BackoffEvent(self.iteration + 1, old, eta, self.limit, reason, self.channel))
                if point is not self.x:
                    point, cost_point = self._gradient(0.0)
                    gnorm = math.sqrt(_kernels.dot(self.g, self.g))
            if halvings > MAX_HALVINGS or eta < 1e-12 * self.eta0:
                self.stop_reason = "step_underflow"
                return False
        if self.options.schedule == "bb":
            self._bb_sg_prev = _kernels.diff_dot(self.x_prev, self.x, self.g)[0]
        # accept: rotate buffers so that x_prev <- x and x <- candidate
        self.x, self.x_prev = self.x_prev, self.x
        self.Ax, self.Ax_prev = self.Ax_prev, self.Ax
        self.cost = cost
        self._t_nesterov = t_next
        self._eta_prev = eta
        self.iteration += 1
        self._record(self.iteration, data, reg, eta, gnorm)
        return self._should_continue(gnorm, eta)

    def _judge(self, cost, cost_point, point, delta, eta):
        """Accept the candidate, or say why not: 'restart', 'armijo', or a back-off reason."""
        if not math.isfinite(cost):
            return False, "non-finite cost"
        if self.options.schedule == "armijo":
            # sufficient decrease: f(x+) <= f(z) + <g, x+ - z> + |x+ - z|^2 / (2 eta)
            dg, dd = _kernels.diff_dot(self.x_prev, point, self.g)
            bound = cost_point + dg + dd / (2.0 * eta)
            if cost <= bound + ROUNDING_RISE * abs(cost_point):
                return True, None
            return False, "armijo"
        if cost <= self._reference_cost() * (1.0 + ROUNDING_RISE):
            return True, None
        if point is not self.x or delta != 0:  # momentum carried us uphill: restart it first
            return False, "restart"
        return False, "cost rose"

    def _should_continue(self, gnorm, eta):
        opts = self.options
        if self.callback is not None:
            state = State(self.iteration, self.problem.operator.crop(self.x), self.cost, eta, gnorm)
            if self.callback(state):
                self.stop_reason = "callback"
                return False
        if opts.gtol is not None and gnorm <= opts.gtol * self._gnorm0:
            self.stop_reason = "gtol"
            return False
        if opts.tol is not None and self.iteration >= TOL_WINDOW:
            costs = self.history["cost"]
            drop = costs[-1 - TOL_WINDOW] - costs[-1]
            if drop <= opts.tol * TOL_WINDOW * abs(costs[-1]):
                self.stop_reason = "tol"
                return False
        if opts.time_limit is not None and time.perf_counter() - self._start >= opts.time_limit:
            self.stop_reason = "time_limit"
            return False
        if self.iteration >= opts.max_num_iter:
            self.stop_reason = "max_iter"
            return False
        return True

    def run(self):
        """Iterate until a stopping rule fires; returns self."""
        if self.options.max_num_iter <= 0:
            self.stop_reason = "max_iter"
            return self
        while self.step():
            pass
        return self

    @property
    def image(self):
        """The current estimate cropped to the frame."""
        return self.problem.operator.crop(self.x)
