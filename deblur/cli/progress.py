"""What a restore says while and after it runs: the progress bar, the outcome, back-offs and hints."""

import time

import click

from ..result import stop_words
from .common import click_error, err


class IterationProgress:
    """A one-line progress bar over iterations on stderr, redrawn at most ten times a second.

    Colour images solved channel by channel restart the iteration count; the
    bar then counts passes (``total = limit * passes``).
    """

    def __init__(self, limit, passes=1, enabled=True, label="deblurring", width=24):
        self.limit, self.passes, self.enabled = limit, max(1, passes), enabled
        self.label, self.width = label, width
        self._pass, self._last_it, self._drawn, self._shown = 0, 0, 0.0, False

    def start(self, passes, limit):
        """Called once the image is read: how many solves (channels) of how many iterations."""
        self.passes, self.limit = max(1, passes), limit or self.limit

    def __call__(self, state):
        if not self.enabled:
            return None
        it = int(getattr(state, "iteration", 0))
        if it < self._last_it:
            self._pass += 1
        self._last_it = it
        now = time.monotonic()
        if now - self._drawn >= 0.1:
            self._drawn = now
            self._draw(it, getattr(state, "cost", float("nan")), getattr(state, "step", float("nan")))
        return None

    def _draw(self, it, cost, step):
        if self.limit:
            total = self.limit * self.passes
            done = min(self._pass * self.limit + it, total)
            filled = int(self.width * done / total)
            bar = f"[{'#' * filled}{'-' * (self.width - filled)}] {it}/{self.limit}"
            if self.passes > 1:
                bar += f" (channel {min(self._pass + 1, self.passes)}/{self.passes})"
        else:
            bar = f"iteration {it}"
        line = f"\r{self.label} {bar}  cost {float(cost):.4g}  step {float(step):.3g}"
        click.echo(line.ljust(79), nl=False, err=True)
        self._shown = True

    def close(self):
        if self._shown:
            click.echo("\r" + " " * 79 + "\r", nl=False, err=True)
            self._shown = False


def _stop_words(result, options):
    reason = result.stop_reason
    settings = result.settings or {}
    tol, limit = settings.get("tol", options.solve.tol), settings.get("time_limit", options.solve.time_limit)
    # the table's words, with the limits this run was given
    if reason == "tol":
        return f"converged (cost change below --tol {tol:g})" if tol is not None else "converged"
    if reason == "time_limit" and limit:
        return f"reached --time-limit {limit:g} s"
    return stop_words(reason)


def backoff_report(result):
    """Step back-offs in words: what happened, and what to change. Empty when there were none."""
    events = list(result.events)
    if not events:
        return ""
    iters = sorted({int(e.iteration) for e in events})
    where = ", ".join(map(str, iters[:6])) + (", ..." if len(iters) > 6 else "")
    channels = len({getattr(e, "channel", 0) for e in events})
    where = f"iteration{'s' if len(iters) > 1 else ''} {where}"
    if channels > 1:
        where += f", over {channels} colour channels"
    times = "once" if len(events) == 1 else f"{len(events)} times"
    last = events[-1]
    limit = min(e.stability_limit for e in events)
    return (
        f"The step size was too large {times} ({where}): the cost rose, so the solver went back to the "
        f"last good image and halved the step, down to {last.new_step:.3g} (plain gradient descent is "
        f"stable below 2/L = {limit:.3g}). Too large a step diverges and too small a step crawls: pass a "
        "smaller --lr, or let --schedule armijo or bb choose the step. The cost curve of --plot tells "
        "which: jagged or rising means too large, a slow straight slide means too small."
    )


def _still_descending(result, last=5, share=0.01):
    """Whether the last ``last`` iterations still took at least ``share`` of the cost's whole descent.

    Runs that stop at the iteration limit with a flat curve (the samples' last five iterations: 0.1-0.4 %
    of the descent) have converged for the eye; naming ``--iterations`` there is noise.
    """
    cost = list(result.history["cost"]) if len(result.history) else []
    if len(cost) <= last:
        return True
    drop = cost[0] - cost[-1]
    return drop > 0 and cost[-1 - last] - cost[-1] >= share * drop


def _hint(result):
    if result.stop_reason == "max_iter" and not result.events and _still_descending(result):
        if (result.settings or {}).get("lr") is None:  # name only what the user chose
            return "The cost was still changing when the iteration limit came: raise --iterations (check --plot)."
        return ("The cost was still changing when the iteration limit came: raise --iterations, or speed up "
                "with a larger --lr or --schedule bb (check --plot).")
    if result.stop_reason == "step_underflow":
        return ("Check that --psf matches the blur of the image, and try --schedule armijo; "
                "--plot shows the cost at each step.")
    return ""


def write_report(path, rows, options, title, elapsed, **extra):
    """The HTML report of a restore or a batch (deblur.report); its errors as the CLI's."""
    from .. import io as imio
    from .. import report as _rep

    try:
        _rep.write_report(path, rows, title=title, options=_rep.describe_options(options, **extra),
                          elapsed=elapsed, overwrite=options.overwrite)
    except imio.ImageFileError as exc:  # and OutputExistsError: as the group reports them
        raise click_error(exc) from None


def report_outcome(outcome, options, input, output, quiet, extras=()):
    result, row = outcome.result, outcome.row
    if not quiet:
        for note in outcome.notes:
            err(f"note: {note}")
    for text in outcome.warnings:
        err(f"warning: {text.split(': ', 1)[-1] if text.startswith('StepSizeWarning') else text}")
    report = backoff_report(result)
    if report:
        err(f"warning: {report}")
    if not quiet:
        hint = _hint(result)
        if hint:
            err(f"hint: {hint}")
        cost = "n/a" if row.final_cost is None else f"{row.final_cost:.6g}"
        wrote = output + "".join(f", {p}" for p in extras)
        click.echo(
            f"{input} -> {wrote}: {result.iterations} iterations, {_stop_words(result, options)}, "
            f"final cost {cost}, {row.seconds:.2f} s"
        )
