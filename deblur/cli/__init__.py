"""The ``deblur`` command line: a thin click layer over :mod:`deblur.pipeline` and :mod:`deblur.batch`.

One module per command (:mod:`.restore`, :mod:`.batch`, :mod:`.psf`,
:mod:`.blur`); their options are generated from the option schemas
(:mod:`.options`), exit codes follow the error classes (:mod:`.common`),
and what a restore says while and after it runs is :mod:`.progress`.
Commands parse, call the library, and report. Everything heavy (NumPy work,
Numba kernels, matplotlib) is imported inside the commands, so
``deblur --help`` answers at once. Only this package imports click.
"""

import signal
import threading

import click

from .. import __version__
from . import batch, blur, common, psf, restore
from .common import CONTEXT, Failure, Group, Interrupted, announce_compilation
from .options import PSF_WHEN_MISSING, _resolve_psf, library_defaults
from .progress import IterationProgress, backoff_report

__all__ = ["main", "IterationProgress", "backoff_report", "library_defaults", "Failure", "Interrupted", "PSF_WHEN_MISSING",
           "_resolve_psf"]

# the names the command line had when it was one module
_announce_compilation = announce_compilation


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
    common._signal_received["name"] = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, common._on_sigterm)
        ctx.call_on_close(lambda: signal.signal(signal.SIGTERM, previous))


for command in (restore.restore, batch.batch, psf.psf_command, blur.blur):
    main.add_command(command)
