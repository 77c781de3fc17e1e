"""``deblur blur``: make test input, a sharp image blurred (and noise added) by :mod:`deblur.simulate`."""

import click

from ..simulate import BOUNDARIES
from .common import CONTEXT, check_ext, check_outputs, err
from .options import FILE_FIELDS, PSF_FORMS, PsfSpec, _lazy_stack, parsed_kernel

_file_options = _lazy_stack(FILE_FIELDS)  # --quality, --overwrite, --max-pixels, as restore has them


@click.command(context_settings=CONTEXT)
@click.argument("sharp", type=click.Path(exists=True, dir_okay=False))
@click.option("--psf", type=PsfSpec(), required=True, help=f"The blur: {PSF_FORMS}.")
@click.option("--noise", type=click.FloatRange(min=0), default=0.0, show_default=True, metavar="SIGMA",
              help="Gaussian noise standard deviation, in units of the full range (0.01 = 1 %).")
@click.option("--seed", type=int, default=None, help="Seed of the noise.")
@click.option("--boundary", type=click.Choice(BOUNDARIES), default="reflect",
              show_default=True, help="Border handling; 'valid' returns the smaller fully-blurred part.")
@click.option("--linear/--no-linear", default=False, show_default=True, help="Blur in linear light.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Blurred image to write.")
@_file_options
def blur(sharp, psf, noise, seed, boundary, linear, output, quality, overwrite, max_pixels):
    """Blur a sharp image (and add noise): test input for 'deblur restore'.

    \b
    deblur blur sharp.png --psf gaussian:sigma=2 --noise 0.01 --seed 1 -o blurry.png
    """
    from .. import io as imio
    from .. import psf as _psf
    from ..simulate import blur_pixels, valid_crop

    if _psf.is_estimate(psf):
        raise click.BadParameter(f"'blur' needs a kernel, not {psf!r}; give a PSF form: {PSF_FORMS}",
                                 param_hint="'--psf'")
    check_ext("'-o' / '--output'", output, imio.IMAGE_EXTENSIONS)
    check_outputs([("'-o' / '--output'", output)], overwrite)
    imio.allow_pixels(max_pixels)
    data = imio.read_image(sharp, max_pixels=max_pixels)
    kernel = parsed_kernel(click.get_current_context(), psf)
    blurred = blur_pixels(data.pixels, kernel, noise=noise, seed=seed, boundary=boundary, linear=linear)
    alpha = data.alpha
    if boundary == "valid" and alpha is not None:
        alpha = valid_crop(alpha, kernel.shape)
    out = imio.ImageData(blurred, alpha, data.format, data.mode, data.exif, data.icc_profile, data.dpi)
    notes = imio.write_image(output, out, quality=quality, overwrite=overwrite)
    for note in data.notes + notes:
        err(f"note: {note}")
    click.echo(f"{sharp} blurred with {psf}" + (f", noise {noise:g}" if noise else "") + f" -> {output}")
