"""Gradient descent on ``f(x) = 0.5 ||A x - y||^2 + weight * R(x)``.

The solver sees an operator, an observation and a regulariser; it never
sees files or colour channels. One iteration:

1. momentum: ``z = x + gamma (x - x_prev)`` (Nesterov) or ``z = x``;
2. gradient ``g = A^T (A z - y) + weight * grad R(z)`` and the cost ``f(z)``,
   with ``A z`` formed from the stored ``A x`` and ``A x_prev`` by linearity
   (no extra blur); the direction is ``d = P g`` with a preconditioner;
3. a rise of ``f(z)`` beyond rounding (beyond the largest of the last 10
   costs for the non-monotone methods) restarts the momentum; a rise at the
   iterate itself, or a non-finite cost, returns to the previous iterate,
   halves the step and records a :class:`~deblur.result.BackoffEvent`;
4. step ``x_new = B(z - eta d + delta (x - x_prev))`` (``delta``: heavy-ball),
   ``B`` the projection on the box ``[lo, hi]`` when clipping; momentum also
   restarts when the step went uphill along ``g`` (O'Donoghue and Candes,
   "Adaptive restart for accelerated gradient schemes", 2015);
5. ``A x_new`` by one blur; on the FFT engine, where the box held and
   clipped no pixel, as ``A z - eta A d`` instead, ``A d`` read from the
   preconditioner's spectrum by one inverse transform.

With a box and a preconditioner, the pixels the box holds (at a bound, the
gradient pushing outward) are left out of ``g`` before ``P`` and take no
step (Bertsekas' projected Newton rule, 1982): a Euclidean projection after
a step in ``P``'s metric is not a descent step, this is. When the step is
the solver's own (no ``lr``), it is searched along the projection arc from
the last step found (twice it, at most ``1/L``; a doubled start that
failed is put off for 1, 2, 4, ... iterations) until the new iterate's
cost is below the point's; so a default run never backs off. A candidate
whose cost is above the iterate's is then not taken, as in Beck and
Teboulle's monotone FISTA (2009): the iterate stays, and the next point is
extrapolated towards the candidate, ``x + (t_k / t_k+1) (u - x)``, with the
momentum kept. Restarting it instead on each such rise (O'Donoghue and
Candes' function restart) fired every few steps on rises of a fraction of
a percent, as the held set changes, and kept Nesterov's coefficient below
0.55 (astronaut/shake31/0.5 % of benchmarks/quality.py lost 0.58 dB);
taking the candidate without a restart let a 12 MP luminance climb (cost
x7, PSNR -2.8 dB). A user's ``lr`` is taken as given, and a rise backs
off as in 3.

The point with the lowest cost measured so far is kept (by keeping its
buffer out of reuse, not by copying), and the run never returns an image
whose cost is above it beyond rounding.

So each iteration costs one blur, one adjoint blur and one regulariser
pass; the history records the cost where each gradient was taken, and the
cost of the final image.

The loop is here; the rest of the descent, by concern:
:mod:`deblur._solver_problem` (the problem, its cost and gradient),
:mod:`deblur._solver_search` (momentum, the step's rule and search,
restarts and back-offs), :mod:`deblur._solver_stop` (stopping rules, the
history, what a callback sees). Their names are importable from here.
"""

import math
import time
from dataclasses import dataclass

import numpy as np

from . import _kernels_step as _kernels
from ._solver_problem import MINIBATCH_TILE, ObjectiveMixin, Problem
from ._solver_search import (
    ARMIJO_C,
    BOX_HALVINGS,
    HEAVY_BALL_BETA,
    MAX_HALVINGS,
    NONMONOTONE_WINDOW,
    PROBE_GAP_MAX,
    StepSearchMixin,
)
from ._solver_stop import TOL_WINDOW, State, StoppingMixin
from .options import DEFAULTS
from .result import History

__all__ = ["GradientDescent", "Options", "Problem", "State", "ROUNDING_EPS", "NONMONOTONE_WINDOW",
           "HEAVY_BALL_BETA", "MAX_HALVINGS", "BOX_HALVINGS", "TOL_WINDOW", "MINIBATCH_TILE", "ARMIJO_C",
           "PROBE_GAP_MAX"]

# A cost may rise by this many machine epsilons (relative) from rounding alone.
ROUNDING_EPS = 100


@dataclass
class Options:
    """Solver settings (validated by the public API): the fields of
    :class:`deblur.options.SolveOptions` the descent reads, with its defaults."""

    schedule: str = DEFAULTS["schedule"]
    lr: object = DEFAULTS["lr"]
    decay: object = DEFAULTS["decay"]
    momentum: str = DEFAULTS["momentum"]
    variant: str = DEFAULTS["variant"]
    batch_fraction: float = DEFAULTS["batch_fraction"]
    max_num_iter: int = DEFAULTS["max_num_iter"]
    tol: object = DEFAULTS["tol"]
    gtol: object = DEFAULTS["gtol"]
    time_limit: object = DEFAULTS["time_limit"]
    seed: object = DEFAULTS["seed"]


class GradientDescent(ObjectiveMixin, StepSearchMixin, StoppingMixin):
    """Run gradient descent on a :class:`Problem` (setup, step, run)."""

    def __init__(self, problem, x0, options, callback=None, metrics=None, channel=0, view=None):
        self.problem = problem
        self.view = view  # callable(cropped image) -> the image callbacks and metrics see (a finer grid), or None
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
        # Memory: the direction P g overwrites g, the extrapolated point z
        # overwrites x_prev and the residual overwrites A x_prev, except where
        # a line search (armijo) or Barzilai-Borwein still needs the originals.
        self._keeps_originals = self.options.schedule in ("armijo", "bb")
        has_precond = self.problem.preconditioner is not None
        self.d = np.empty_like(self.g) if has_precond and self._keeps_originals else self.g
        # iterate-sized buffers: x, x_prev, and those allocated on demand (z, the best point)
        self._pool = [self.x, self.x_prev]
        self._best = None  # buffer holding the lowest-cost point measured, or None
        self._best_terms = (math.inf, math.inf)  # its (data, weighted reg)
        clip_active = has_precond and self.problem.bounds is not None
        self._active = np.empty(op.domain_shape, dtype=np.uint8) if clip_active else np.zeros((1, 1), np.uint8)
        self._use_active = clip_active
        self._search = self.options.lr is None and self.options.schedule not in ("armijo", "bb")
        self._held = 0  # pixels the box holds at the current point
        self._box_eta = None  # the step the box's line search last settled on, when shorter than the rule's
        self._failed_start = math.inf  # a doubled start of that search that failed, tried again from _retry_at
        self._probe_gap = 0
        self._retry_at = 0
        self._x_cost = math.nan  # cost of the iterate x when measured (NaN: not measured)
        self._rejected = False  # the last candidate was above x's cost: x stayed, x_prev holds the candidate
        # the direction's blur A d from the preconditioner's spectrum (Problem.blurs_direction_in_spectrum)
        self._spectral_steps = (self._search and self.options.variant == "full"
                                and self.options.momentum != "heavy-ball" and self.problem.blurs_direction_in_spectrum)
        self._Ad = None  # A d, allocated on first use
        self._direction_blurred = False  # _Ad holds the blur of the current direction
        self._linear_blurs = 0  # candidates blurred by linearity since the last blurred afresh
        self._last_clipped = 0  # pixels the last step's box clipped
        self.Ax = op.forward(self.x)
        self.Ax_prev = self.Ax.copy()
        self._prev_valid = True  # x_prev and Ax_prev hold the previous iterate
        self._t_nesterov = 1.0
        self._bb_sg_prev = None  # <s, d_prev> for Barzilai-Borwein
        self._eta_prev = self.eta0
        self._start = time.perf_counter()
        self._gnorm0 = None
        self._measured_final = False
        self._rounding = ROUNDING_EPS * float(np.finfo(dtype).eps)

    # --- one iteration ----------------------------------------------------------------

    def _take(self, *exclude):
        """An iterate-sized buffer that is neither the best point nor any of ``exclude`` (x_prev first)."""
        for buf in [self.x_prev] + [b for b in self._pool if b is not self.x_prev]:
            if buf is not self._best and not any(buf is e for e in exclude):
                return buf
        buf = np.empty_like(self.x)
        self._pool.append(buf)
        return buf

    def step(self):
        """Take one step. Returns False when a stopping rule fires.

        The cost is measured where the gradient is taken: at the iterate
        itself without momentum, at the extrapolated point with Nesterov's.
        A rise there first restarts the momentum; a rise at the iterate
        itself returns to the previous iterate, halves the step and records
        a back-off event (once per step: the earlier iterate is then used).
        """
        prob = self.problem
        gamma, delta, t_next = self._momentum()
        point, data, reg = self._gradient(gamma)
        delta, t_next, point, data, reg = self._restart_or_back_off(gamma, delta, t_next, point, data, reg)
        if not math.isfinite(data + reg):
            self.stop_reason = "step_underflow"
            return False
        gnorm = self._gnorm
        if self._gnorm0 is None:
            self._gnorm0 = gnorm
        eta = self._base_step()
        self._record(self.iteration, data, reg, eta, gnorm, point)
        # an extrapolated point may lie outside the box: only images in it are returned
        feasible = prob.bounds is None or point is self.x or (self._use_active and self._outside == 0)
        if feasible and data + reg < sum(self._best_terms):
            self._best, self._best_terms = point, (data, reg)
        self._measured_final = point is self.x
        if point is self.x:
            self._x_cost = data + reg
        if self._stop_before_step(gnorm):
            return False

        found = self._searched_step(point, eta, delta, data + reg)
        if found is None:
            self.stop_reason = "step_underflow"
            return False
        candidate, eta, uphill, candidate_cost = found
        if self._search:
            # monotone FISTA (Beck and Teboulle, 2009): a candidate above the
            # iterate's cost is not taken, x stays and the momentum goes on
            # from the candidate (x_prev <- candidate, its blur in Ax_prev)
            rose = candidate_cost > self._x_cost + self._rounding * abs(self._x_cost)
            if rose and self.options.momentum == "nesterov":
                self.x_prev = candidate
                self._prev_valid = self._rejected = True
                self._t_nesterov = t_next
                self._eta_prev = eta
                self.iteration += 1
                return self._stop_after_step(eta, gnorm)
            self._rejected = False
        self._x_cost = candidate_cost
        if self.options.schedule == "bb":
            self._bb_sg_prev = _kernels.diff_dot(candidate, self.x, self.d)[0]
        # rotate buffers: x_prev <- x, x <- x_new
        self.x, self.x_prev = candidate, self.x
        self.Ax, self.Ax_prev = self.Ax_prev, self.Ax
        self._prev_valid = True
        self._t_nesterov = 1.0 if uphill > 0 else t_next
        self._eta_prev = eta
        self.iteration += 1
        return self._stop_after_step(eta, gnorm)

    def run(self):
        """Iterate until a stopping rule fires, then record the final iterate's cost; returns self."""
        if self.options.max_num_iter <= 0:
            self.stop_reason = "max_iter"
        else:
            while self.step():
                pass
        measured = self.stop_reason in ("tol", "gtol") and self._measured_final
        if measured:
            data, reg = self.history["data"][-1], self.history["regularizer"][-1]
        else:  # the returned image has not been measured yet
            data, reg = self.problem.data_and_reg(self.x, self.Ax)
        best = sum(self._best_terms)
        if self._best is not None and not data + reg <= best + self._rounding * abs(best):
            # never return an image worse than the best one measured (the
            # extrapolated points of momentum are measured, the iterates not)
            self.x = self._best
            data, reg = self._best_terms
            measured = False
        if not measured:
            self._record(self.iteration, data, reg, math.nan, math.nan, self.x)
        return self

    def release(self):
        """Free the work arrays (all but the current iterate); the solver cannot step after this."""
        if self._Ad is not None:  # and the spectrum kept for it, in the operator's buffer
            self.problem.operator.spectral_buffer.drop_kept()
        self.x_prev = self.g = self.d = self.Ax = self.Ax_prev = self._active = self._best = self._Ad = None
        self._pool = [self.x]

    @property
    def image(self):
        """The current estimate cropped to the frame (on the solver's own grid)."""
        return self.problem.operator.crop(self.x)
