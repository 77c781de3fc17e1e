"""The step of the descent: momentum, the rule's step, the searched step, restarts and back-offs.

Methods of :class:`deblur.solver.GradientDescent` (:class:`StepSearchMixin`,
on its state); the module docstring of :mod:`deblur.solver` says what each
rule does and why.
"""

import math

import numpy as np

from . import _kernels_step as _kernels
from . import schedules
from .result import BackoffEvent

# Non-monotone methods (Barzilai-Borwein, stochastic gradients) are compared
# with the largest cost of this many recent iterations (Grippo et al., 1986).
NONMONOTONE_WINDOW = 10
HEAVY_BALL_BETA = 0.8
MAX_HALVINGS = 60
# Halvings of the line search along the projection arc before it gives up
# on an extrapolated point (and restarts the momentum).
BOX_HALVINGS = 10
# Sufficient-decrease constant of the Armijo rule.
ARMIJO_C = 0.1
# The searched step starts from twice the last one found; when that doubled
# start fails (one blur spent for nothing), it is not tried again for 1, 2,
# 4, ... up to this many iterations (the search starts at the last step
# found meanwhile). On the 12 MP luminance of benchmarks/large_photo.py the
# doubled start failed in 22 of 25 iterations, a third of the blurs.
PROBE_GAP_MAX = 8


class StepSearchMixin:
    """How :class:`deblur.solver.GradientDescent` steps (methods on its state)."""

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

    def _restart_or_back_off(self, gamma, delta, t_next, point, data, reg):
        """After a rise of the cost at ``point`` (see :meth:`_rose`): restart the momentum, or back off.

        A rise at an extrapolated point restarts the momentum at ``x``; a rise
        at the iterate itself returns to the previous one, halves the step and
        records a :class:`~deblur.result.BackoffEvent` (once per step).
        Returns the ``(delta, t_next, point, data, reg)`` to step from.
        """
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
        return delta, t_next, point, data, reg

    def _searched_step(self, point, eta, delta, cost_point):
        """The candidate ``x_new`` from ``point`` along ``-d``: (candidate, eta, uphill, its cost), or None.

        ``eta`` is the rule's step, ``delta`` the heavy-ball coefficient,
        ``cost_point`` the cost at ``point``; the candidate's blur is left in
        ``Ax_prev``. None: no step was accepted in :data:`MAX_HALVINGS`
        halvings (the step underflowed). The candidate's cost is measured
        (NaN otherwise) only by the solver's own search.
        """
        prob, op = self.problem, self.problem.operator
        lo, hi = prob.bounds if prob.bounds is not None else (0.0, 0.0)
        clip = prob.bounds is not None
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
        linear = self._direction_blurred and delta == 0.0  # Ax_prev holds the residual at the point
        blurred_eta = None  # the step whose blur Ax_prev holds by linearity
        for halvings in range(MAX_HALVINGS):
            uphill, clipped = _kernels.descent_step(
                point, self.d, eta, self.x, self.x_prev, delta, lo, hi, clip, self.g, candidate,
                self._active, self._use_active,
            )
            candidate_data = None
            if linear and clipped == 0:  # candidate = z - eta d: A z - eta A d
                if blurred_eta is None:
                    candidate_data = _kernels.blur_along(self.Ax_prev, self._Ad, -eta, prob.observed, True,
                                                         self.Ax_prev)
                else:
                    candidate_data = _kernels.blur_along(self.Ax_prev, self._Ad, blurred_eta - eta, prob.observed,
                                                         False, self.Ax_prev)
                blurred_eta = eta
                self._linear_blurs += 1
            elif box_search and prob.data_mask is None:  # the data term comes with the blur
                linear = False
                self._linear_blurs = 0
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
            return None
        self._last_clipped = clipped
        if box_search:
            if probed:
                self._probe_outcome(eta, start)
            self._box_eta = eta if eta < rule_eta else None
            if candidate_cost < sum(self._best_terms) and math.isfinite(self._last_terms[0]):
                self._best, self._best_terms = candidate, self._last_terms
        return candidate, eta, uphill, candidate_cost

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
