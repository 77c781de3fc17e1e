"""``deblur restore``: one image file, through :func:`deblur.pipeline.restore_file`."""

import os

import click

from .common import (
    CONTEXT,
    HISTORY_EXTENSIONS,
    PLOT_EXTENSIONS,
    REPORT_EXTENSIONS,
    Interrupted,
    announce_compilation,
    check_ext,
    check_outputs,
    default_output,
    err,
    interactive,
)
from .options import (
    color_options,
    file_options,
    memory_option,
    psf_option,
    restore_options,
    solver_options,
)
from .progress import IterationProgress, report_outcome, write_report


@click.command(context_settings=CONTEXT)
@click.argument("input", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Output image [default: INPUT's name with .deblurred before the extension; .png for a GIF].")
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
    from .. import io as imio
    from .. import pipeline

    options = restore_options(ctx, kw)
    output = output or default_output(input)
    check_ext("'-o' / '--output'", output, imio.IMAGE_EXTENSIONS)
    if plot:
        check_ext("'--plot'", plot, PLOT_EXTENSIONS)
    if history:
        check_ext("'--history'", history, HISTORY_EXTENSIONS)
    if compare:
        check_ext("'--compare'", compare, imio.IMAGE_EXTENSIONS)
    if save_psf:
        check_ext("'--save-psf'", save_psf, imio.KERNEL_EXTENSIONS)
    if report:
        check_ext("'--report'", report, REPORT_EXTENSIONS)
    if os.path.abspath(output) == os.path.abspath(input) and not options.overwrite:
        raise click.UsageError(f"the output would replace the input {input}; give -o, or pass --overwrite")
    check_outputs([("'-o' / '--output'", output), ("'--plot'", plot), ("'--history'", history),
                    ("'--compare'", compare), ("'--save-psf'", save_psf), ("'--report'", report)],
                   options.overwrite)

    job = pipeline.FileJob(input=input, output=output, options=options, reference=reference,
                         plot=plot, history=history, compare=compare, save_psf=save_psf, report=report)
    announce_compilation(quiet)
    progress = IterationProgress(options.solve.max_num_iter, enabled=interactive(quiet))
    try:
        outcome = pipeline.restore_file(job, callback=progress, on_start=progress.start,
                                      on_note=None if quiet else lambda text: err(f"note: {text}"))
    except KeyboardInterrupt:
        raise Interrupted("interrupted: nothing was written") from None
    finally:
        progress.close()
    if report:
        write_report(report, [outcome.row], options, f"deblur restore {os.path.basename(input)}",
                      outcome.row.seconds, reference=reference)
    report_outcome(outcome, options, input, output, quiet,
            extras=[p for p in (plot, history, compare, save_psf, report) if p])
