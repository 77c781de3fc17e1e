"""Memory: sizes in words (``'2GB'``, ``'512MiB'``), what is free now, the budget of one restore.

Also :func:`require_dask`, which says what to install when a tiled restore
or a cluster is asked for without Dask. Nothing heavy is imported here: the
command line reads ``--memory-budget`` with it.
"""

import math
import numbers
import os

from .errors import ArgumentError, DaskMissing

__all__ = ["parse_size", "format_size", "available_memory", "resolve_budget", "require_dask", "AUTO_SHARE",
           "INSTALL_HINT"]

# 'auto' budget: this share of the memory available when a file starts.
AUTO_SHARE = 0.75

INSTALL_HINT = "pip install 'deblur[dask]'"


def require_dask(what="a tiled restore", distributed=False):
    """Import dask.array (and distributed); raise :class:`DaskMissing` naming the extra otherwise."""
    try:
        import dask.array  # noqa: F401

        if distributed:
            import distributed as _distributed  # noqa: F401
    except ImportError as exc:
        raise DaskMissing(
            f"{what} needs Dask, which is not installed ({exc}); install it with: {INSTALL_HINT}"
        ) from None


_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(text):
    """``'2GB'``, ``'512MiB'``, ``'1.5g'``, ``'100000000'`` -> bytes (int).

    Decimal units (kB, MB, GB, TB; also k, m, g, t) and binary ones (KiB, MiB,
    GiB, TiB), case-insensitive.
    """
    if isinstance(text, numbers.Integral) and not isinstance(text, bool):
        value = int(text)
    else:
        s = str(text).strip().lower().replace(" ", "")
        number = s.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = s[len(number):]
        if unit not in _UNITS or not number:
            raise ArgumentError(f"{text!r} is not a size; write e.g. 2GB, 512MiB or 4000000000 (bytes)")
        try:
            value = float(number) * _UNITS[unit]
        except ValueError:
            raise ArgumentError(f"{text!r} is not a size; write e.g. 2GB, 512MiB or 4000000000 (bytes)") from None
        if not math.isfinite(value):
            raise ArgumentError(f"{text!r} is not a finite size")
        value = int(value)
    if value <= 0:
        raise ArgumentError(f"a memory budget must be positive, got {text!r}")
    return value


def format_size(n):
    """Bytes in words: ``'1.9 GiB'``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def available_memory():
    """Bytes of memory available to a new allocation now (None when unknown)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def resolve_budget(budget, share=1):
    """A budget in bytes, or None for none: ``'auto'`` is :data:`AUTO_SHARE` of the available
    memory, divided among ``share`` concurrent restores."""
    if budget is None:
        return None
    if isinstance(budget, str) and budget.strip().lower() == "auto":
        avail = available_memory()
        return None if avail is None else max(1, int(AUTO_SHARE * avail / max(1, share)))
    if isinstance(budget, str) and budget.strip().lower() in ("none", "off", "0"):
        return None
    return parse_size(budget)
