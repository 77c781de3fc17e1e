"""The command line's options, generated from the schemas: one flag per field, written nowhere else.

Solver flags come from :class:`deblur.options.SolveOptions`, file and colour
flags from :class:`deblur.pipeline.RestoreOptions` (each field's
``metadata``: its flag, what it accepts, its help). A solver flag left out
keeps the schema's default, which ``--help`` shows. Here too: the parameter
types (``--psf``, ``--weight``, ``--memory-budget``) and what a missing
``--psf`` means.
"""

from dataclasses import fields

import click

from ..options import SolveOptions
from .common import err

# Forms of --psf, for help and errors (kept in step with deblur.psf.KINDS; no heavy import for --help).
PSF_FORMS = (
    "gaussian:sigma=2, disk:radius=3, motion:length=15,angle=30, box:size=5, "
    "or a kernel file (.npy, .png, .tif, .csv)"
)

# What a missing --psf means: estimate the kernel from the image (blind
# deconvolution); _resolve_psf says so in one line.
PSF_DEFAULT = None
PSF_WHEN_MISSING = "estimate"

# The fields of deblur.pipeline.RestoreOptions, by flag group (the schema itself imports numpy, not needed for --help).
COLOUR_FIELDS = ("color", "linear")
FILE_FIELDS = ("quality", "overwrite", "max_pixels")


def parsed_kernel(ctx, spec):
    """The kernel :class:`PsfSpec` parsed from ``spec`` for this command (None for 'estimate')."""
    return ctx.meta.get(_KERNELS, {}).get(spec)


_KERNELS = "deblur.kernels"


class PsfSpec(click.ParamType):
    """A PSF spec string or kernel file, parsed once, here: passed on as text, the kernel kept for the command
    (:func:`parsed_kernel`)."""

    name = "SPEC"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        from .. import psf as _psf

        if _psf.is_estimate(value):
            from ..blind import parse_spec

            try:
                parse_spec(value)
            except ValueError as exc:
                self.fail(f"{value!r}: {exc} (write estimate or estimate:size=N, N in pixels)", param, ctx)
            return value.strip()
        try:
            kernel = _psf.parse(value)
        except (ValueError, TypeError) as exc:
            import os

            # the forms help a mistyped spec, not a kernel file that is there but unusable
            forms = "" if "gaussian:sigma" in str(exc) or os.path.isfile(value) else f"\nForms: {PSF_FORMS}"
            self.fail(f"{exc}{forms}", param, ctx)
        if ctx is not None:
            ctx.meta.setdefault(_KERNELS, {})[value] = kernel
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
            err(
                "No --psf given: estimating the blur from the image (--psf estimate); "
                "give --psf SPEC if you know it."
            )
        return PSF_WHEN_MISSING
    return value


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
    """The defaults of :func:`deblur.solve`, by name, from the schema (no engine import)."""
    return {f.name: f.default for f in fields(SolveOptions)}


def _param_type(meta):
    """The click type of a schema field, from its ``kind`` and bounds."""
    kind = meta["kind"]
    if kind == "choice":
        return click.Choice(meta["choices"])
    if kind == "weight":
        return Weight()
    bounds = {"min": meta.get("min"), "max": meta.get("max")}
    if kind == "float":
        return click.FloatRange(**bounds, min_open=meta.get("min_open", False))
    return click.IntRange(**bounds)


class SolverOption(click.Option):
    """A solver flag: not given, it keeps the schema's default, which ``--help`` shows."""

    def __init__(self, *args, default_shown=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_shown = default_shown

    def get_help_record(self, ctx):
        record = super().get_help_record(ctx)
        if record is None or self.default_shown is None:
            return record
        names, text = record
        return names, f"{text}  [default: {self.default_shown}]".strip()


def _option(field, solver):
    """The click option of one schema field (its destination is the field's name)."""
    meta = field.metadata
    kwargs = {"help": meta["help"]}
    if meta.get("metavar"):
        kwargs["metavar"] = meta["metavar"]
    if meta["kind"] == "flag" and solver:  # --float64: one value of a choice
        return click.option(meta["flag"], field.name, flag_value=meta["flag_value"], default=None, **kwargs)
    if meta["kind"] == "flag":
        return click.option(meta["flag"], field.name, is_flag=True, **kwargs)
    if meta["kind"] == "switch":
        return click.option(meta["flag"], field.name, default=field.default, show_default=True, **kwargs)
    if solver:
        shown = field.default if field.default is not None else None
        return click.option(meta["flag"], field.name, cls=SolverOption, type=_param_type(meta), default=None,
                            default_shown=shown, **kwargs)
    return click.option(meta["flag"], field.name, type=_param_type(meta), default=field.default,
                        show_default=bool(meta.get("show_default")), **kwargs)


def _restore_fields(names):
    from ..pipeline import RestoreOptions

    by_name = {f.name: f for f in fields(RestoreOptions)}
    return [by_name[n] for n in names]


solver_options = _stack(*(_option(f, solver=True) for f in fields(SolveOptions) if f.metadata["flag"]))


def _lazy_stack(names, *extra):
    """Decorators for the RestoreOptions fields ``names`` (imported when a command is defined)."""
    def apply(f):
        return _stack(*(_option(field, solver=False) for field in _restore_fields(names)), *extra)(f)

    return apply


color_options = _lazy_stack(COLOUR_FIELDS)
file_options = _lazy_stack(FILE_FIELDS, click.option("-q", "--quiet", is_flag=True,
                                                     help="No progress bar or notes; errors only."))


class MemoryBudget(click.ParamType):
    """A size (2GB, 512MiB, bytes), 'auto' or 'none'; an explicit size needs Dask (deblur[dask])."""

    name = "SIZE"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        if word in ("auto", "none"):
            return None if word == "none" else word
        from .. import memory

        try:
            size = memory.parse_size(value)
            memory.require_dask("--memory-budget (a tiled restore)")
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
    from ..memory import DaskMissing, require_dask

    try:
        require_dask(f"--scheduler {value}", distributed=True)
    except DaskMissing as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    return value


def restore_options(ctx, kw):
    """The :class:`~deblur.pipeline.RestoreOptions` of a command's parsed flags: the schemas' fields by name."""
    from .. import io
    from ..pipeline import RestoreOptions

    io.allow_pixels(kw["max_pixels"])  # once, for this process; deblur's reader applies the limit
    solve = {f.name: kw[f.name] for f in fields(SolveOptions) if f.metadata["flag"] and kw.get(f.name) is not None}
    files = {f.name: kw[f.name] for f in _restore_fields(COLOUR_FIELDS + FILE_FIELDS)}
    psf = _resolve_psf(ctx, kw["psf"])
    return RestoreOptions(psf=psf, kernel=parsed_kernel(ctx, psf), solve=SolveOptions(**solve),
                          memory_budget=kw.get("memory_budget"), **files)
