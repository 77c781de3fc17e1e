"""The convergence figure: how a solve went, readable at a glance.

matplotlib is imported only when a figure is drawn, and only through its
object API with the Agg canvas (no pyplot, no global backend switch), so the
module is safe in worker processes and on machines without a display.

Panels, sharing the iteration axis:

1. **cost** (log scale): the total, and its data and regulariser terms.
   Step back-offs are marked in red: the cost rose (or overflowed) with
   that step, so the solver returned to the last good image and halved the
   step. A smooth curve that flattens is a good run; a jagged or rising one
   means the step is too large; a straight slow slide means it is too small.
2. **step size** (log) - constant, decaying or chosen by a line search.
3. **gradient norm** (log) - falls towards zero as the solver converges.
4. **PSNR / SSIM** against a sharp reference, when one was given.
"""

import math
import textwrap

import numpy as np

__all__ = ["convergence_figure", "save_convergence_plot", "describe_settings"]

_BACKOFF_COLOR = "#d62728"
_SETTING_ORDER = (
    "schedule",
    "lr",
    "momentum",
    "preconditioner",
    "variant",
    "regularizer",
    "weight",
    "boundary",
    "max_num_iter",
    "tol",
    "precision",
)


def _fmt(value):
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.3g}"
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (float, np.floating)) for v in value):
        return "/".join(f"{float(v):.3g}" for v in value)
    return str(value)


def describe_settings(settings, weight=None):
    """One short line of the solver settings, e.g. ``schedule=armijo, lr=auto, ...``."""
    settings = dict(settings or {})
    if weight is not None:
        settings["weight"] = weight
    parts = []
    for key in _SETTING_ORDER:
        if key in settings:
            value = settings[key]
            parts.append(f"{key}={'auto' if value is None else _fmt(value)}")
    return ", ".join(parts)


def _positive(values):
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def convergence_figure(history, *, events=(), title=None, settings=None, weight=None, stop_reason=None, kernel=None):
    """Draw the convergence figure and return the matplotlib ``Figure``.

    Parameters
    ----------
    history : deblur.History
        The solve's per-iteration record.
    events : sequence of BackoffEvent
        Step back-offs, marked on the cost and step panels.
    title : str, optional
        First title line (e.g. the input file name).
    settings : dict, optional
        Solver settings, shown on the second title line.
    weight : float or list, optional
        The regularisation weight used (shown with the settings).
    stop_reason : str, optional
        Why the solver stopped, shown with the final cost.
    kernel : ndarray, optional
        An estimated PSF, drawn as an inset beside the cost (blind estimation).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    it = np.asarray(history["iteration"], dtype=np.float64)
    cost = _positive(history["cost"])
    has_ref = "psnr" in history and np.isfinite(history["psnr"]).any()
    n_panels = 4 if has_ref else 3
    ratios = [2.2, 1, 1] + ([1.2] if has_ref else [])
    height = 2.0 + 1.55 * sum(ratios)
    fig = Figure(figsize=(8.0, height))  # fixed margins: a layout engine triples the drawing time
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_panels, 1, sharex=True, gridspec_kw={"height_ratios": ratios})

    # -- cost
    ax = axes[0]
    ax.plot(it, cost, color="black", lw=2.2, label="total cost", zorder=3)
    for name, style in (("data", dict(color="#1f77b4", ls="--")), ("regularizer", dict(color="#2ca02c", ls=":"))):
        values = _positive(history[name])
        if np.isfinite(values).any() and not np.allclose(np.nan_to_num(values), np.nan_to_num(cost)):
            ax.plot(it, values, lw=1.1, alpha=0.8, label=f"{name} term", **style)
    final = None
    if len(it) and np.isfinite(cost).any():
        last = np.flatnonzero(np.isfinite(cost))[-1]
        final = cost[last]
        ax.plot(it[last], final, "o", color="black", ms=5, zorder=4)
    _log_axis(ax, "cost (log)")
    _mark_backoffs(axes, events, cost, it)
    ax.legend(loc="upper center", fontsize=8, framealpha=0.85)
    if kernel is not None:
        inset = ax.inset_axes([0.74, 0.38, 0.25, 0.58])
        k = np.asarray(kernel, dtype=np.float64)
        inset.imshow(k / k.max() if k.max() > 0 else k, cmap="gray", interpolation="nearest")
        inset.set_xticks([])
        inset.set_yticks([])
        inset.set_title(f"estimated PSF {k.shape[1]}x{k.shape[0]}", fontsize=8)

    # -- step size
    ax = axes[1]
    step = _positive(history["step"])
    ax.plot(it, step, color="#9467bd", lw=1.6, drawstyle="steps-post")
    _log_axis(ax, "step size")
    finite = step[np.isfinite(step)]
    if finite.size and finite.max() < 4 * finite.min():  # a near-constant step: a narrow band, not two decades
        ax.set_ylim(finite.min() / 2, finite.max() * 2)
    limits = [float(e.stability_limit) for e in events if math.isfinite(getattr(e, "stability_limit", math.nan))]
    if limits:
        limit = min(limits)  # channels differ a little; the smallest is the safe bound
        ax.axhline(limit, color=_BACKOFF_COLOR, lw=0.9, ls="--")
        ax.annotate("stability limit 2/L", xy=(0.01, limit), xycoords=("axes fraction", "data"),
                    xytext=(0, 3), textcoords="offset points", fontsize=8, color=_BACKOFF_COLOR)

    # -- gradient norm
    ax = axes[2]
    ax.plot(it, _positive(history["grad_norm"]), color="#ff7f0e", lw=1.6)
    _log_axis(ax, "gradient norm")

    # -- quality against the reference
    if has_ref:
        ax = axes[3]
        psnr = np.asarray(history["psnr"], dtype=np.float64)
        ax.plot(it, psnr, color="#17becf", lw=1.8, label="PSNR")
        ax.set_ylabel("PSNR (dB)", color="#17becf")
        ssim = np.asarray(history["ssim"], dtype=np.float64)
        if np.isfinite(ssim).any():
            ax2 = ax.twinx()
            ax2.plot(it, ssim, color="#8c564b", lw=1.4, ls="--", label="SSIM")
            ax2.set_ylabel("SSIM", color="#8c564b")
        ok = np.isfinite(psnr)
        if ok.any():
            best = int(np.nanargmax(psnr))
            ax.plot(it[best], psnr[best], "o", color="#17becf", ms=5)
            right_half = it[best] > (it.min() + it.max()) / 2
            ax.annotate(f"best {psnr[best]:.2f} dB at iteration {int(it[best])}", xy=(it[best], psnr[best]),
                        xytext=(-6 if right_half else 6, -14), textcoords="offset points", fontsize=8,
                        ha="right" if right_half else "left")
        ax.grid(True, which="major", alpha=0.3)

    axes[-1].set_xlabel("iteration")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(it):
        axes[-1].set_xlim(it.min(), max(it.max(), it.min() + 1))
    lines = [title or "deblur convergence"]
    outcome = []
    if len(it):
        outcome.append(f"{int(it.max())} iterations")
    if stop_reason == "unchanged":
        outcome.append("left as it was: no usable blur estimate")
    elif stop_reason:
        outcome.append(f"stopped by {stop_reason}")
    if final is not None:
        outcome.append(f"final cost {final:.4g}")
    if events:
        outcome.append(f"{len(events)} step back-off{'s' if len(events) != 1 else ''}")
    if outcome:
        lines.append(", ".join(outcome))
    if settings or weight is not None:
        lines += textwrap.wrap(describe_settings(settings, weight), 100, break_on_hyphens=False)
    fig.suptitle("\n".join(lines), fontsize=9.5, y=1 - 0.12 / height)
    top = 1 - (0.3 + 0.17 * len(lines)) / height
    fig.subplots_adjust(left=0.1, right=0.9 if has_ref else 0.96, bottom=0.45 / height, top=top, hspace=0.12)
    return fig


def _log_axis(ax, label):
    """Log scale with plain-number ticks at 1-2-5 steps, whatever the range."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=8))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.set_ylabel(label)
    ax.grid(True, which="major", alpha=0.3)


def _mark_backoffs(axes, events, cost, it):
    if not events:
        return
    iters = sorted({int(e.iteration) for e in events})
    for k, ax in enumerate(axes[:2]):
        for x in iters:
            ax.axvline(x, color=_BACKOFF_COLOR, lw=0.8, ls=":", alpha=0.8, zorder=1)
    # a marker on the cost curve at each back-off, one legend entry for all
    pos = np.searchsorted(it, iters).clip(0, max(len(it) - 1, 0))
    y = cost[pos] if len(it) else np.full(len(iters), np.nan)
    axes[0].plot(iters, y, "v", color=_BACKOFF_COLOR, ms=7, zorder=4,
                 label=f"step back-off ({len(events)}): cost rose, step halved")


def save_convergence_plot(path, history, **kwargs):
    """Draw :func:`convergence_figure` and save it to ``path`` (format from the extension).

    Returns the path. The figure is written to memory first, so a failure
    leaves no partial file; pass ``write`` to control how bytes reach disk.
    """
    import io as _io
    import os

    write = kwargs.pop("write", None)
    fig = convergence_figure(history, **kwargs)
    fmt = os.path.splitext(os.fspath(path))[1].lower().lstrip(".") or "png"
    buf = _io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=110)
    if write is None:
        with open(path, "wb") as fh:
            fh.write(buf.getvalue())
    else:
        write(buf.getvalue())
    return path
