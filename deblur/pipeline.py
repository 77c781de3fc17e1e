"""Restoring one image file: read -> prepare -> solve -> write -> plot.

:func:`restore_file` is the one way a file is restored, by ``deblur restore``
and by every batch backend (:mod:`deblur.batch`): read the file, take its
pixels to float (optionally to linear light),
:func:`deblur.api.prepare` and solve (``color='luma'`` is the library's
``color_space='luma'``) (whole, or in tiles over the memory
budget), back to the file's type with its alpha, atomic write, then the
history, plot, comparison and report entry. :func:`process_file` wraps it
for a batch: a picklable :class:`FileJob` in, a :class:`~deblur.summary.Row`
out, never raising for a bad file.

This module never imports click.
"""

import os
import time
import warnings
from dataclasses import dataclass, field, fields, replace

import numpy as np

from . import color as _color
from . import io as _imio
from . import psf as _psf
from .errors import DeblurError, InputError, Interrupted
from .images import to_float, to_pixels
from .options import COLOR_SPACES, SolveOptions, check_choice
from .summary import Row, json_safe, write_text

__all__ = ["RestoreOptions", "FileJob", "FileOutcome", "restore_file", "process_file", "history_document",
           "set_stop_event", "COLOR_MODES"]

COLOR_MODES = COLOR_SPACES  # the library's colour spaces: opponent, rgb, luma


def _file_option(default, flag=None, kind=None, help="", **cli):
    return field(default=default, metadata={"flag": flag, "kind": kind, "help": help, **cli})


@dataclass(frozen=True)
class RestoreOptions:
    """Everything about how to restore a file, picklable (for process pools and clusters).

    ``psf`` is a spec string, a kernel array, or ``'estimate'``; ``kernel`` is
    it parsed (by the caller, or here when None: once, however many files);
    give both anew when changing ``psf`` with ``dataclasses.replace``.
    ``solve`` holds the solver options as they are;
    the rest is about files and colour. Their command-line flags are
    generated from the ``metadata`` of the fields (:mod:`deblur.cli.options`).
    """

    psf: object = None
    solve: SolveOptions = field(default_factory=SolveOptions)
    color: str = _file_option(
        "opponent", "--color", "choice", choices=COLOR_MODES, show_default=True,
        help="opponent: restore brightness and the two colour differences, each with its own weight (less colour "
             "noise); rgb: restore R, G, B independently; luma: restore brightness only and keep the colour.")
    linear: bool = _file_option(False, "--linear/--no-linear", "switch", show_default=True,
                                help="Deblur in linear light (sRGB decoded first, re-encoded after).")
    quality: object = _file_option(None, "--quality", "int", min=1, max=100, help="JPEG/WebP quality [default: 95].")
    overwrite: bool = _file_option(False, "--overwrite", "flag", help="Replace existing output files.")
    max_pixels: object = _file_option(
        None, "--max-pixels", "int", min=0, metavar="N",
        help="Largest image to open, in pixels (0: no limit) [default: Pillow's, about 89 million].")
    memory_budget: object = None  # bytes, '2GB' or 'auto': above it, restore in tiles (deblur.tiled)
    # psf parsed: given by a caller that parsed it already (the command line), else parsed here, once
    kernel: object = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        check_choice("color", self.color, COLOR_MODES)
        if not isinstance(self.solve, SolveOptions):
            raise TypeError(f"solve must be a deblur.options.SolveOptions, got {type(self.solve).__name__}")
        if self.kernel is None and self.psf is not None and not _psf.is_estimate(self.psf):
            kernel = _psf.validate(self.psf) if isinstance(self.psf, np.ndarray) else _psf.parse(self.psf)
            object.__setattr__(self, "kernel", kernel)

    @property
    def solver_options(self):
        """The options :func:`deblur.api.prepare` gets: ``solve``, in the colour space ``color`` (when not the default)."""
        return self.solve.replace(color_space=self.color) if self.color != "opponent" else self.solve

    def chosen(self):
        """``{name: value}`` of what differs from the defaults, the solver's options included."""
        items = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("solve", "kernel"):  # the solver's below; the kernel is the psf
                continue
            if f.name == "psf" or (value is not None and value is not False and value != f.default):
                items[f.name] = value
        return {**items, **self.solve.chosen()}


@dataclass(frozen=True)
class FileJob:
    """One file to restore, and where its outputs go (None: not wanted)."""

    input: str
    output: str
    options: RestoreOptions
    reference: object = None
    plot: object = None
    history: object = None
    compare: object = None
    save_psf: object = None  # where to write the PSF used (the estimate, with --psf estimate)
    label: object = None  # name in the summary table; default the input path
    report: object = None  # the report page this file appears in: its pictures go beside it (deblur.report)


@dataclass
class FileOutcome:
    """What :func:`restore_file` did: the solver result, the summary row, and remarks in words."""

    result: object
    row: Row
    notes: list = field(default_factory=list)  # conversions made reading/writing
    warnings: list = field(default_factory=list)  # warnings raised by the solver, as text


# A multiprocessing Event in pool workers: set by the parent on Ctrl-C (deblur.batch).
_STOP = None


def set_stop_event(event):
    """Make :func:`restore_file` stop (at the next iteration, writing nothing) once ``event`` is set."""
    global _STOP
    _STOP = event


def _stop_requested():
    return _STOP is not None and _STOP.is_set()


# --------------------------------------------------------------------------- read


def _working(image_data, options, dtype):
    """File pixels -> the float image the solver is given (in linear light with ``linear``)."""
    x = to_float(image_data.pixels, dtype)
    if options.linear:
        x = _color.srgb_to_linear(x)
    return x


def _solved_channels(image, options):
    """How many channels the solver restores: one for the luma of a colour image (``color='luma'``)."""
    if image.ndim != 3:
        return 1
    return 1 if options.color == "luma" and image.shape[-1] == 3 else image.shape[-1]


def _back_to_file(restored, options, like):
    x = restored
    if options.linear:
        x = _color.linear_to_srgb(x)
    if like.dtype.kind != "f":
        x = np.clip(x, 0.0, 1.0)
    return to_pixels(x, like.dtype)


def _read(job, dtype):
    """The file, the float image to restore, and the float reference."""
    options = job.options
    data = _imio.read_image(job.input, max_pixels=options.max_pixels)
    kernel = options.kernel
    shape = data.pixels.shape
    if kernel is not None and (kernel.shape[0] > shape[0] or kernel.shape[1] > shape[1]):
        raise InputError(
            f"the PSF ({kernel.shape[1]}x{kernel.shape[0]} px) is larger than the image {job.input} "
            f"({shape[1]}x{shape[0]} px); use a smaller kernel, or a larger image"
        )
    image = _working(data, options, dtype)
    reference = None
    if job.reference is not None:
        ref = _imio.read_image(job.reference, max_pixels=options.max_pixels)
        if ref.pixels.shape != data.pixels.shape:
            raise InputError(
                f"the reference {job.reference} ({ref.describe()}) does not match {job.input} "
                f"({data.describe()}); give the sharp original of this very image"
            )
        reference = _working(ref, options, dtype)
    return data, image, reference


# --------------------------------------------------------------------------- prepare and solve


def _tile_plan(image, options):
    """Tiles when the whole solve would exceed ``options.memory_budget`` (see :mod:`deblur.tiled`), else None."""
    if options.memory_budget is None or options.kernel is None:  # no tiling while estimating the PSF
        return None
    from . import tiled

    return tiled.plan_if_needed(image.shape[:2], _solved_channels(image, options), options.kernel,
                                options.memory_budget, options.solve.precision)


def _solve(job, image, reference, tiles, callback):
    """The solver's result, and its warnings (caught, to be said once by the caller)."""
    from . import api

    options = job.options
    psf = options.psf if options.kernel is None else options.kernel
    axis = -1 if image.ndim == 3 else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if tiles is None:
            plan = api.prepare(image, psf, options.solver_options, channel_axis=axis, reference=reference,
                               callback=callback)
            result = api.solve_plan(plan)
        else:
            from . import tiled

            result = tiled.solve_tiled(image, psf, channel_axis=axis, reference=reference, callback=callback,
                                       tile_plan=tiles, solve_options=options.solver_options)
    return result, caught


def _estimation_note(result):
    """One line on the estimated PSF (or why there is none); None when the PSF was given."""
    estimation = getattr(result, "psf_estimation", None)
    if estimation is None:
        return None
    kh, kw = np.shape(result.psf)
    status = getattr(estimation, "status", "estimated")
    message = getattr(estimation, "message", "") or ""
    reason = getattr(estimation, "reason", "") or ""
    text = f"estimated PSF {kw}x{kh} px" if status == "estimated" else f"PSF estimation: {message}"
    if status == "estimated" and reason:
        text += f" (confidence {estimation.confidence:.2f}: {reason})"
    return text


# --------------------------------------------------------------------------- write and plot


def history_document(result, job):
    """The extra fields written with a history: files, settings, outcome, back-offs."""
    return json_safe(
        {
            "input": job.input,
            "output": job.output,
            "psf": job.options.psf if isinstance(job.options.psf, str) else "array",
            "settings": dict(result.settings or {}),
            "stop_reason": result.stop_reason,
            "iterations": result.iterations,
            "weight": result.weight,
            "noise_sigma": result.noise_sigma,
            "backoffs": [e.describe() for e in result.events],
        }
    )


def _psf_label(spec):
    if spec is None:
        return "none"
    if isinstance(spec, np.ndarray):
        return f"array {spec.shape[1]}x{spec.shape[0]}"
    return os.path.basename(str(spec)) if os.path.sep in str(spec) else str(spec)


def _write_side_files(job, data, out_pixels, result):
    """History, convergence plot and before/after comparison, each where ``job`` says (if at all)."""
    options = job.options
    if job.history is not None:
        ext = os.path.splitext(os.fspath(job.history))[1].lower()
        text = result.history.to_csv() if ext == ".csv" else result.history.to_json(None, extra=history_document(result, job))
        write_text(job.history, text, options.overwrite)
    if job.plot is not None:
        from . import plot as _plot

        _plot.save_convergence_plot(
            job.plot,
            result.history,
            events=result.events,
            title=f"{os.path.basename(job.input)}  (psf {_psf_label(options.psf)})",
            settings=result.settings,
            weight=result.weight,
            stop_reason=result.stop_reason,
            kernel=result.psf if result.psf_estimation is not None else None,
            write=lambda blob: _imio.atomic_write(job.plot, lambda fh: fh.write(blob), overwrite=options.overwrite),
        )
    if job.compare is not None:
        pair = _imio.side_by_side(data.pixels, out_pixels)
        _imio.write_image(job.compare, pair, quality=options.quality, overwrite=options.overwrite)


def restore_file(job, *, callback=None, on_start=None, on_note=None):
    """Restore one file as ``job`` says, writing its output (and plot/history/compare) atomically.

    Parameters
    ----------
    job : FileJob
    callback : callable, optional
        Passed to the solver (progress display); a truthy return stops it.
    on_start : callable, optional
        ``on_start(passes, limit)`` just before solving: the number of separate
        solves (one per restored channel and tile) and the iteration limit of each.
    on_note : callable, optional
        ``on_note(text)`` at once when the image is restored in tiles (over
        ``options.memory_budget``); otherwise the remark goes in the notes.

    Returns
    -------
    FileOutcome

    Raises
    ------
    deblur.errors.DeblurError
        For bad inputs (:class:`~deblur.errors.ImageFileError`,
        :class:`~deblur.errors.OutputExistsError`, :class:`~deblur.errors.InputError`...);
        :class:`~deblur.errors.Interrupted` when a stop was requested.
    """
    options = job.options
    t0 = time.perf_counter()
    dtype = np.dtype(options.solve.precision)
    data, image, reference = _read(job, dtype)
    notes = list(data.notes)
    note = on_note or notes.append

    def on_iteration(state):
        if _stop_requested():
            return True
        return callback(state) if callback is not None else None

    tiles = _tile_plan(image, options)
    if tiles is not None:
        note(tiles.describe())
    if on_start is not None:
        on_start(_solved_channels(image, options) * (tiles.n_tiles if tiles else 1),
                 options.solve.max_num_iter)
    result, caught = _solve(job, image, reference, tiles, on_iteration)
    if _stop_requested():
        raise Interrupted(job.input)
    estimated = _estimation_note(result)
    # a fallback of the estimation is said once, in the note, not again as a warning
    caught = [w for w in caught if estimated is None or w.category.__name__ != "BlindEstimationWarning"]
    solver_warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
    if estimated is not None:
        note(estimated)
    if job.save_psf is not None:
        _psf.save(job.save_psf, result.psf, overwrite=options.overwrite)

    out_pixels = _back_to_file(np.asarray(result.image), options, data.pixels)
    out = replace(data, pixels=out_pixels, notes=[])
    notes += _imio.write_image(job.output, out, quality=options.quality, overwrite=options.overwrite)
    _write_side_files(job, data, out_pixels, result)

    seconds = time.perf_counter() - t0
    history = result.history
    row = Row(
        file=job.label or job.input,
        status="ok",
        iterations=int(result.iterations),
        seconds=round(seconds, 3),
        final_cost=float(history["cost"][-1]) if len(history) else None,
        stop_reason=result.stop_reason,
        backoffs=len(result.events),
        output=job.output,
        notes=[tiles.describe()] if tiles is not None else None,
    )
    if job.report is not None:
        from . import report as _report

        row.report = _report.file_entry(job, data.pixels, out_pixels, result, seconds=seconds,
                                        warnings=solver_warnings, notes=notes, overwrite=options.overwrite)
    return FileOutcome(result, row, notes, solver_warnings)


def process_file(job):
    """Restore one file and return its :class:`~deblur.summary.Row`; never raises for a bad file.

    The unit of work for any backend: picklable in, picklable out.
    """
    if _stop_requested():
        return Row(file=job.label or job.input, status="interrupted", error="not started")
    t0 = time.perf_counter()
    try:
        return restore_file(job).row
    except Interrupted:
        return Row(file=job.label or job.input, status="interrupted", error="stopped; nothing written")
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch; the row says why
        return Row(
            file=job.label or job.input,
            status="failed",
            seconds=round(time.perf_counter() - t0, 3),
            error=error_text(exc),
        )


def error_text(exc):
    """An error in words for a summary row: deblur's own as its message, anything else as the bug it is."""
    if isinstance(exc, DeblurError):
        return str(exc)
    return f"{type(exc).__name__}: {exc} (a bug in deblur, please report it)"
