"""What every command shares: exit codes by error class, signals, output checks, notes on stderr.

Exit codes: 0 success, 1 failure (unreadable image, unwritable folder, a
batch with failed files), 2 usage error (bad option, missing input, unknown
PSF, output exists), 130 interrupted by Ctrl-C, 143 stopped by SIGTERM (a
job scheduler, ``kill``): both stop cleanly, with nothing half-written.
They follow the classes of :mod:`deblur.errors`; any other exception is a
bug in deblur, reported as one (exit 1, the traceback saved to a file).
"""

import os
import signal
import sys

import click

from .. import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

PLOT_EXTENSIONS = (".png", ".pdf", ".svg")
HISTORY_EXTENSIONS = (".json", ".csv")
REPORT_EXTENSIONS = (".html", ".htm")


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


def click_error(exc):
    """The click exception that reports one of deblur's errors with its exit code."""
    from ..errors import UsageError

    if isinstance(exc, UsageError):
        return click.UsageError(str(exc))
    return Failure(str(exc))


class Group(click.Group):
    """The ``deblur`` group: errors of :mod:`deblur.errors` get their exit code, others a bug report."""

    def invoke(self, ctx):
        from ..errors import DeblurError

        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except DeblurError as exc:
            raise click_error(exc) from None
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


def err(message):
    click.echo(message, err=True)


def interactive(quiet):
    return not quiet and sys.stderr.isatty()


def _kernels_cached():
    """Best effort: has Numba cached deblur's kernels since their source last changed?

    Numba keeps an index file (``_kernels.*.nbi``) per kernel beside the
    source, or in ``$NUMBA_CACHE_DIR``, or in the user's cache when the
    package folder is read-only; an index older than the source is stale.
    """
    import glob

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the deblur package
    if os.environ.get("NUMBA_CACHE_DIR"):  # Numba then looks nowhere else
        places = [os.environ["NUMBA_CACHE_DIR"]]
    else:
        places = [os.path.join(here, "__pycache__"), os.path.join(os.path.expanduser("~"), ".cache", "numba")]
    sources = glob.glob(os.path.join(here, "_kernels*.py"))  # the loops live in _kernels_*.py
    source_time = max((os.path.getmtime(f) for f in sources), default=0.0)
    for place in places:
        stamps = [os.path.getmtime(f) for f in glob.glob(os.path.join(place, "**", "_kernels*.nbi"), recursive=True)]
        if stamps and max(stamps) >= source_time:
            return True
    return False


def announce_compilation(quiet):
    if os.environ.get("NUMBA_DISABLE_JIT") == "1" or _kernels_cached():
        return False
    if not quiet:
        err("Compiling deblur's numerical kernels: once only, about half a minute; "
             "later runs load them from the cache.")
    return True


def default_output(path):
    """``photo.deblurred.jpg`` for ``photo.jpg``; a format deblur reads but does not write (GIF) gets ``.png``."""
    from ..io import IMAGE_EXTENSIONS

    stem, ext = os.path.splitext(path)
    return f"{stem}.deblurred{ext if ext.lower() in IMAGE_EXTENSIONS else '.png'}"


def check_ext(param, path, allowed):
    ext = os.path.splitext(path)[1].lower()
    if ext not in allowed:
        raise click.BadParameter(
            f"{path!r} has extension {ext or '(none)'!r}; use one of {', '.join(allowed)}", param_hint=param
        )


def check_outputs(pairs, overwrite):
    """Refuse early (before any work) when an output exists or its folder cannot take it."""
    from .. import io as imio

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
        except imio.ImageFileError as exc:  # and OutputExistsError: as the group reports them
            raise click_error(exc) from None
