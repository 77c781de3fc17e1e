"""The result of a restoration: image, PSF, per-iteration history, events."""

import csv
import io
import json
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["History", "BackoffEvent", "SolveResult", "HISTORY_COLUMNS", "STOP_WORDS", "stop_words", "overall_stop_reason"]

HISTORY_COLUMNS = (
    "iteration",  # 1-based count of completed steps
    "cost",  # total cost 0.5*||k*x - y||^2 + lambda*R(x), summed over channels
    "data",  # the data term alone
    "regularizer",  # lambda*R(x)
    "step",  # step size eta used for this iteration
    "grad_norm",  # Euclidean norm of the gradient the step used
    "elapsed",  # seconds since the solver started
    "psnr",  # dB against `reference`, NaN without one
    "ssim",  # against `reference`, NaN without one
)


class History:
    """Per-iteration record of a solve, one column per :data:`HISTORY_COLUMNS`.

    Columns are numpy arrays (``history["cost"]``); ``len(history)`` is the
    number of rows. Iteration 0 is the starting point.
    """

    def __init__(self, columns=None):
        self._rows = {name: [] for name in HISTORY_COLUMNS}
        if columns:
            for name in HISTORY_COLUMNS:
                self._rows[name] = [float(v) for v in columns.get(name, [])]

    def append(self, **row):
        for name in HISTORY_COLUMNS:
            self._rows[name].append(float(row.get(name, math.nan)))

    def __len__(self):
        return len(self._rows["iteration"])

    def __getitem__(self, name):
        return np.asarray(self._rows[name], dtype=np.float64)

    def __contains__(self, name):
        return name in self._rows

    def as_dict(self):
        """Columns as plain lists of floats (NaN kept)."""
        return {name: list(values) for name, values in self._rows.items()}

    def to_json(self, path=None, extra=None):
        """Write (or return, when ``path`` is None) the history as JSON.

        NaN is written as ``null`` so the file is strict JSON.
        """
        doc = dict(extra or {})
        doc["history"] = {
            name: [None if not math.isfinite(v) else v for v in values] for name, values in self._rows.items()
        }
        text = json.dumps(doc, indent=1)
        if path is None:
            return text
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return None

    def to_csv(self, path=None):
        """Write (or return, when ``path`` is None) the history as CSV with a header row."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(HISTORY_COLUMNS)
        for i in range(len(self)):
            writer.writerow(["" if not math.isfinite(v) else repr(v) for v in (self._rows[n][i] for n in HISTORY_COLUMNS)])
        if path is None:
            return buf.getvalue()
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())
        return None

    @classmethod
    def merge(cls, histories):
        """Combine per-channel histories: costs and squared norms add, steps average, times add
        (channels run one after another), PSNR is that of the mean squared error over the
        channels (the whole image's), SSIM averages; a shorter history repeats its last row."""
        histories = list(histories)
        if len(histories) == 1:
            return histories[0]
        n = max(len(h) for h in histories)
        out = cls()
        for i in range(n):
            rows = [{k: h._rows[k][min(i, len(h) - 1)] for k in HISTORY_COLUMNS} for h in histories]
            out.append(
                iteration=max(r["iteration"] for r in rows),
                cost=sum(r["cost"] for r in rows),
                data=sum(r["data"] for r in rows),
                regularizer=sum(r["regularizer"] for r in rows),
                step=float(np.mean([r["step"] for r in rows])),
                grad_norm=math.sqrt(sum(r["grad_norm"] ** 2 for r in rows)),
                elapsed=sum(r["elapsed"] for r in rows),
                psnr=_merged_psnr([r["psnr"] for r in rows]),
                ssim=float(np.mean([r["ssim"] for r in rows])),
            )
        return out


def _merged_psnr(values):
    """PSNR of the whole image from its channels' PSNRs (data range 1): mean the squared errors."""
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        return math.nan
    mse = float(np.mean(10.0 ** (-values / 10.0)))
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


@dataclass
class BackoffEvent:
    """A step back-off: the cost rose or became non-finite, so the solver
    returned to the last good iterate and halved the step."""

    iteration: int
    old_step: float
    new_step: float
    stability_limit: float  # 2/L: plain gradient descent diverges above it
    reason: str  # "cost rose" or "non-finite cost"
    channel: int = 0

    def describe(self):
        return (
            f"iteration {self.iteration}: {self.reason} with step {self.old_step:.3g}; "
            f"went back to the last good image and halved the step to {self.new_step:.3g} "
            f"(stability limit 2/L = {self.stability_limit:.3g})"
        )


@dataclass
class SolveResult:
    """What :func:`deblur.solve` returns.

    Attributes
    ----------
    image : ndarray
        The restored image, same shape and dtype as the input.
    psf : ndarray
        The kernel used (float64, sums to 1).
    history : History
        Per-iteration cost, data and regulariser terms, step, gradient norm,
        elapsed seconds, and PSNR/SSIM when a reference was given.
    stop_reason : str
        One of ``"max_iter"``, ``"tol"``, ``"gtol"``, ``"time_limit"``,
        ``"callback"``, ``"step_underflow"``; ``"unchanged"`` when a blind estimate
        was not used and the image is returned as it was (no iterations).
    iterations : int
        Completed iterations (the largest over channels).
    events : list of BackoffEvent
        Step back-offs, in order.
    weight : float or list of float
        Regularisation weight lambda used (one per channel for colour).
    noise_sigma : float or list of float
        Noise level estimated from the input (what ``weight='auto'`` used).
    settings : dict
        The solver options in effect.
    """

    image: np.ndarray
    psf: np.ndarray
    history: History
    stop_reason: str
    iterations: int
    events: list = field(default_factory=list)
    weight: object = None
    noise_sigma: object = None
    settings: dict = field(default_factory=dict)
    psf_estimation: object = None  # blind estimation's own record, when psf='estimate'

    def summary(self):
        """A one-line account: iterations, stop reason, final cost, time."""
        cost = self.history["cost"][-1] if len(self.history) else math.nan
        secs = self.history["elapsed"][-1] if len(self.history) else 0.0
        return f"{self.iterations} iterations, stopped by {self.stop_reason}, final cost {cost:.6g}, {secs:.2f} s"


# Each stop reason in words, for the command line and the report (one table).
STOP_WORDS = {
    "tol": "converged (cost change below tol)",
    "gtol": "converged (gradient small)",
    "max_iter": "reached the iteration limit",
    "time_limit": "reached the time limit",
    "callback": "stopped",
    "step_underflow": "stopped: the step shrank to nothing after repeated back-offs",
    "unchanged": "left as it was (no usable blur estimate)",
}


def stop_words(reason):
    """:data:`STOP_WORDS` of ``reason``; ``'stopped (reason)'`` for one not in the table."""
    return STOP_WORDS.get(reason, f"stopped ({reason})")


def overall_stop_reason(reasons):
    """One stop reason for several solves (channels, tiles).

    The first that is not a convergence (a callback, a step underflow, the
    time limit, the iteration limit): a record that says 'converged' must
    hold for every part. Else the most common.
    """
    for special in ("callback", "step_underflow", "time_limit", "max_iter"):
        if special in reasons:
            return special
    return max(set(reasons), key=reasons.count)
