"""Atomic, no-clobber file writes: a file appears whole under its name, or not at all.

A file is written to a temporary name in its destination folder and renamed
into place, so an error or Ctrl-C never leaves a partial file, and an
existing file is never replaced unless ``overwrite=True``. Every writer of
deblur (images, kernels, histories, plots, summaries, reports) goes
through :func:`atomic_write`.
"""

import contextlib
import os
import tempfile

from .errors import ImageFileError, OutputExistsError

__all__ = ["atomic_write", "check_output"]


def check_output(path, *, overwrite=False):
    """Fail early, before any work, if ``path`` cannot be written.

    Raises OutputExistsError when it exists (and not ``overwrite``), and
    ImageFileError when its folder is missing or not writable.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ImageFileError(f"{path} is a folder; give a file name for the output")
    if os.path.lexists(path) and not overwrite:
        raise OutputExistsError(path)
    if not os.path.isdir(folder):
        raise ImageFileError(f"cannot write {path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ImageFileError(f"cannot write {path}: no permission to write in {folder}; choose another output folder")


def _read_umask():
    """The process's umask, read without changing it where Linux tells it (``/proc/self/status``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


# Elsewhere the only way to read the umask is to set it; that is done once,
# here, while the module is imported, never while files are being written.
_UMASK_AT_IMPORT = _read_umask()
if _UMASK_AT_IMPORT is None:
    _UMASK_AT_IMPORT = os.umask(0o022)
    os.umask(_UMASK_AT_IMPORT)


def _file_mode():
    """Permissions of a new file, as ``open()`` would give it: 0o666 less the umask."""
    umask = _read_umask()
    return 0o666 & ~(_UMASK_AT_IMPORT if umask is None else umask)


def atomic_write(path, write, *, overwrite=False):
    """Write a file through a temporary file in the same folder, then rename it into place.

    Parameters
    ----------
    path : str or path-like
        Destination.
    write : callable
        ``write(fh)`` writes the content into the binary file object ``fh``.
    overwrite : bool
        Replace an existing ``path``. Without it an existing file is never
        touched, even if it appears while we write (a hard link claims the
        name atomically).

    If ``write`` raises - or the process is interrupted - the temporary file
    is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not overwrite and os.path.lexists(path):
        raise OutputExistsError(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".part")
    except FileNotFoundError:
        raise ImageFileError(f"cannot write {path}: the folder {folder} does not exist; create it first") from None
    except (PermissionError, NotADirectoryError, OSError) as exc:
        raise ImageFileError(f"cannot write {path}: {exc.strerror or exc}; choose another output folder") from None
    try:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.chmod(tmp, _file_mode())
        try:
            with open(tmp, "wb") as fh:  # by name: some writers (tifffile) want fh.name to be a path
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:  # disk full, quota, I/O error: the reason in words, no traceback
            raise ImageFileError(f"could not write {path}: {exc.strerror or exc}") from exc
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the name was taken meanwhile: never clobbers
            except FileExistsError:
                raise OutputExistsError(path) from None
            except OSError:  # a file system without hard links
                if os.path.lexists(path):
                    raise OutputExistsError(path) from None
                os.replace(tmp, path)
            else:
                os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
