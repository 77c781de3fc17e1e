"""Shared pieces of the blind-estimation benchmarks (``blind_*.py``).

- data location (``--data``, default ``<repo>/../shared/data``; never copied into the repository),
- image and kernel loading,
- the error ratio of Levin et al. (2009): SSD of a restore at the best integer
  shift, away from the border,
- the restore every kernel goes through (``deblur.restore`` with ``boundary='valid'``
  and otherwise default options, so the tables compare kernels, not restores),
- table printing and peak normalised cross-correlation of two kernels.
"""

import json
import os
import sys
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import deblur  # noqa: E402
from deblur.blind import estimate  # noqa: E402

__all__ = [
    "REPO_ROOT",
    "default_data_dir",
    "load_gray",
    "load_rgb",
    "restore",
    "RESTORES",
    "ssd_best_shift",
    "ratio_stats",
    "print_table",
    "peak_ncc",
    "timed_estimate",
    "parse_options",
    "write_json",
    "blind_solve",
    "record_fields",
    "options_key",
]


def default_data_dir():
    return os.path.normpath(os.path.join(REPO_ROOT, "..", "shared", "data"))


def load_gray(path):
    """An 8/16-bit image file as float64 gray in [0, 1]."""
    from PIL import Image

    with Image.open(path) as im:
        if im.mode in ("I;16", "I"):
            return np.asarray(im, dtype=np.float64) / 65535.0
        return np.asarray(im.convert("L"), dtype=np.float64) / 255.0


def load_rgb(path):
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0


# The non-blind restores a benchmark may run every kernel through (``--restore``):
# "l2": the simple gradient-L2 restore the reference numbers use (Pan 2016
#       at 100 % <= 3, median ~1.2 on Levin);
# "default": the engine's defaults (hyper-Laplacian prior, automatic weight) --
#       a sharper restore with the true kernel, so every method's ratio grows.
# "path": what ``deblur.restore(y, psf='estimate')`` does with a kernel: the defaults, clipped
#       highlights censored (``clipped='ignore'``); the true kernel's reference is the plain default.
RESTORES = {
    "l2": dict(regularizer="tikhonov", weight=0.01),
    "default": dict(),
    "path": dict(clipped="ignore"),
}


def restore(blurred, kernel, protocol="l2", **options):
    """The non-blind restore all kernels share: ``deblur.restore`` with ``boundary='valid'``."""
    kernel = np.maximum(np.asarray(kernel, dtype=np.float64), 0.0)
    kernel /= kernel.sum()
    opts = dict(RESTORES[protocol])
    opts.update(options)
    opts.setdefault("boundary", "valid")
    return deblur.restore(blurred, kernel, **opts)


def ssd_best_shift(estimate_image, sharp, border=20, max_shift=15):
    """SSD between a restore and the sharp image at the best integer shift, ``border`` px from the edges.

    An estimated kernel is defined up to a translation, so its restore is a shifted
    copy of the sharp image; the search covers ``|dy|, |dx| <= max_shift``.
    """
    h, w = sharp.shape
    b = max(border, max_shift)
    ref = sharp[b : h - b, b : w - b]
    best = np.inf
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            cut = estimate_image[b + dy : h - b + dy, b + dx : w - b + dx]
            d = cut - ref
            best = min(best, float(np.einsum("ij,ij->", d, d)))
    return best


def ratio_stats(ratios):
    r = np.asarray([v for v in ratios if np.isfinite(v)], dtype=np.float64)
    n_all = len(ratios)
    if r.size == 0:
        return dict(n=0, le2=np.nan, le3=np.nan, le5=np.nan, median=np.nan, worst=np.nan)
    return dict(
        n=int(r.size),
        le2=float((r <= 2).sum() / n_all),
        le3=float((r <= 3).sum() / n_all),
        le5=float((r <= 5).sum() / n_all),
        median=float(np.median(r)),
        worst=float(r.max()),
    )


def print_table(rows, columns, title=None, file=None):
    """Print ``rows`` (list of dicts) as an aligned table with the given ``columns`` [(key, header, fmt)]."""
    file = file or sys.stdout
    cells = [[h for _, h, _ in columns]]
    for row in rows:
        line = []
        for key, _, fmt in columns:
            v = row.get(key, "")
            if isinstance(v, float) and not np.isfinite(v):
                line.append("-")
            elif isinstance(v, (int, float)) and fmt:
                line.append(format(v, fmt))
            else:
                line.append(str(v))
        cells.append(line)
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    if title:
        print(title, file=file)
    for i, line in enumerate(cells):
        print("  ".join(s.ljust(wd) if j == 0 else s.rjust(wd) for j, (s, wd) in enumerate(zip(line, widths))), file=file)
        if i == 0:
            print("  ".join("-" * wd for wd in widths), file=file)
    file.flush()


def peak_ncc(a, b):
    """Peak normalised cross-correlation of two kernels over all relative shifts, both orientations.

    Returns ``(peak, flipped)``: the best correlation and whether it was reached
    with ``b`` rotated by 180 degrees (orientation is unknown for released kernels).
    """
    from deblur.blind.agreement import peak_correlation

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    straight, flipped = peak_correlation(a, b), peak_correlation(a, b[::-1, ::-1])
    return (flipped, True) if flipped > straight else (straight, False)


def timed_estimate(image, size=None, **options):
    """``deblur.blind.estimate`` with its wall and CPU time."""
    t0, c0 = time.perf_counter(), time.process_time()
    kernel, record = estimate(image, size=size, **options)
    return kernel, record, time.perf_counter() - t0, time.process_time() - c0


def parse_options(items):
    """``['iterations=8', 'starts=horizontal']`` (``--option``) -> estimation options, typed as in BlindOptions."""
    defaults = deblur.blind.BlindOptions()
    options = {}
    for item in items:
        key, _, value = item.partition("=")
        if not hasattr(defaults, key):
            raise SystemExit(f"unknown estimation option {key!r}; see deblur.blind.BlindOptions")
        kind = type(getattr(defaults, key))
        options[key] = value == "True" if kind is bool else kind(value)
    return options


def write_json(path, doc):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, default=float)


def blind_solve(image, channel_axis=None, size=None, cache=None, **options):
    """``deblur.solve(image, 'estimate', channel_axis=...)`` -- the user's blind path -- with its wall time.

    Returns ``(result, seconds)``; ``result.psf`` is the kernel used and
    ``result.psf_estimation`` the estimation's record. ``size`` becomes
    ``'estimate:size=N'``. ``solve`` takes no estimation options, so when
    ``options`` (``--option NAME=VALUE``, see :func:`parse_options`) are given,
    ``deblur.blind.estimate`` -- what ``solve`` calls for ``'estimate'`` -- is
    wrapped for the duration of the call to receive them; if ``solve`` did not
    go through it (the blind path changed), that is an error rather than
    options silently ignored.

    ``cache``: a file (pickle) for this photo's estimate, ``(kernel, record)``.
    When it exists, the estimation is not run: the restore gets the kernel and
    record read from it (the same restore, in a fraction of the time: for
    experiments on the restore side, in the tree that wrote it; one written
    with other ``options`` is an error). When it does not, the estimate is
    computed and written there.
    """
    import copy
    import functools
    import pickle

    from deblur import blind
    from deblur.atomic import atomic_write

    spec = "estimate" if size is None else f"estimate:size={int(size)}"
    t0 = time.perf_counter()
    if not options and cache is None:
        result = deblur.solve(image, spec, channel_axis=channel_axis)
        return result, time.perf_counter() - t0
    original = blind.estimate
    calls = []
    cached = None
    if cache is not None and os.path.exists(cache):
        with open(cache, "rb") as f:
            kernel, record, written_with = pickle.load(f)
        if written_with != options:
            raise RuntimeError(f"{cache} holds an estimate made with options {written_with or 'default'}, not {options or 'default'}")
        cached = kernel, record

    @functools.wraps(original)
    def wrapped(*args, **kwargs):
        calls.append(1)
        if cached is not None:
            return np.array(cached[0], copy=True), copy.deepcopy(cached[1])
        merged = dict(options)
        merged.update(kwargs)
        out = original(*args, **merged)
        if cache is not None:  # whole or not at all: an interrupted run leaves no truncated estimate to read back
            atomic_write(cache, lambda fh: pickle.dump((out[0], out[1], dict(options)), fh), overwrite=True)
        return out

    blind.estimate = wrapped
    try:
        result = deblur.solve(image, spec, channel_axis=channel_axis)
    finally:
        blind.estimate = original
    if not calls:
        raise RuntimeError("deblur.solve(..., 'estimate') no longer calls deblur.blind.estimate: --option cannot be passed, nor an estimate cached")
    return result, time.perf_counter() - t0


def record_fields(record):
    """The blind record's verdict as plain values: status, confidence, reason, message, elapsed, support, touches, starts, checks.

    ``confidence`` and ``reason`` are read with ``getattr`` (None / '' where the
    record has no such field), so the benchmarks run on records before and after
    they gain them.
    """
    if record is None:
        return dict(status="-", confidence=None, reason="", message="", est_elapsed=None, support=None, touches=None, starts=None,
                    flat_detail_gain=None, fit_residual=None, spectrum_gain=None, spectrum_gain_oriented=None)
    conf = getattr(record, "confidence", None)
    try:
        conf = None if conf is None else float(conf)
    except (TypeError, ValueError):
        conf = str(conf)
    return dict(
        status=str(getattr(record, "status", "-")),
        confidence=conf,
        reason=str(getattr(record, "reason", "") or ""),
        message=str(getattr(record, "message", "") or ""),
        est_elapsed=float(getattr(record, "elapsed", float("nan"))),
        support=getattr(record, "support", None),
        touches=getattr(record, "touches", None),
        # each start's final cost and support (the choice between near-tied starts is studied from these)
        starts=[dict(s) for s in getattr(record, "starts", None) or []] or None,
        # the restore's checks on itself (deblur.blind.harm); NaN where no restore ran
        flat_detail_gain=float(getattr(record, "flat_detail_gain", float("nan"))),
        fit_residual=float(getattr(record, "fit_residual", float("nan"))),
        # the spectrum check (deblur.blind.spectrum): one scene level, and one per orientation
        spectrum_gain=float(getattr(record, "spectrum_gain", float("nan"))),
        spectrum_gain_oriented=float(getattr(record, "spectrum_gain_oriented", float("nan"))),
    )


def options_key(options):
    """A short stable text for a set of estimation options ('default' when none), for cache keys and file names."""
    import hashlib

    if not options:
        return "default"
    text = ",".join(f"{k}={options[k]!r}" for k in sorted(options))
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def lai_attributes(root):
    """``{photo name: tags}`` from ``attributes.txt`` of Lai et al.'s real photos (empty when absent)."""
    attrs = {}
    path = os.path.join(root, "attributes.txt")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                if parts:
                    attrs[parts[0]] = " ".join(parts[1:])
    return attrs
