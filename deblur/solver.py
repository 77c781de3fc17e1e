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
5. ``A x_new`` by one blur.

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
"""

import math
import time
from dataclasses import dataclass

import numpy as np

from . import _kernels, schedules
from .result import BackoffEvent, History

# A cost may rise by this many machine epsilons (relative) from rounding alone.
ROUNDING_EPS = 100
# Non-monotone methods (Barzilai-Borwein, stochastic gradients) are compared
# with the largest cost of this many recent iterations (Grippo et al., 1986).
NONMONOTONE_WINDOW = 10
HEAVY_BALL_BETA = 0.8
MAX_HALVINGS = 60
# Halvings of the line search along the projection arc before it gives up
# on an extrapolated point (and restarts the momentum).
BOX_HALVINGS = 10
# 'tol' compares the cost drop over this many iterations with its size.
TOL_WINDOW = 10
MINIBATCH_TILE = 32
# Sufficient-decrease constant of the Armijo rule.
ARMIJO_C = 0.1
# The searched step starts from twice the last one found; when that doubled
# start fails (one blur spent for nothing), it is not tried again for 1, 2,
# 4, ... up to this many iterations (the search starts at the last step
# found meanwhile). On the 12 MP luminance of benchmarks/large_photo.py the
# doubled start failed in 22 of 25 iterations, a third of the blurs.
PROBE_GAP_MAX = 8


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

    def data_and_reg(self, x, blurred):
        """Data term from ``blurred = A x`` and the weighted regulariser of ``x``."""
        if self.data_mask is None:
            data = _kernels.half_sq_diff(blurred, self.observed)
        else:
            diff = blurred - self.observed
            if self.censored:
                np.minimum(diff, 0.0, out=diff, where=~self.data_mask)
            else:
                diff[~self.data_mask] = 0.0
            data = 0.5 * float(np.dot(diff.ravel(), diff.ravel()))
        return data, self.weight * self.regularizer.value(x)


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

    iteration: int  # steps taken
    _image: object  # the estimate, or a function that forms it (read through ``image``)
    cost: float  # cost where the last step's gradient was taken (measuring the new image would cost a pass)
    step: float
    grad_norm: float

    @property
    def image(self):
        """Estimate after those steps, cropped to the frame (a view: copy to keep); formed on first use."""
        if callable(self._image):
            self._image = self._image()
        return self._image


class GradientDescent:
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

    def _record(self, iteration, data, reg, step, gnorm, image):
        psnr = ssim = math.nan
        if self.metrics is not None:
            psnr, ssim = self.metrics(self._seen(image))
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
        """(gamma, delta, t_next): Nesterov extrapolation, heavy-ball coefficient, next t.

        After a rejected candidate ``u`` (monotone FISTA, held in ``x_prev``)
        the point is ``x + (t / t_next) (u - x)``: ``gamma = -t / t_next``.
        """
        if self.options.momentum == "nesterov":
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * self._t_nesterov**2))
            if self._rejected:
                return -self._t_nesterov / t_next, 0.0, t_next
            return (self._t_nesterov - 1.0) / t_next, 0.0, t_next
        if self.options.momentum == "heavy-ball" and self.iteration > 0:
            return 0.0, HEAVY_BALL_BETA, 1.0
        return 0.0, 0.0, 1.0

    def _take(self, *exclude):
        """An iterate-sized buffer that is neither the best point nor any of ``exclude`` (x_prev first)."""
        for buf in [self.x_prev] + [b for b in self._pool if b is not self.x_prev]:
            if buf is not self._best and not any(buf is e for e in exclude):
                return buf
        buf = np.empty_like(self.x)
        self._pool.append(buf)
        return buf

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
        if prob.preconditioner is not None:
            prob.preconditioner.apply(self.g, self.d)
        return point, data, prob.weight * reg

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
            sg, ss = _kernels.diff_dot(self.x, self.x_prev, self.d)
            curvature = sg - self._bb_sg_prev  # <s, d_k - d_{k-1}>
            if curvature > 0 and ss > 0:
                return min(ss / curvature, 1e3 / self.lipschitz)
            return 1.0 / self.lipschitz
        return self.scale * schedules.step_size(
            opts.schedule, self.iteration, self.eta0, opts.decay, opts.max_num_iter
        )

    def _rose(self, cost):
        """True when ``cost`` is non-finite or above what the method allows."""
        if not math.isfinite(cost):
            return True
        if self.iteration == 0:
            return False
        costs = self.history["cost"]
        monotone = self.options.momentum == "none" and self.options.schedule != "bb" and self.options.variant == "full"
        reference = costs[-1] if monotone else costs[-NONMONOTONE_WINDOW:].max()
        return cost > reference + self._rounding * abs(reference)

    def _revert(self):
        """Return to the previous iterate after a rise, dropping the momentum.

        When Nesterov's extrapolation has already overwritten the previous
        iterate in this step, the current one is kept (the step still halves).
        """
        if self._prev_valid:  # swap rather than copy: x_prev may be the best point, kept intact
            self.x, self.x_prev = self.x_prev, self.x
            self.problem.operator.forward(self.x, self.Ax)
        np.copyto(self.x_prev, self.x)
        np.copyto(self.Ax_prev, self.Ax)
        self._prev_valid = True

    def step(self):
        """Take one step. Returns False when a stopping rule fires.

        The cost is measured where the gradient is taken: at the iterate
        itself without momentum, at the extrapolated point with Nesterov's.
        A rise there first restarts the momentum; a rise at the iterate
        itself returns to the previous iterate, halves the step and records
        a back-off event (once per step: the earlier iterate is then used).
        """
        prob, op = self.problem, self.problem.operator
        gamma, delta, t_next = self._momentum()
        point, data, reg = self._gradient(gamma)
        reverted = False
        while self._rose(data + reg) and not reverted:
            if gamma != 0:  # momentum carried us uphill: restart it at x
                self.restarts += 1
            else:
                old = self._eta_prev
                self.scale *= 0.5
                reason = "non-finite cost" if not math.isfinite(data + reg) else "cost rose"
                self._revert()
                reverted = True
                self._eta_prev *= 0.5
                self.events.append(BackoffEvent(self.iteration, old, self._eta_prev, self.limit, reason, self.channel))
            self._t_nesterov, t_next, gamma, delta = 1.0, 1.0, 0.0, 0.0
            self._rejected = False
            point, data, reg = self._gradient(0.0)
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

        lo, hi = prob.bounds if prob.bounds is not None else (0.0, 0.0)
        clip = prob.bounds is not None
        cost_point = data + reg
        armijo = self.options.schedule == "armijo"
        # The solver's own step (no lr given) is searched: 1/L in P's metric
        # bounds it only where P matches A^T A (not near the edges of the
        # 'valid' model, nor once the box holds or clips pixels), so the
        # step backtracks along the projection arc until the cost falls
        # below that of the point, or of the last iterate when the point
        # lies outside the box (as Beck and Teboulle's monotone FISTA, 2009),
        # starting from twice the step found last time. A user's lr is
        # taken as given: a rise then backs off (and is reported).
        box_search = self._search
        rule_eta = eta
        reference = cost_point
        probed = False  # the search starts from a doubled step
        if box_search:
            if self._box_eta is not None:
                eta = min(eta, 2.0 * self._box_eta)
                if eta >= self._failed_start and self.iteration < self._retry_at:
                    eta = self._box_eta  # that start failed lately: begin at the step found
                probed = eta > self._box_eta
            if self._outside and math.isfinite(self._x_cost):
                reference = max(cost_point, self._x_cost)
        # the candidate x_new: in place of x_prev (or of z) unless that holds the best point
        candidate = self._take(self.x, point) if armijo or box_search else self._take(self.x)
        candidate_cost = math.nan
        start = eta
        for halvings in range(MAX_HALVINGS):
            uphill, clipped = _kernels.descent_step(
                point, self.d, eta, self.x, self.x_prev, delta, lo, hi, clip, self.g, candidate,
                self._active, self._use_active,
            )
            candidate_data = None
            if box_search and prob.data_mask is None:  # the data term comes with the blur
                candidate_data = op.forward_data(candidate, self.Ax_prev, prob.observed)
            else:
                op.forward(candidate, self.Ax_prev)
            if armijo:
                accepted = self._armijo_ok(cost_point, point, candidate)
            elif box_search:
                candidate_cost = self._cost_at(candidate, candidate_data)
                accepted = candidate_cost <= reference + self._rounding * abs(reference)
                if not accepted and halvings + 1 >= BOX_HALVINGS:
                    # no step falls below the reference (rounding, or an
                    # extrapolated point far from the iterate): stay at x
                    # and restart the momentum
                    np.copyto(candidate, self.x)
                    np.copyto(self.Ax_prev, self.Ax)
                    candidate_cost, self._last_terms = self._x_cost, (math.nan, math.nan)
                    accepted, uphill = True, 1.0
            else:
                accepted = True
            if accepted:
                break
            delta = 0.0  # backtrack from the same point and gradient
            eta *= 0.5
        else:
            self.stop_reason = "step_underflow"
            return False
        if box_search:
            if probed:
                self._probe_outcome(eta, start)
            self._box_eta = eta if eta < rule_eta else None
            if candidate_cost < sum(self._best_terms) and math.isfinite(self._last_terms[0]):
                self._best, self._best_terms = candidate, self._last_terms
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

    def _probe_outcome(self, eta, start):
        """After a search from a doubled ``start``: a failure puts that start off for 1, 2, 4, ... iterations."""
        if eta < start:
            self._failed_start = start
            self._probe_gap = min(max(1, 2 * self._probe_gap), PROBE_GAP_MAX)
            self._retry_at = self.iteration + 1 + self._probe_gap
        elif start >= self._failed_start:
            self._failed_start, self._probe_gap = math.inf, 0

    def _cost_at(self, candidate, data=None):
        """The cost at ``candidate``, whose blur is in ``Ax_prev`` and data term ``data`` (None: measure it)."""
        prob = self.problem
        if data is None:
            data, reg = prob.data_and_reg(candidate, self.Ax_prev)
        else:
            reg = prob.weight * prob.regularizer.value(candidate)
        self._last_terms = (data, reg)
        return data + reg

    def _armijo_ok(self, cost_point, point, candidate):
        """Armijo: f(x+) <= f(z) + c <grad f(z), x+ - z>."""
        data, reg = self.problem.data_and_reg(candidate, self.Ax_prev)
        dg = _kernels.diff_dot(candidate, point, self.g)[0]
        return data + reg <= cost_point + ARMIJO_C * dg + self._rounding * abs(cost_point)

    def _stop_before_step(self, gnorm):
        opts = self.options
        if opts.gtol is not None and self.iteration > 0 and gnorm <= opts.gtol * self._gnorm0:
            self.stop_reason = "gtol"
            return True
        if opts.tol is not None and self.iteration >= TOL_WINDOW:
            # best cost of the last window against the best before it: robust
            # to the ups and downs of momentum and stochastic steps
            costs = self.history["cost"]
            best_recent, best_before = costs[-TOL_WINDOW:].min(), costs[:-TOL_WINDOW].min()
            if best_before - best_recent <= opts.tol * TOL_WINDOW * abs(best_recent):
                self.stop_reason = "tol"
                return True
        return False

    def _stop_after_step(self, eta, gnorm):
        opts = self.options
        if self.callback is not None:
            cost = self.history["cost"][-1]
            x = self.x
            image = self._seen(x) if self.view is None else (lambda: self._seen(x))
            state = State(self.iteration, image, cost, eta, gnorm)
            if self.callback(state):
                self.stop_reason = "callback"
                return False
        if opts.time_limit is not None and time.perf_counter() - self._start >= opts.time_limit:
            self.stop_reason = "time_limit"
            return False
        if self.iteration >= opts.max_num_iter:
            self.stop_reason = "max_iter"
            return False
        return True

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
        self.x_prev = self.g = self.d = self.Ax = self.Ax_prev = self._active = self._best = None
        self._pool = [self.x]

    def _seen(self, x):
        cropped = self.problem.operator.crop(x)
        return cropped if self.view is None else self.view(cropped)

    @property
    def image(self):
        """The current estimate cropped to the frame (on the solver's own grid)."""
        return self.problem.operator.crop(self.x)
