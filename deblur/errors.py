"""The exceptions and warnings of deblur, in one place.

Every error deblur raises on purpose derives from :class:`DeblurError`; the
command line maps each family to an exit code, and anything else that
escapes is a bug in deblur, reported as one. The two families:

- :class:`UsageError`: the caller's mistake (a bad option or argument,
  inputs that do not fit together, an output that exists). Fix the call.
  The command line exits with 2.
- any other :class:`DeblurError`: the work could not be done (an
  unreadable file, a full disk, an unreachable cluster). Exit code 1.

The classes also derive from the built-in exception a caller would have
caught before this module existed (``ValueError``, ``TypeError``,
``FileExistsError``, ``ImportError``, ``RuntimeError``), so ``except
ValueError`` keeps working.

Interruptions are not errors: :class:`~deblur.batch.BatchInterrupted` is a
``KeyboardInterrupt``, so that ``except Exception`` never swallows a Ctrl-C.

This module imports nothing, so that every layer may raise these.
"""

__all__ = [
    "DeblurError",
    "UsageError",
    "ArgumentError",
    "ArgumentTypeError",
    "InputError",
    "OutputExistsError",
    "ImageFileError",
    "DaskMissing",
    "MemoryBudgetError",
    "ClusterError",
    "Interrupted",
    "DeblurWarning",
    "StepSizeWarning",
    "EXIT_FAILURE",
    "EXIT_USAGE",
    "exit_code",
]

EXIT_FAILURE = 1
EXIT_USAGE = 2


class DeblurError(Exception):
    """Base of the errors deblur raises on purpose; the message says what to do."""

    exit_code = EXIT_FAILURE


class UsageError(DeblurError):
    """The call was wrong: change the command or the arguments."""

    exit_code = EXIT_USAGE


class ArgumentError(UsageError, ValueError):
    """An argument or option has a value deblur cannot use."""


class ArgumentTypeError(UsageError, TypeError):
    """An argument has a type deblur cannot use (an image of complex numbers, say)."""


class InputError(UsageError, ValueError):
    """The inputs do not fit together (PSF larger than the image, reference of another size...)."""


class OutputExistsError(UsageError, FileExistsError):
    """The output file exists and ``overwrite`` was not given."""

    def __init__(self, path):
        import os

        self.path = os.fspath(path)
        super().__init__(f"{self.path} already exists; pass --overwrite to replace it, or choose another output name")


class ImageFileError(DeblurError, ValueError):
    """An image file could not be read or written; the message says why and what to do."""


class DaskMissing(UsageError, ImportError, ValueError):
    """Dask (or dask.distributed) is needed and not installed.

    A usage error: an option that needs an extra was asked for.
    """


class MemoryBudgetError(UsageError, ValueError):
    """The memory budget cannot hold even the image and the smallest tile."""


class ClusterError(DeblurError, RuntimeError):
    """The Dask cluster could not be reached, or its workers cannot run this deblur."""


class Interrupted(DeblurError):
    """A stop was requested while a file was being processed; nothing was written for it."""


class DeblurWarning(UserWarning):
    """Base of the warnings deblur issues."""


class StepSizeWarning(DeblurWarning):
    """An explicit step size is above the stability limit 2/L of gradient descent."""


def exit_code(exc):
    """The command line's exit code for ``exc``; None for an exception deblur did not mean to raise (a bug)."""
    return exc.exit_code if isinstance(exc, DeblurError) else None
