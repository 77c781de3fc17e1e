"""The ``deblur`` command line: a thin click layer over :mod:`deblur.batch`.

Commands parse, call the library, and report. Everything heavy (NumPy work,
Numba kernels, matplotlib) is imported inside the commands, so
``deblur --help`` answers at once.

Exit codes: 0 success, 1 failure (unreadable image, unwritable folder, a
batch with failed files), 2 usage error (bad option, missing input, unknown
PSF, output exists), 130 interrupted by Ctrl-C, 143 stopped by SIGTERM (a
job scheduler, ``kill``): both stop cleanly, with nothing half-written.
They follow the classes of :mod:`deblur.errors`; any other exception is a
bug in deblur, reported as one (exit 1, the traceback saved to a file).
"""

import contextlib
import os
import signal
import sys
import threading
import time

import click

from . import __version__
from . import options as _names
from .options import BOUNDARIES, MOMENTA, REGULARIZERS, SCHEDULES, VARIANTS

PRECONDITIONERS = getattr(_names, "PRECONDITIONERS", ("fourier", "none"))

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Forms of --psf, for help and errors (kept in step with deblur.psf.KINDS; no heavy import for --help).
PSF_FORMS = (
    "gaussian:sigma=2, disk:radius=3, motion:length=15,angle=30, box:size=5, "
    "or a kernel file (.npy, .png, .tif, .csv)"
)

# What a missing --psf means: estimate the kernel from the image (blind
# deconvolution); _resolve_psf says so in one line.
PSF_DEFAULT = None
PSF_WHEN_MISSING = "estimate"

PLOT_EXTENSIONS = (".png", ".pdf", ".svg")
HISTORY_EXTENSIONS = (".json", ".csv")
REPORT_EXTENSIONS = (".html", ".htm")
REPORT_NAME = "report.html"  # deblur batch --report: OUTPUT_DIR/report.html, pictures in OUTPUT_DIR/report_files/
DEFAULT_PATTERNS = "*.png,*.jpg,*.jpeg,*.tif,*.tiff,*.bmp,*.webp"


class Failure(click.ClickException):
    """The command could not do its work (exit code 1)."""

    exit_code = 1


class BugReport(click.ClickException):
    """An exception deblur did not mean to raise: said to be a bug, with where its traceback went."""

    exit_code = 1

    def __init__(self, exc):
        import tempfile
        import traceback

        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        try:
            fd, path = tempfile.mkstemp(prefix="deblur-bug-", suffix=".txt")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(f"deblur {__version__}, python {sys.version.split()[0]}\n{' '.join(sys.argv)}\n\n{text}")
            saved = f"the traceback is in {path}"
        except OSError:
            saved = f"traceback:\n{text}"
        frame = traceback.extract_tb(exc.__traceback__)[-1:] or [None]
        where = f" at {os.path.basename(frame[0].filename)}:{frame[0].lineno} in {frame[0].name}" if frame[0] else ""
        super().__init__(
            f"this is a bug in deblur, please report it: {type(exc).__name__}: {exc}{where}; "
            f"{saved} (attach it to the report)"
        )


def _click_error(exc):
    """The click exception that reports one of deblur's errors with its exit code."""
    from .errors import UsageError

    if isinstance(exc, UsageError):
        return click.UsageError(str(exc))
    return Failure(str(exc))


class Group(click.Group):
    """The ``deblur`` group: errors of :mod:`deblur.errors` get their exit code, others a bug report."""

    def invoke(self, ctx):
        from .errors import DeblurError

        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except DeblurError as exc:
            raise _click_error(exc) from None
        except Exception as exc:  # noqa: BLE001 - anything else is ours to fix, and said so
            raise BugReport(exc) from None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so that both take the same clean way out."""


_signal_received = {"name": None}


def _on_sigterm(signum, frame):
    _signal_received["name"] = "SIGTERM"
    raise Terminated()


class Interrupted(click.ClickException):
    """Ctrl-C or SIGTERM (exit code 128 + the signal's number, as shells report it: 130 or 143)."""

    def __init__(self, message):
        super().__init__(message)
        self.exit_code = 128 + (signal.SIGTERM if _signal_received["name"] == "SIGTERM" else signal.SIGINT)


# --------------------------------------------------------------------------- parameter types


class PsfSpec(click.ParamType):
    """A PSF spec string or kernel file; checked when parsed, passed on as text."""

    name = "SPEC"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        from . import psf as _psf

        if _psf.is_estimate(value):
            from .blind import parse_spec

            try:
                parse_spec(value)
            except ValueError as exc:
                self.fail(f"{value!r}: {exc} (write estimate or estimate:size=N, N in pixels)", param, ctx)
            return value.strip()
        try:
            _psf.parse(value)
        except (ValueError, TypeError) as exc:
            forms = "" if "gaussian:sigma" in str(exc) else f"\nForms: {PSF_FORMS}"
            self.fail(f"{exc}{forms}", param, ctx)
        return value

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem

        forms = ["gaussian:sigma=", "disk:radius=", "motion:length=", "box:size="]
        items = [CompletionItem(f) for f in forms if f.startswith(incomplete)]
        return items + [CompletionItem(incomplete, type="file")]


class Weight(click.ParamType):
    """'auto' or a number >= 0."""

    name = "auto|FLOAT"

    def convert(self, value, param, ctx):
        if value is None or value == "auto":
            return value
        try:
            weight = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is neither 'auto' nor a number; give e.g. --weight 0.002", param, ctx)
        if not weight >= 0 or weight == float("inf"):
            self.fail(f"{value!r} must be a finite number >= 0 (or 'auto')", param, ctx)
        return weight


def _resolve_psf(ctx, value):
    """The one place that decides what a missing --psf means (see PSF_WHEN_MISSING)."""
    if value is None:
        if not ctx.params.get("quiet"):
            click.echo(
                "No --psf given: estimating the blur from the image (--psf estimate); "
                "give --psf SPEC if you know it.",
                err=True,
            )
        return PSF_WHEN_MISSING
    return value


# --------------------------------------------------------------------------- shared options


def _stack(*decorators):
    def apply(f):
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


psf_option = click.option(
    "--psf",
    type=PsfSpec(),
    default=PSF_DEFAULT,
    help=f"The blur: {PSF_FORMS}; or estimate[:size=N] to estimate it from the image (the default).",
)

def library_defaults():
    """The defaults of :func:`deblur.solve` (from :data:`deblur.options.DEFAULTS`, no engine import)."""
    from .options import DEFAULTS

    return dict(DEFAULTS)


class SolverOption(click.Option):
    """A solver choice left to :func:`deblur.solve` when not given.

    Its default lives in one place, the library; ``--help`` reads it from
    there when it is shown, so the command line never restates it.
    """

    def __init__(self, *args, solve_name=None, **kwargs):
        kwargs.setdefault("default", None)
        super().__init__(*args, **kwargs)
        self.solve_name = solve_name or self.name

    def get_help_record(self, ctx):
        record = super().get_help_record(ctx)
        if record is None:
            return record
        try:
            default = library_defaults().get(self.solve_name)
        except Exception:  # noqa: BLE001 - help must render even if the engine does not import
            default = None
        if default is None:
            return record
        names, text = record
        return names, f"{text}  [default: {default}]".strip()


def solver_option(*names, solve_name=None, **kwargs):
    return click.option(*names, cls=SolverOption, solve_name=solve_name, **kwargs)


solver_options = _stack(
    solver_option("--schedule", type=click.Choice(SCHEDULES),
                  help="Step-size schedule. 'armijo' and 'bb' choose steps themselves; see docs/cli.md."),
    solver_option("--lr", type=click.FloatRange(min=0, min_open=True),
                  help="Step size (learning rate) [default: 1/L]. Above 2/L plain descent diverges."),
    solver_option("--momentum", type=click.Choice(MOMENTA)),
    solver_option("--variant", type=click.Choice(VARIANTS),
                  help="full: the exact gradient each step; minibatch/stochastic: cheaper, noisier gradients from "
                       "random parts of the image (--seed repeats a run)."),
    solver_option("--iterations", "max_num_iter", solve_name="max_num_iter", type=click.IntRange(min=1), metavar="N",
                  help="Iteration limit."),
    solver_option("--tol", type=click.FloatRange(min=0),
                  help="Stop when the relative change of the cost falls below this."),
    solver_option("--time-limit", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
                  help="Stop after this many seconds."),
    solver_option("--regularizer", type=click.Choice(REGULARIZERS), help="Penalty on image gradients."),
    solver_option("--weight", type=Weight(),
                  help="Regularisation weight lambda; 'auto' sets it from the estimated noise."),
    solver_option("--boundary", type=click.Choice(BOUNDARIES), help="How the blur treats the image border."),
    solver_option("--seed", type=click.IntRange(min=0), help="Random seed (minibatch/stochastic variants)."),
    click.option("--float64", "precision", flag_value="float64", default=None, help="Compute in double precision (slower; default float32)."),
    solver_option("--preconditioner", type=click.Choice(PRECONDITIONERS), help="Precondition the gradient."),
    solver_option("--gtol", type=click.FloatRange(min=0),
                  help="Also stop when the gradient norm falls below this fraction of its first value."),
    solver_option("--batch-fraction", type=click.FloatRange(min=0, max=1, min_open=True),
                  help="Share of the image per step for minibatch/stochastic."),
    solver_option("--decay", type=click.FloatRange(min=0, min_open=True),
                  help="Parameter of the decaying schedules (exponential, step, inverse-time, cosine)."),
)

color_options = _stack(
    click.option("--color", "color", type=click.Choice(("opponent", "rgb", "luma")), default="opponent",
                 show_default=True,
                 help="opponent: restore brightness and the two colour differences, each with its own "
                      "weight (less colour noise); rgb: restore R, G, B independently; luma: restore "
                      "brightness only and keep the colour."),
    click.option("--linear/--no-linear", default=False, show_default=True,
                 help="Deblur in linear light (sRGB decoded first, re-encoded after)."),
)

file_options = _stack(
    click.option("--quality", type=click.IntRange(1, 100), default=None, help="JPEG/WebP quality [default: 95]."),
    click.option("--overwrite", is_flag=True, help="Replace existing output files."),
    click.option("--max-pixels", type=click.IntRange(min=0), default=None, metavar="N",
                 help="Largest image to open, in pixels (0: no limit) [default: Pillow's, about 89 million]."),
    click.option("-q", "--quiet", is_flag=True, help="No progress bar or notes; errors only."),
)


class MemoryBudget(click.ParamType):
    """A size (2GB, 512MiB, bytes), 'auto' or 'none'; an explicit size needs Dask (deblur[dask])."""

    name = "SIZE"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        if word in ("auto", "none"):
            return None if word == "none" else word
        from . import tiled

        try:
            size = tiled.parse_size(value)
            tiled.require_dask("--memory-budget (a tiled restore)")
        except ValueError as exc:  # DaskMissing included
            self.fail(str(exc), param, ctx)
        return size


memory_option = click.option(
    "--memory-budget", type=MemoryBudget(), default="auto", show_default=True,
    help="Memory one restore may use: 2GB, 512MiB...; 'auto' is 3/4 of the free memory (shared among --jobs), "
         "'none' no limit. An image that would need more is restored in tiles with Dask, and a note says so "
         "(needs pip install 'deblur[dask]').")


def _check_scheduler(ctx, param, value):
    if value is None:
        return None
    from .tiled import DaskMissing, require_dask

    try:
        require_dask(f"--scheduler {value}", distributed=True)
    except DaskMissing as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    return value


def _restore_options(ctx, kw):
    from dataclasses import fields

    from .io import allow_pixels
    from .options import SolveOptions
    from .pipeline import RestoreOptions

    allow_pixels(kw["max_pixels"])  # once, for this process; deblur's reader applies the limit
    solve = {f.name: kw[f.name] for f in fields(SolveOptions) if f.metadata["flag"] and kw.get(f.name) is not None}
    return RestoreOptions(
        psf=_resolve_psf(ctx, kw["psf"]),
        solve=SolveOptions(**solve),
        color=kw["color"],
        linear=kw["linear"],
        quality=kw["quality"],
        overwrite=kw["overwrite"],
        max_pixels=kw["max_pixels"],
        memory_budget=kw.get("memory_budget"),
    )


# --------------------------------------------------------------------------- reporting


def _err(message):
    click.echo(message, err=True)


def _interactive(quiet):
    return not quiet and sys.stderr.isatty()


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
    return {
        "max_iter": "reached the iteration limit",
        "tol": f"converged (cost change below --tol {tol:g})" if tol is not None else "converged",
        "gtol": "converged (gradient small)",
        "time_limit": f"reached --time-limit {limit:g} s" if limit else "reached the time limit",
        "callback": "stopped",
        "step_underflow": "stopped: the step shrank to nothing after repeated back-offs",
    }.get(reason, f"stopped ({reason})")


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


def _hint(result):
    if result.stop_reason == "max_iter" and not result.events:
        if (result.settings or {}).get("lr") is None:  # name only what the user chose
            return "The cost was still changing when the iteration limit came: raise --iterations (check --plot)."
        return ("The cost was still changing when the iteration limit came: raise --iterations, or speed up "
                "with a larger --lr or --schedule bb (check --plot).")
    if result.stop_reason == "step_underflow":
        return ("Check that --psf matches the blur of the image, and try --schedule armijo; "
                "--plot shows the cost at each step.")
    return ""


# --------------------------------------------------------------------------- compilation notice


def _kernels_cached():
    """Best effort: has Numba cached deblur's kernels since their source last changed?

    Numba keeps an index file (``_kernels.*.nbi``) per kernel beside the
    source, or in ``$NUMBA_CACHE_DIR``, or in the user's cache when the
    package folder is read-only; an index older than the source is stale.
    """
    import glob

    here = os.path.dirname(os.path.abspath(__file__))
    if os.environ.get("NUMBA_CACHE_DIR"):  # Numba then looks nowhere else
        places = [os.environ["NUMBA_CACHE_DIR"]]
    else:
        places = [os.path.join(here, "__pycache__"), os.path.join(os.path.expanduser("~"), ".cache", "numba")]
    try:
        source_time = os.path.getmtime(os.path.join(here, "_kernels.py"))
    except OSError:
        source_time = 0.0
    for place in places:
        stamps = [os.path.getmtime(f) for f in glob.glob(os.path.join(place, "**", "_kernels*.nbi"), recursive=True)]
        if stamps and max(stamps) >= source_time:
            return True
    return False


def _announce_compilation(quiet):
    if os.environ.get("NUMBA_DISABLE_JIT") == "1" or _kernels_cached():
        return False
    if not quiet:
        _err("Compiling deblur's numerical kernels: once only, about half a minute; "
             "later runs load them from the cache.")
    return True


# --------------------------------------------------------------------------- group


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="deblur")
@click.pass_context
def main(ctx):
    """Deblur images by gradient descent.

    \b
    deblur restore photo.png --psf gaussian:sigma=2          -> photo.deblurred.png
    deblur restore photo.png --psf motion:length=15,angle=30 --plot conv.png
    deblur batch blurry/ restored/ --psf disk:radius=3 --jobs 2
    deblur psf motion:length=15,angle=30 -o kernel.png
    deblur blur sharp.png --psf gaussian:sigma=2 --noise 0.01 -o blurry.png

    Run 'deblur COMMAND --help' for a command's options; docs/cli.md has more.
    """
    _signal_received["name"] = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        ctx.call_on_close(lambda: signal.signal(signal.SIGTERM, previous))


def _default_output(path):
    stem, ext = os.path.splitext(path)
    return f"{stem}.deblurred{ext}"


def _check_ext(param, path, allowed):
    ext = os.path.splitext(path)[1].lower()
    if ext not in allowed:
        raise click.BadParameter(
            f"{path!r} has extension {ext or '(none)'!r}; use one of {', '.join(allowed)}", param_hint=param
        )


def _check_outputs(pairs, overwrite):
    """Refuse early (before any work) when an output exists or its folder cannot take it."""
    from . import io as imio

    seen = {}
    for param, path in pairs:
        if path is None:
            continue
        key = os.path.abspath(path)
        if key in seen:
            raise click.BadParameter(f"{path} is also the {seen[key]} file; give each output its own name",
                                     param_hint=param)
        seen[key] = param
        try:
            imio.check_output(path, overwrite=overwrite)
        except imio.OutputExistsError as exc:
            raise click.UsageError(str(exc)) from None
        except imio.ImageFileError as exc:
            raise Failure(str(exc)) from None


# --------------------------------------------------------------------------- restore


@main.command(context_settings=CONTEXT)
@click.argument("input", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Output image [default: INPUT's name with .deblurred before the extension].")
@psf_option
@solver_options
@color_options
@click.option("--reference", type=click.Path(exists=True, dir_okay=False), default=None, metavar="SHARP",
              help="The sharp original: PSNR and SSIM per iteration in the history and plot.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="Write the convergence figure (.png, .pdf, .svg).")
@click.option("--history", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="Write the per-iteration history (.json or .csv).")
@click.option("--compare", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="Write the input and the result side by side.")
@click.option("--save-psf", type=click.Path(dir_okay=False), default=None, metavar="PATH",
              help="Write the PSF used, e.g. the estimated one (.png preview, .npy, .csv, .tif).")
@click.option("--report", type=click.Path(dir_okay=False), default=None, metavar="FILE.html",
              help="Write a page to look at in a browser: before/after, kernel, convergence, figures "
                   "(pictures in FILE_files/ beside it).")
@memory_option
@file_options
@click.pass_context
def restore(ctx, input, output, reference, plot, history, compare, save_psf, report, quiet, **kw):
    """Restore one image file.

    \b
    deblur restore blurry.png --psf gaussian:sigma=2
    deblur restore blurry.jpg --psf kernel.png -o sharp.jpg --quality 92
    deblur restore photo.tif --psf disk:radius=3 --color luma --linear --plot conv.png
    """
    from . import batch as _batch
    from . import io as imio

    options = _restore_options(ctx, kw)
    output = output or _default_output(input)
    _check_ext("'-o' / '--output'", output, imio.IMAGE_EXTENSIONS)
    if plot:
        _check_ext("'--plot'", plot, PLOT_EXTENSIONS)
    if history:
        _check_ext("'--history'", history, HISTORY_EXTENSIONS)
    if compare:
        _check_ext("'--compare'", compare, imio.IMAGE_EXTENSIONS)
    if save_psf:
        _check_ext("'--save-psf'", save_psf, imio.KERNEL_EXTENSIONS)
    if report:
        _check_ext("'--report'", report, REPORT_EXTENSIONS)
    if os.path.abspath(output) == os.path.abspath(input) and not options.overwrite:
        raise click.UsageError(f"the output would replace the input {input}; give -o, or pass --overwrite")
    _check_outputs([("'-o' / '--output'", output), ("'--plot'", plot), ("'--history'", history),
                    ("'--compare'", compare), ("'--save-psf'", save_psf), ("'--report'", report)],
                   options.overwrite)

    job = _batch.FileJob(input=input, output=output, options=options, reference=reference,
                         plot=plot, history=history, compare=compare, save_psf=save_psf, report=report)
    _announce_compilation(quiet)
    progress = IterationProgress(options.solve.max_num_iter, enabled=_interactive(quiet))
    try:
        outcome = _batch.restore_file(job, callback=progress, on_start=progress.start,
                                      on_note=None if quiet else lambda text: _err(f"note: {text}"))
    except KeyboardInterrupt:
        raise Interrupted("interrupted: nothing was written") from None
    finally:
        progress.close()
    if report:
        _write_report(report, [outcome.row], options, f"deblur restore {os.path.basename(input)}",
                      outcome.row.seconds, reference=reference)
    _report(outcome, options, input, output, quiet,
            extras=[p for p in (plot, history, compare, save_psf, report) if p])


def _write_report(path, rows, options, title, elapsed, **extra):
    """The HTML report of a restore or a batch (deblur.report); its errors as the CLI's."""
    from . import io as imio
    from . import report as _rep

    try:
        _rep.write_report(path, rows, title=title, options=_rep.describe_options(options, **extra),
                          elapsed=elapsed, overwrite=options.overwrite)
    except imio.OutputExistsError as exc:
        raise click.UsageError(str(exc)) from None
    except imio.ImageFileError as exc:
        raise Failure(str(exc)) from None


def _report(outcome, options, input, output, quiet, extras=()):
    result, row = outcome.result, outcome.row
    if not quiet:
        for note in outcome.notes:
            _err(f"note: {note}")
    for text in outcome.warnings:
        _err(f"warning: {text.split(': ', 1)[-1] if text.startswith('StepSizeWarning') else text}")
    report = backoff_report(result)
    if report:
        _err(f"warning: {report}")
    if not quiet:
        hint = _hint(result)
        if hint:
            _err(f"hint: {hint}")
        cost = "n/a" if row.final_cost is None else f"{row.final_cost:.6g}"
        wrote = output + "".join(f", {p}" for p in extras)
        click.echo(
            f"{input} -> {wrote}: {result.iterations} iterations, {_stop_words(result, options)}, "
            f"final cost {cost}, {row.seconds:.2f} s"
        )


# --------------------------------------------------------------------------- batch


def _side_file(out_dir, rel, suffix, unique_stem):
    stem, _ = os.path.splitext(rel)
    base = stem if unique_stem else rel
    return os.path.join(out_dir, base + suffix)


@main.command(context_settings=CONTEXT)
@click.argument("input_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("output_dir", type=click.Path(file_okay=False))
@psf_option
@solver_options
@color_options
@click.option("--pattern", default=DEFAULT_PATTERNS, show_default=True,
              help="Comma-separated file-name patterns to restore (case-insensitive).")
@click.option("--recursive", is_flag=True, help="Descend into sub-folders; OUTPUT_DIR mirrors them.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Files restored at once, each in its own process.")
@click.option("--skip-existing", is_flag=True, help="Leave files whose output exists alone (resume a batch).")
@click.option("--reference-dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of sharp originals with the same relative names: PSNR/SSIM per file.")
@click.option("--plot", "want_plot", is_flag=True, help="Write NAME.convergence.png per image.")
@click.option("--history", "history_format", type=click.Choice(("json", "csv")), default=None,
              help="Write NAME.history.json/.csv per image.")
@click.option("--compare", "want_compare", is_flag=True, help="Write NAME.compare.png (before | after).")
@click.option("--report", "want_report", is_flag=True,
              help=f"Write OUTPUT_DIR/{REPORT_NAME}, a page to look at in a browser: each photo before/after, its "
                   "kernel, convergence and figures (pictures in OUTPUT_DIR/report_files/).")
@click.option("--summary", type=click.Path(dir_okay=False), default=None,
              help="Summary table file, .csv or .json [default: OUTPUT_DIR/deblur-summary.csv].")
@click.option("--scheduler", default=None, metavar="ADDRESS", callback=_check_scheduler,
              help="Run on a Dask cluster, one task per image: the scheduler's address (tcp://host:8786), or "
                   "'local' for a LocalCluster of --jobs worker processes [default: one per core]. Workers must "
                   "see the same files. Needs pip install 'deblur[dask]'.")
@memory_option
@file_options
@click.pass_context
def batch(ctx, input_dir, output_dir, pattern, recursive, jobs, skip_existing, reference_dir, want_plot,
          history_format, want_compare, want_report, summary, quiet, **kw):
    """Restore every image in INPUT_DIR into OUTPUT_DIR.

    One bad file never stops the batch: its row in the summary says why, and
    the exit code is 1 when any file failed.

    \b
    deblur batch scans/ restored/ --psf gaussian:sigma=1.5 --jobs 2
    deblur batch shots/ out/ --psf motion:length=9,angle=0 --recursive --skip-existing --plot
    """
    from . import batch as _batch

    started = time.monotonic()
    scheduler = kw.pop("scheduler")
    workers = _batch_workers(ctx, scheduler, jobs)
    options = _restore_options(ctx, kw)
    if options.memory_budget == "auto" and workers:  # share this machine's memory among the files at once
        from dataclasses import replace

        from .tiled import resolve_budget

        options = replace(options, memory_budget=resolve_budget("auto", share=workers))
    in_abs, out_abs = os.path.abspath(input_dir), os.path.abspath(output_dir)
    if in_abs == out_abs:
        raise click.UsageError("OUTPUT_DIR must differ from INPUT_DIR, so no input is ever replaced")
    if skip_existing and options.overwrite:
        raise click.UsageError("--skip-existing and --overwrite contradict each other; choose one")
    if summary:
        _check_ext("'--summary'", summary, (".csv", ".json"))
    report = os.path.join(out_abs, REPORT_NAME) if want_report else None
    if report and os.path.lexists(report) and not options.overwrite:
        how = "move it away first (a resumed batch writes a new one)" if skip_existing else \
            "pass --overwrite to replace it, or move it away first"
        raise click.UsageError(f"{os.path.join(output_dir, REPORT_NAME)} already exists; {how}")
    patterns = [p.strip() for p in pattern.split(",") if p.strip()]
    files = _batch.find_images(in_abs, patterns=patterns, recursive=recursive, exclude=out_abs)
    if not files:
        where = "or its sub-folders " if recursive else ""
        more = "" if recursive else " (pass --recursive to look in sub-folders)"
        raise click.UsageError(f"no files matching {pattern} in {input_dir} {where}{more}".replace("  ", " ").rstrip())
    rels = [os.path.relpath(f, in_abs) for f in files]
    stems = [os.path.splitext(r)[0] for r in rels]
    jobs_list, rows, existing = [], [], []
    for path, rel, stem in zip(files, rels, stems):
        unique = stems.count(stem) == 1
        out = os.path.join(out_abs, rel)
        job = _batch.FileJob(
            input=path,
            output=out,
            options=options,
            reference=os.path.join(reference_dir, rel) if reference_dir else None,
            plot=_side_file(out_abs, rel, ".convergence.png", unique) if want_plot else None,
            history=_side_file(out_abs, rel, f".history.{history_format}", unique) if history_format else None,
            compare=_side_file(out_abs, rel, ".compare.png", unique) if want_compare else None,
            label=rel,
            report=report,
        )
        targets = [p for p in (job.output, job.plot, job.history, job.compare) if p]
        if any(os.path.lexists(p) for p in targets) and not options.overwrite:
            if skip_existing and os.path.lexists(job.output):
                rows.append(_batch.Row(file=rel, status="skipped", error="output exists (--skip-existing)"))
                continue
            existing.append(next(p for p in targets if os.path.lexists(p)))
        if job.reference is not None and not os.path.isfile(job.reference):
            raise click.UsageError(f"--reference-dir has no {rel}; every input needs its sharp original there")
        jobs_list.append(job)
    if existing:
        shown = ", ".join(os.path.relpath(p, out_abs) for p in existing[:3]) + (", ..." if len(existing) > 3 else "")
        raise click.UsageError(
            f"{len(existing)} output file(s) already exist in {output_dir} ({shown}); pass --skip-existing to "
            "leave them alone, or --overwrite to replace them"
        )

    try:  # the output folder and its mirrored sub-folders, now that nothing stops the batch before it starts
        os.makedirs(out_abs, exist_ok=True)
        for job in jobs_list:
            os.makedirs(os.path.dirname(job.output), exist_ok=True)
    except OSError as exc:
        raise Failure(f"cannot create the output folder {output_dir}: {exc.strerror or exc}") from None
    summary = summary or os.path.join(out_abs, "deblur-summary.csv")
    if jobs_list:
        _announce_compilation(quiet)
    by_file = {}
    try:
        _run_batch(jobs_list, jobs, quiet, by_file, scheduler=scheduler, workers=workers)
    except _batch.BatchInterrupted as stop:
        rows += stop.rows
        _batch.write_summary(summary, rows)
        if report:
            with contextlib.suppress(click.ClickException):  # the interruption is what to report
                _batch_report(report, rows, options, input_dir, output_dir, started, reference_dir)
        done = sum(r.status == "ok" for r in rows)
        raise Interrupted(
            f"interrupted: {done} file(s) restored, {sum(r.status == 'interrupted' for r in rows)} stopped or not "
            f"started, and no partial file was written. Summary: {summary}. Re-run with --skip-existing to "
            "continue where it stopped."
        ) from None
    rows += [by_file[i] for i in range(len(jobs_list))]
    rows.sort(key=lambda r: r.file)
    _batch.write_summary(summary, rows)
    if report:
        _batch_report(report, rows, options, input_dir, output_dir, started, reference_dir)
    failed = [r for r in rows if r.status == "failed"]
    if not quiet:
        click.echo(_batch.format_table(rows))
        ok = sum(r.status == "ok" for r in rows)
        skipped = sum(r.status == "skipped" for r in rows)
        click.echo(f"{ok} restored, {skipped} skipped, {len(failed)} failed; summary written to {summary}"
                   + (f"; report: {report}" if report else ""))
        for r in rows:
            for note in r.notes or ():
                _err(f"note: {r.file}: {note}")
    if failed:
        lines = "\n".join(f"  {r.file}: {r.error}" for r in failed)
        raise Failure(f"{len(failed)} of {len(rows)} file(s) failed:\n{lines}")


def _batch_report(path, rows, options, input_dir, output_dir, started, reference_dir):
    _write_report(path, sorted(rows, key=lambda r: r.file), options, f"deblur batch {input_dir} → {output_dir}",
                  time.monotonic() - started, reference_dir=reference_dir)


def _batch_workers(ctx, scheduler, jobs):
    """Files restored at once on this machine (None: on a remote cluster, whose workers decide)."""
    if scheduler is None:
        return jobs
    explicit = ctx.get_parameter_source("jobs") != click.core.ParameterSource.DEFAULT
    if scheduler != "local":
        if explicit:
            raise click.UsageError("--jobs sets the workers of --scheduler local; a remote cluster has its own")
        return None
    return jobs if explicit else (os.cpu_count() or 1)


def _run_batch(jobs_list, n_jobs, quiet, by_file, scheduler=None, workers=None):
    from . import batch as _batch

    with _executor(scheduler if jobs_list else None, workers, quiet) as executor:
        rows = _batch.iter_rows(jobs_list, n_jobs=n_jobs, executor=executor)
        if not _interactive(quiet):
            for i, row in rows:
                by_file[i] = row
            return
        with click.progressbar(length=len(jobs_list), label="restoring", file=sys.stderr,
                               item_show_func=lambda r: r or "") as bar:
            for i, row in rows:  # on a cluster: as Dask's futures complete
                by_file[i] = row
                bar.update(1, f"{row.file}: {row.status}")


@contextlib.contextmanager
def _executor(scheduler, workers, quiet):
    """None for a run on this machine, or an executor on the Dask cluster of --scheduler."""
    if scheduler is None:
        yield None
        return
    from . import distributed as _dist

    try:
        with _dist.cluster_executor(scheduler, n_workers=workers) as executor:
            if not quiet:
                _err(f"note: {_dist.describe(executor)}")
            yield executor
    except _dist.ClusterError as exc:
        raise Failure(str(exc)) from None


# --------------------------------------------------------------------------- helpers


@main.command("psf", context_settings=CONTEXT)
@click.argument("spec", type=PsfSpec())
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="Kernel file: .png/.tif to look at (16-bit / float), .npy or .csv to reuse exactly.")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
def psf_command(spec, output, overwrite):
    """Render a PSF to a file, to look at or to reuse with --psf FILE.

    \b
    deblur psf motion:length=15,angle=30 -o motion.png
    deblur psf gaussian:sigma=2 -o gauss.npy
    """
    import numpy as np

    from . import io as imio
    from . import psf as _psf

    if _psf.is_estimate(spec):
        raise click.BadParameter(f"{spec!r} is not a kernel: estimating one needs an image "
                                 f"(deblur restore IMAGE --psf {spec} --save-psf FILE); give a PSF form: {PSF_FORMS}",
                                 param_hint="SPEC")
    _check_ext("'-o' / '--output'", output, (".png", ".tif", ".tiff", ".npy", ".csv"))
    _check_outputs([("'-o' / '--output'", output)], overwrite)
    kernel = _psf.parse(spec)
    try:
        imio.write_kernel(output, kernel, overwrite=overwrite)
    except imio.ImageFileError as exc:
        raise Failure(str(exc)) from None
    taps = int((kernel > 0).sum())
    click.echo(f"{spec}: {kernel.shape[1]}x{kernel.shape[0]} kernel, {taps} non-zero taps -> {output}")


def _npy_bytes(array):
    import io as _io

    import numpy as np

    buf = _io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


@main.command(context_settings=CONTEXT)
@click.argument("sharp", type=click.Path(exists=True, dir_okay=False))
@click.option("--psf", type=PsfSpec(), required=True, help=f"The blur: {PSF_FORMS}.")
@click.option("--noise", type=click.FloatRange(min=0), default=0.0, show_default=True, metavar="SIGMA",
              help="Gaussian noise standard deviation, in units of the full range (0.01 = 1 %).")
@click.option("--seed", type=int, default=None, help="Seed of the noise.")
@click.option("--boundary", type=click.Choice(("reflect", "periodic", "valid")), default="reflect",
              show_default=True, help="Border handling; 'valid' returns the smaller fully-blurred part.")
@click.option("--linear/--no-linear", default=False, show_default=True, help="Blur in linear light.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Blurred image to write.")
@click.option("--quality", type=click.IntRange(1, 100), default=None, help="JPEG/WebP quality [default: 95].")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
@click.option("--max-pixels", type=click.IntRange(min=0), default=None, metavar="N",
              help="Largest image to open, in pixels (0: no limit).")
def blur(sharp, psf, noise, seed, boundary, linear, output, quality, overwrite, max_pixels):
    """Blur a sharp image (and add noise): test input for 'deblur restore'.

    \b
    deblur blur sharp.png --psf gaussian:sigma=2 --noise 0.01 --seed 1 -o blurry.png
    """
    from . import io as imio
    from . import psf as _psf

    if _psf.is_estimate(psf):
        raise click.BadParameter(f"'blur' needs a kernel, not {psf!r}; give a PSF form: {PSF_FORMS}",
                                 param_hint="'--psf'")
    _check_ext("'-o' / '--output'", output, imio.IMAGE_EXTENSIONS)
    _check_outputs([("'-o' / '--output'", output)], overwrite)
    imio.allow_pixels(max_pixels)
    data = imio.read_image(sharp, max_pixels=max_pixels)
    kernel = _psf.parse(psf)
    blurred = blur_pixels(data.pixels, kernel, noise=noise, seed=seed, boundary=boundary, linear=linear)
    alpha = data.alpha
    if boundary == "valid" and alpha is not None:
        alpha = _valid_crop(alpha, kernel.shape)
    out = imio.ImageData(blurred, alpha, data.format, data.mode, data.exif, data.icc_profile, data.dpi)
    notes = imio.write_image(output, out, quality=quality, overwrite=overwrite)
    for note in data.notes + notes:
        _err(f"note: {note}")
    click.echo(f"{sharp} blurred with {psf}" + (f", noise {noise:g}" if noise else "") + f" -> {output}")


def _valid_crop(array, kshape):
    """The part of a blurred array every kernel tap saw (centre tap at (kh // 2, kw // 2))."""
    kh, kw = kshape
    top, bottom, left, right = kh - 1 - kh // 2, kh // 2, kw - 1 - kw // 2, kw // 2
    return array[top : array.shape[0] - bottom, left : array.shape[1] - right]


def blur_pixels(pixels, kernel, *, noise=0.0, seed=None, boundary="reflect", linear=False):
    """Blur integer or float pixels with ``kernel``, add Gaussian noise, return the same dtype."""
    import numpy as np
    from scipy import ndimage

    from . import color
    from . import io as imio

    kh, kw = kernel.shape
    if kh > pixels.shape[0] or kw > pixels.shape[1]:
        from .errors import InputError

        raise InputError(f"the PSF ({kw}x{kh} px) is larger than the image "
                         f"({pixels.shape[1]}x{pixels.shape[0]} px); use a smaller kernel")
    x = imio.to_float(pixels, np.float64)
    if linear:
        x = color.srgb_to_linear(x)
    mode = {"reflect": "reflect", "periodic": "wrap", "valid": "reflect"}[boundary]
    chans = [x] if x.ndim == 2 else [x[..., c] for c in range(x.shape[-1])]
    y = [ndimage.convolve(c, kernel, mode=mode) for c in chans]
    y = y[0] if x.ndim == 2 else np.stack(y, axis=-1)
    if boundary == "valid":
        y = _valid_crop(y, kernel.shape)
    if linear:
        y = color.linear_to_srgb(np.clip(y, 0, 1))
    if noise:
        y = y + np.random.default_rng(seed).normal(0.0, noise, y.shape)
    if pixels.dtype.kind != "f":
        y = np.clip(y, 0.0, 1.0)
    return imio.from_float(y, pixels.dtype)


if __name__ == "__main__":  # pragma: no cover
    main()
