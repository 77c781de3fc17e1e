"""Restoring image files: one file (:func:`restore_file`), or many (:func:`run_batch`).

The unit of work is :func:`process_file`: it takes a picklable
:class:`FileJob` (paths and a :class:`RestoreOptions`) and returns a
:class:`Row` (status, iterations, seconds, final cost, error). It never
raises for a bad file - the error goes in the row - so a backend only has to
map it over jobs. :func:`iter_rows` runs the jobs in this process, in a
process pool, or on any ``concurrent.futures`` executor - a Dask cluster
plugs in as ``iter_rows(jobs, executor=client.get_executor())``, or maps
the function itself::

    futures = client.map(process_file, jobs)
    for future in distributed.as_completed(futures):
        row = future.result()

``deblur restore`` calls :func:`restore_file` directly, so one file and a
folder go through exactly the same steps: read, convert to float, optional
sRGB decoding and luma split, :func:`deblur.solve`, back to the file's
type, alpha re-attached, atomic write, then plot/history/compare.

This module never imports click.
"""

import contextlib
import csv
import functools
import io as _io
import json
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from . import color as _color
from . import io as _imio
from .options import DEFAULTS

__all__ = [
    "RestoreOptions",
    "FileJob",
    "Row",
    "FileOutcome",
    "InputError",
    "Interrupted",
    "BatchInterrupted",
    "restore_file",
    "process_file",
    "iter_rows",
    "find_images",
    "write_summary",
    "format_table",
    "SUMMARY_COLUMNS",
]


class InputError(ValueError):
    """The inputs do not fit together (PSF larger than the image, reference of another size...)."""


class Interrupted(Exception):
    """A stop was requested while a file was being processed; nothing was written for it."""


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch; ``rows`` holds every file's row (unfinished ones ``interrupted``)."""

    def __init__(self, rows):
        super().__init__("interrupted")
        self.rows = rows


@dataclass(frozen=True)
class RestoreOptions:
    """Everything about how to restore a file, picklable (for process pools and clusters).

    ``psf`` is a spec string, a kernel array, or ``'estimate'``; the solver
    fields map one to one onto :func:`deblur.solve`.
    """

    psf: object = None
    # solver choices: None leaves the library's default (one place for defaults: deblur.solve)
    schedule: object = None
    lr: object = None
    momentum: object = None
    variant: object = None
    iterations: object = None  # max_num_iter
    tol: object = None
    time_limit: object = None
    regularizer: object = None
    weight: object = None
    boundary: object = None
    seed: object = None
    float64: bool = False  # precision='float64'
    preconditioner: object = None
    gtol: object = None
    batch_fraction: object = None
    decay: object = None
    # files and colour
    color: str = "opponent"  # 'opponent'/'rgb': deblur.solve's color_space; 'luma': luminance only, chroma kept
    linear: bool = False  # decode sRGB to linear light before, re-encode after
    quality: object = None
    overwrite: bool = False
    max_pixels: object = None
    memory_budget: object = None  # bytes, '2GB' or 'auto': above it, restore in tiles (deblur.tiled)

    SOLVER_FIELDS = {  # our name -> deblur.solve's
        "schedule": "schedule",
        "lr": "lr",
        "momentum": "momentum",
        "variant": "variant",
        "iterations": "max_num_iter",
        "tol": "tol",
        "time_limit": "time_limit",
        "regularizer": "regularizer",
        "weight": "weight",
        "boundary": "boundary",
        "seed": "seed",
        "preconditioner": "preconditioner",
        "gtol": "gtol",
        "batch_fraction": "batch_fraction",
        "decay": "decay",
    }

    def solver_kwargs(self):
        """Keyword arguments for :func:`deblur.solve` (image, psf and channel_axis apart): only
        the choices made, so the library's defaults apply to the rest."""
        kwargs = {theirs: getattr(self, ours) for ours, theirs in self.SOLVER_FIELDS.items()}
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if self.float64:
            kwargs["precision"] = "float64"
        if self.color == "rgb":
            kwargs["color_space"] = "rgb"
        return kwargs


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


SUMMARY_COLUMNS = ("file", "status", "iterations", "seconds", "final_cost", "stop_reason", "backoffs", "error")


@dataclass
class Row:
    """One line of a batch summary. ``status``: ok, failed, skipped or interrupted."""

    file: str
    status: str
    iterations: object = None
    seconds: object = None
    final_cost: object = None
    stop_reason: object = None
    backoffs: object = None
    error: object = None
    output: object = None
    notes: object = None  # remarks for the user (a tiled restore), not in the summary
    report: object = None  # what the report page shows of this file (deblur.report.file_entry), not in the summary

    def as_dict(self):
        return {name: getattr(self, name) for name in SUMMARY_COLUMNS}


@dataclass
class FileOutcome:
    """What :func:`restore_file` did: the solver result, the summary row, and remarks in words."""

    result: object
    row: Row
    notes: list = field(default_factory=list)  # conversions made reading/writing
    warnings: list = field(default_factory=list)  # warnings raised by the solver, as text


# --------------------------------------------------------------------------- one file


def _load_psf(spec):
    from . import psf as _psf

    if spec is None or (isinstance(spec, str) and spec.partition(":")[0] == "estimate"):
        return spec
    if isinstance(spec, np.ndarray):
        return _psf.validate(spec)
    return _psf.parse(spec)


def _working(image_data, options, dtype):
    """File pixels -> the float image the solver sees, and how to undo it."""
    x = _imio.to_float(image_data.pixels, dtype)
    if options.linear:
        x = _color.srgb_to_linear(x)
    chroma = None
    if x.ndim == 3 and options.color == "luma":
        x, chroma = _color.split_luma(x)
    return x, chroma


def _back_to_file(restored, chroma, options, like):
    x = restored
    if chroma is not None:
        x = _color.merge_luma(x, chroma)
    if options.linear:
        x = _color.linear_to_srgb(x)
    if like.dtype.kind != "f":
        x = np.clip(x, 0.0, 1.0)
    return _imio.from_float(x, like.dtype)


def _check_sizes(kernel, shape, path):
    if isinstance(kernel, np.ndarray) and (kernel.shape[0] > shape[0] or kernel.shape[1] > shape[1]):
        raise InputError(
            f"the PSF ({kernel.shape[1]}x{kernel.shape[0]} px) is larger than the image {path} "
            f"({shape[1]}x{shape[0]} px); use a smaller kernel, or a larger image"
        )


def _stop_requested():
    return _STOP is not None and _STOP.is_set()


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist()) if value.size <= 64 else f"array{value.shape}"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def history_document(result, job):
    """The extra fields written with a history: files, settings, outcome, back-offs."""
    return _json_safe(
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


def _write_text(path, text, overwrite):
    data = text.encode("utf-8")
    _imio.atomic_write(path, lambda fh: fh.write(data), overwrite=overwrite)


def restore_file(job, *, callback=None, on_start=None, on_note=None):
    """Restore one file as ``job`` says, writing its output (and plot/history/compare) atomically.

    Parameters
    ----------
    job : FileJob
    callback : callable, optional
        Passed to :func:`deblur.solve` (progress display); a truthy return stops the solver.
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
    ImageFileError, OutputExistsError, InputError, ValueError
        For bad inputs; :class:`Interrupted` when a stop was requested.
    """
    from . import api

    options = job.options
    t0 = time.perf_counter()
    data = _imio.read_image(job.input, max_pixels=options.max_pixels)
    notes = list(data.notes)
    kernel = _load_psf(options.psf)
    _check_sizes(kernel, data.pixels.shape, job.input)
    dtype = np.float64 if options.float64 else np.float32
    image, chroma = _working(data, options, dtype)
    reference = None
    if job.reference is not None:
        ref = _imio.read_image(job.reference, max_pixels=options.max_pixels)
        if ref.pixels.shape != data.pixels.shape:
            raise InputError(
                f"the reference {job.reference} ({ref.describe()}) does not match {job.input} "
                f"({data.describe()}); give the sharp original of this very image"
            )
        reference, _ = _working(ref, options, dtype)

    def on_iteration(state):
        if _stop_requested():
            return True
        return callback(state) if callback is not None else None

    tiles = _tile_plan(image, kernel, options)
    if tiles is not None:
        (on_note or notes.append)(tiles.describe())
    if on_start is not None:
        limit = options.iterations or DEFAULTS["max_num_iter"]
        on_start((image.shape[-1] if image.ndim == 3 else 1) * (tiles.n_tiles if tiles else 1), limit)
    solve = api.solve if tiles is None else functools.partial(_tiled().solve_tiled, tile_plan=tiles)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = solve(
            image,
            kernel,
            channel_axis=-1 if image.ndim == 3 else None,
            reference=reference,
            callback=on_iteration,
            **options.solver_kwargs(),
        )
    if _stop_requested():
        raise Interrupted(job.input)
    estimation = getattr(result, "psf_estimation", None)
    # a fallback of the estimation is said once, in the note below, not again as a warning
    caught = [w for w in caught if estimation is None or w.category.__name__ != "BlindEstimationWarning"]
    solver_warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
    if estimation is not None:
        kh, kw = np.shape(result.psf)
        status = getattr(estimation, "status", "estimated")
        message = getattr(estimation, "message", "") or ""
        reason = getattr(estimation, "reason", "") or ""
        text = f"estimated PSF {kw}x{kh} px" if status == "estimated" else f"PSF estimation: {message}"
        if status == "estimated" and reason:
            text += f" (confidence {estimation.confidence:.2f}: {reason})"
        (on_note or notes.append)(text)
    if job.save_psf is not None:
        _imio.write_kernel(job.save_psf, result.psf, overwrite=options.overwrite)

    out_pixels = _back_to_file(np.asarray(result.image), chroma, options, data.pixels)
    out = _imio.ImageData(out_pixels, data.alpha, data.format, data.mode, data.exif, data.icc_profile, data.dpi)
    notes += _imio.write_image(job.output, out, quality=options.quality, overwrite=options.overwrite)

    if job.history is not None:
        ext = os.path.splitext(os.fspath(job.history))[1].lower()
        doc = history_document(result, job)
        text = result.history.to_csv() if ext == ".csv" else result.history.to_json(None, extra=doc)
        _write_text(job.history, text, options.overwrite)
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
            kernel=result.psf if estimation is not None else None,
            write=lambda blob: _imio.atomic_write(job.plot, lambda fh: fh.write(blob), overwrite=options.overwrite),
        )
    if job.compare is not None:
        pair = _imio.side_by_side(data.pixels, out_pixels)
        _imio.write_image(job.compare, pair, quality=options.quality, overwrite=options.overwrite)

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


def _tiled():
    from . import tiled

    return tiled


def _tile_plan(image, kernel, options):
    """Tiles when the whole solve would exceed ``options.memory_budget`` (see :mod:`deblur.tiled`), else None."""
    if options.memory_budget is None or isinstance(kernel, str):  # no tiling while estimating the PSF
        return None
    channels = image.shape[-1] if image.ndim == 3 else 1
    precision = "float64" if options.float64 else "float32"
    return _tiled().plan_if_needed(image.shape[:2], channels, kernel, options.memory_budget, precision)


def _psf_label(spec):
    if spec is None:
        return "none"
    if isinstance(spec, np.ndarray):
        return f"array {spec.shape[1]}x{spec.shape[0]}"
    return os.path.basename(str(spec)) if os.path.sep in str(spec) else str(spec)


def process_file(job):
    """Restore one file and return its :class:`Row`; never raises for a bad file.

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
            error=_error_text(exc),
        )


def _error_text(exc):
    if isinstance(exc, (_imio.ImageFileError, _imio.OutputExistsError, InputError, ValueError, TypeError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- many files

_STOP = None  # a multiprocessing Event in pool workers: set by the parent on Ctrl-C


def _worker_init(stop):
    """Pool worker set-up: Ctrl-C is the parent's to handle; it asks us to stop through ``stop``."""
    import signal

    global _STOP
    _STOP = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def iter_rows(jobs, *, n_jobs=1, executor=None):
    """Run :func:`process_file` over ``jobs``; yield ``(index, row)`` as each finishes.

    Parameters
    ----------
    jobs : iterable of FileJob
    n_jobs : int
        1: one file after the other, in this process. More: a pool of that
        many processes (started fresh, so Numba's threads are never forked;
        see :func:`_pool_context`).
    executor : concurrent.futures.Executor, optional
        Run the jobs there instead (``n_jobs`` is then ignored), e.g. a Dask
        cluster's ``client.get_executor()``. The caller owns it.

    On Ctrl-C, files not started are not started, running solvers stop at
    their next iteration without writing (in an outside executor they run
    to the end), and :class:`BatchInterrupted` is raised with a row for
    every job.
    """
    jobs = list(jobs)
    rows = [None] * len(jobs)
    running = None
    try:
        if executor is not None:
            yield from _iter_futures(executor, jobs, rows)
        elif n_jobs <= 1 or len(jobs) <= 1:
            for i, job in enumerate(jobs):
                running = i
                rows[i] = process_file(job)
                running = None
                yield i, rows[i]
        else:
            yield from _iter_pool(jobs, rows, n_jobs)
    except KeyboardInterrupt:
        for i, job in enumerate(jobs):
            if rows[i] is None:
                what = "stopped; nothing written" if i == running else "not started"
                rows[i] = Row(file=job.label or job.input, status="interrupted", error=what)
        raise BatchInterrupted(rows) from None


def _iter_pool(jobs, rows, n_jobs):
    from concurrent.futures import ProcessPoolExecutor

    ctx = _pool_context()
    stop = ctx.Event()
    pool = ProcessPoolExecutor(max_workers=min(n_jobs, len(jobs)), mp_context=ctx,
                               initializer=_worker_init, initargs=(stop,))
    try:
        yield from _iter_futures(pool, jobs, rows, stop)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _iter_futures(executor, jobs, rows, stop=None):
    """Submit every job to ``executor`` and yield rows as they complete."""
    from concurrent.futures import FIRST_COMPLETED, wait

    futures = {}
    try:
        futures = {executor.submit(process_file, job): i for i, job in enumerate(jobs)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = futures[fut]
                rows[i] = _future_row(fut, jobs[i])
                yield i, rows[i]
    except KeyboardInterrupt:
        if stop is not None:
            stop.set()  # running solvers return at their next iteration and write nothing
        for fut in futures:
            fut.cancel()
        for fut, i in futures.items():
            if rows[i] is None and not fut.cancelled():
                with contextlib.suppress(Exception):
                    rows[i] = fut.result()
        raise


def _pool_context():
    """Workers start from a clean process, never a fork of this one (Numba's thread pool is not fork-safe).

    Where the platform has it, a fork server that has already imported deblur
    hands out the workers, so each one skips the imports; elsewhere, spawn.
    """
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["deblur.batch", "deblur.api"])
        return ctx
    return multiprocessing.get_context("spawn")


def _future_row(fut, job):
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - a worker that died (out of memory, say) fails its file only
        return Row(file=job.label or job.input, status="failed", error=f"worker failed: {_error_text(exc)}")


def find_images(folder, *, patterns, recursive=False, exclude=None):
    """Image files under ``folder`` matching any of ``patterns`` (case-insensitive globs), sorted.

    ``exclude``: a folder whose contents are skipped (the output folder, when it lies inside).
    """
    import fnmatch

    folder = os.path.abspath(folder)
    exclude = os.path.abspath(exclude) if exclude else None
    patterns = [p.lower() for p in patterns]
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and os.path.join(root, d) != exclude)
        for name in files:
            if name.startswith("."):
                continue
            if any(fnmatch.fnmatchcase(name.lower(), p) for p in patterns):
                found.append(os.path.join(root, name))
        if not recursive:
            break
    return sorted(found)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_table(rows, *, max_error=60):
    """The summary as an aligned text table."""
    header = list(SUMMARY_COLUMNS)
    body = []
    for row in rows:
        cells = [_cell(v) for v in row.as_dict().values()]
        if len(cells[-1]) > max_error:
            cells[-1] = cells[-1][: max_error - 3] + "..."
        body.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    return "\n".join(lines)


def write_summary(path, rows, *, overwrite=True):
    """Write the summary table as CSV or JSON (by extension), atomically."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == ".json":
        text = json.dumps([_json_safe(r.as_dict()) for r in rows], indent=1)
    else:
        buf = _io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(SUMMARY_COLUMNS)
        for r in rows:
            writer.writerow([_cell(v) for v in r.as_dict().values()])
        text = buf.getvalue()
    _write_text(path, text, overwrite)


def options_from_dict(values):
    """A :class:`RestoreOptions` from a dict, ignoring keys it does not have."""
    names = {f.name for f in fields(RestoreOptions)}
    return RestoreOptions(**{k: v for k, v in values.items() if k in names})


def options_to_dict(options):
    return asdict(options)
