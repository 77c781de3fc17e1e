"""When the descent stops, and what it records: the stopping rules, the history, what a callback sees.

Methods of :class:`deblur.solver.GradientDescent` (:class:`StoppingMixin`,
on its state) and the :class:`State` passed to a callback.
"""

import math
import time
from dataclasses import dataclass

# 'tol' compares the cost drop over this many iterations with its size.
TOL_WINDOW = 10


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


class StoppingMixin:
    """Stopping rules and the history of :class:`deblur.solver.GradientDescent` (methods on its state)."""

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

    def _seen(self, x):
        """``x`` cropped to the frame, on the grid callbacks and metrics see."""
        cropped = self.problem.operator.crop(x)
        return cropped if self.view is None else self.view(cropped)

