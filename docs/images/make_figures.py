"""Rebuild the figures of docs/cli.md from a sample image.

    python docs/images/make_figures.py

Writes, next to this file:

- convergence.png: ``deblur restore ... --plot`` on sample_images/camera_motion, default settings;
- compare.png: its ``--compare`` (before | after);
- schedules.png: the cost of several step-size choices on the same image, one figure.
"""

import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)  # this checkout's deblur, installed or not

SAMPLE = os.path.join(ROOT, "sample_images", "camera_motion")

# label, solve() options
SCHEDULE_RUNS = (
    ("auto + nesterov (default)", dict()),
    ("auto, no momentum (eta = 1/L)", dict(momentum="none")),
    ("armijo + nesterov", dict(schedule="armijo")),
    ("bb, no momentum", dict(schedule="bb", momentum="none")),
    ("constant lr=0.1: too small, crawls", dict(schedule="constant", lr=0.1, momentum="none")),
    ("constant lr=4: above 2/L, backs off", dict(schedule="constant", lr=4.0, momentum="none")),
)


def cli_figures():
    from deblur.cli import main

    out = os.path.join(HERE, ".restored.png")
    args = ["restore", f"{SAMPLE}.blurred.png", "--psf", f"{SAMPLE}.psf.png", "--reference", f"{SAMPLE}.sharp.png",
            "--overwrite", "-o", out, "--plot", os.path.join(HERE, "convergence.png"),
            "--compare", os.path.join(HERE, "compare.png")]
    print("deblur", " ".join(os.path.relpath(a, ROOT) if os.path.isabs(a) else a for a in args))
    try:
        main(args, standalone_mode=False)
    finally:
        if os.path.exists(out):
            os.remove(out)


def schedules_figure(iterations=80):
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    import deblur
    from deblur import io as imio

    blurred = imio.read_image(f"{SAMPLE}.blurred.png").pixels
    runs = []
    for label, options in SCHEDULE_RUNS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", deblur.StepSizeWarning)
            result = deblur.solve(blurred, f"{SAMPLE}.psf.png", max_num_iter=iterations, tol=0, **options)
        runs.append((label, result))
        print(f"{label}: final cost {result.history['cost'][-1]:.5g}, {len(result.events)} back-offs")
    # the floor: a long run's cost, a little below anything the short runs reach
    long_run = deblur.solve(blurred, f"{SAMPLE}.psf.png", max_num_iter=8 * iterations, tol=0, schedule="armijo")
    best = min([long_run.history["cost"].min()] + [r.history["cost"].min() for _, r in runs])
    fig = Figure(figsize=(8, 4.6))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for label, result in runs:
        it, cost = result.history["iteration"], result.history["cost"]
        ax.plot(it, np.maximum(cost - best, 1e-9), lw=1.8, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost above the minimum (log)")
    ax.set_title("sample_images/camera_motion: the same problem, six step-size choices", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.subplots_adjust(left=0.11, right=0.97, top=0.92, bottom=0.11)
    fig.savefig(os.path.join(HERE, "schedules.png"), dpi=100)


if __name__ == "__main__":
    cli_figures()
    schedules_figure()
