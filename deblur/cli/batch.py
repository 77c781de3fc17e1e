"""``deblur batch``: every image of a folder, here, in a process pool or on a Dask cluster."""

import contextlib
import os
import sys
import time

import click

from .common import (
    CONTEXT,
    Failure,
    Interrupted,
    announce_compilation,
    check_ext,
    err,
    interactive,
)
from .options import (
    _check_scheduler,
    color_options,
    file_options,
    memory_option,
    psf_option,
    restore_options,
    solver_options,
)
from .progress import write_report

REPORT_NAME = "report.html"  # deblur batch --report: OUTPUT_DIR/report.html, pictures in OUTPUT_DIR/report_files/
DEFAULT_PATTERNS = "*.png,*.jpg,*.jpeg,*.tif,*.tiff,*.bmp,*.webp"


def _output_file(out_dir, rel, unique_stem):
    """The restored image's path: the input's own name, or ``.png`` for a format deblur reads but does not write (GIF).

    ``a.gif`` beside an ``a.png`` becomes ``a.gif.png``, so the two outputs stay apart.
    """
    from ..io import IMAGE_EXTENSIONS

    if os.path.splitext(rel)[1].lower() in IMAGE_EXTENSIONS:
        return os.path.join(out_dir, rel)
    return _side_file(out_dir, rel, ".png", unique_stem)


def _side_file(out_dir, rel, suffix, unique_stem):
    stem, _ = os.path.splitext(rel)
    base = stem if unique_stem else rel
    return os.path.join(out_dir, base + suffix)


@click.command(context_settings=CONTEXT)
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
    from .. import batch as _batch

    started = time.monotonic()
    scheduler = kw.pop("scheduler")
    workers = _batch_workers(ctx, scheduler, jobs)
    options = restore_options(ctx, kw)
    if options.memory_budget == "auto" and workers:  # share this machine's memory among the files at once
        from dataclasses import replace

        from ..memory import resolve_budget

        options = replace(options, memory_budget=resolve_budget("auto", share=workers))
    in_abs, out_abs = os.path.abspath(input_dir), os.path.abspath(output_dir)
    if in_abs == out_abs:
        raise click.UsageError("OUTPUT_DIR must differ from INPUT_DIR, so no input is ever replaced")
    if skip_existing and options.overwrite:
        raise click.UsageError("--skip-existing and --overwrite contradict each other; choose one")
    if summary:
        check_ext("'--summary'", summary, (".csv", ".json"))
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
        out = _output_file(out_abs, rel, unique)
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
        announce_compilation(quiet)
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
        # a blind estimate not used leaves its photo as it was: not counted as restored
        left = sum(r.status == "ok" and r.stop_reason == "unchanged" for r in rows)
        ok = sum(r.status == "ok" for r in rows) - left
        skipped = sum(r.status == "skipped" for r in rows)
        click.echo(f"{ok} restored, " + (f"{left} left as they were (no usable blur estimate), " if left else "")
                   + f"{skipped} skipped, {len(failed)} failed; summary written to {summary}"
                   + (f"; report: {report}" if report else ""))
        for r in rows:
            for note in r.notes or ():
                err(f"note: {r.file}: {note}")
    if failed:
        lines = "\n".join(f"  {r.file}: {r.error}" for r in failed)
        raise Failure(f"{len(failed)} of {len(rows)} file(s) failed:\n{lines}")


def _batch_report(path, rows, options, input_dir, output_dir, started, reference_dir):
    write_report(path, sorted(rows, key=lambda r: r.file), options, f"deblur batch {input_dir} → {output_dir}",
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
    from .. import batch as _batch

    with _executor(scheduler if jobs_list else None, workers, quiet) as executor:
        rows = _batch.iter_rows(jobs_list, n_jobs=n_jobs, executor=executor)
        if not interactive(quiet):
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
    from .. import distributed as _dist

    try:
        with _dist.cluster_executor(scheduler, n_workers=workers) as executor:
            if not quiet:
                err(f"note: {_dist.describe(executor)}")
            yield executor
    except _dist.ClusterError as exc:
        raise Failure(str(exc)) from None  # at once: a cluster that fails mid-batch fails it
