"""``deblur psf``: a PSF rendered to a file, to look at or to reuse with ``--psf FILE``."""

import click

from .common import CONTEXT, check_ext, check_outputs
from .options import PSF_FORMS, PsfSpec, parsed_kernel


@click.command("psf", context_settings=CONTEXT)
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
    from .. import psf as _psf

    if _psf.is_estimate(spec):
        raise click.BadParameter(f"{spec!r} is not a kernel: estimating one needs an image "
                                 f"(deblur restore IMAGE --psf {spec} --save-psf FILE); give a PSF form: {PSF_FORMS}",
                                 param_hint="SPEC")
    check_ext("'-o' / '--output'", output, (".png", ".tif", ".tiff", ".npy", ".csv"))
    check_outputs([("'-o' / '--output'", output)], overwrite)
    kernel = parsed_kernel(click.get_current_context(), spec)
    _psf.save(output, kernel, overwrite=overwrite)
    taps = int((kernel > 0).sum())
    click.echo(f"{spec}: {kernel.shape[1]}x{kernel.shape[0]} kernel, {taps} non-zero taps -> {output}")
