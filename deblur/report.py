"""The HTML report of a restore or a batch: one page to *see* what happened to each photo.

A report is ``report.html`` plus a side folder ``report_files/`` beside it
(thumbnails, enlarged kernels, convergence curves). It opens offline from
disk: no script, style or font is fetched from anywhere, every link is a
relative path.

The work is split where a batch splits it:

* :func:`file_entry` runs where the file was restored (a pool worker, a
  cluster node), right after :func:`deblur.pipeline.restore_file` wrote the
  output: it writes that file's thumbnails, kernel and curve into the side
  folder and returns a small JSON-safe dict, carried back in the file's
  :class:`~deblur.summary.Row` (``row.report``).
* :func:`write_report` runs once in the parent: it turns the rows into the
  page (:mod:`deblur._report_html`) and writes it atomically.

This module never imports click; matplotlib is not needed (the curve is a
small SVG written here).
"""

import hashlib
import math
import os
import re
import time

import numpy as np

from . import io as _imio
from .result import stop_words

__all__ = ["file_entry", "write_report", "assets_folder", "describe_options", "THUMB_SIDE", "STATUSES"]

THUMB_SIDE = 640  # longest side of a thumbnail, px: sharp on a laptop card (~420 CSS px) at 1.5x density
KERNEL_SIDE = 120  # an enlarged kernel is scaled up by a whole factor to about this many px
CURVE_POINTS = 160  # the convergence curve is thinned to at most this many points
BROWSER_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")  # click-through shows these as they are

# What a row's status means on the page: restored, left alone (and why), failed.
STATUSES = ("restored", "left alone", "failed")

CONVERGED = ("tol", "gtol")


def assets_folder(report_path):
    """The side folder of a report: ``report.html`` -> ``report_files`` beside it."""
    stem = os.path.splitext(os.path.abspath(os.fspath(report_path)))[0]
    return stem + "_files"


def _slug(label):
    """A file-name-safe, unique name for one input's assets."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.splitext(label)[0]).strip("._")[:40] or "image"
    return f"{stem}-{hashlib.sha1(label.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def _rgb8(pixels):
    """Any pixels the readers return (uint8/uint16/float, gray or RGB) as 8-bit for a browser."""
    x = _imio.to_float(np.asarray(pixels), np.float32)
    return _imio.from_float(np.clip(np.nan_to_num(x), 0.0, 1.0), np.uint8)


def _thumbnail(pixels, side):
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(_rgb8(pixels)))
    scale = min(1.0, side / max(im.size))
    if scale < 1.0:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
    return np.asarray(im)


def _write_picture(path, pixels, overwrite, fmt_quality=85):
    _imio.write_image(path, _imio.ImageData(pixels), quality=fmt_quality, overwrite=overwrite)
    return path


def _kernel_picture(kernel):
    """The kernel, peak white, scaled up by a whole factor (nearest) to about KERNEL_SIDE px."""
    k = np.asarray(kernel, dtype=np.float64)
    peak = k.max() if k.size and k.max() > 0 else 1.0
    k8 = _imio.from_float(np.clip(k / peak, 0.0, 1.0), np.uint8)
    factor = max(1, KERNEL_SIDE // max(k.shape))
    return np.kron(k8, np.ones((factor, factor), np.uint8))


def _finite(values):
    values = np.asarray(values, dtype=np.float64)
    return values[np.isfinite(values)]


def _curve_svg(history, events=()):
    """The cost per iteration (log scale), and PSNR when known, as a small self-contained SVG."""
    it = np.asarray(history["iteration"], dtype=np.float64)
    cost = np.asarray(history["cost"], dtype=np.float64)
    keep = np.isfinite(cost) & (cost > 0)
    if keep.sum() < 2:
        return None
    idx = np.flatnonzero(keep)
    if idx.size > CURVE_POINTS:
        idx = idx[np.unique(np.linspace(0, idx.size - 1, CURVE_POINTS).round().astype(int))]
    w, h, left, right, top, bottom = 320, 150, 46, 40, 12, 24
    x0, x1 = it[idx].min(), max(it[idx].max(), it[idx].min() + 1)

    def xs(v):
        return left + (v - x0) / (x1 - x0) * (w - left - right)

    def line(values, color, dash=""):
        lo, hi = values.min(), values.max()
        span = hi - lo if hi > lo else 1.0
        pts = " ".join(f"{xs(a):.1f},{top + (hi - b) / span * (h - top - bottom):.1f}" for a, b in zip(it[idx], values))
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        return f'<polyline fill="none" stroke="{color}" stroke-width="1.8"{extra} points="{pts}"/>', lo, hi

    logc = np.log10(cost[idx])
    cost_line, lo, hi = line(logc, "#222")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'font-family="sans-serif" font-size="10">',
        f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" fill="#fafafa" '
        'stroke="#ccc"/>',
        cost_line,
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{10 ** hi:.3g}</text>',
        f'<text x="{left - 4}" y="{h - bottom}" text-anchor="end">{10 ** lo:.3g}</text>',
        f'<text x="{left}" y="{h - 8}">{int(x0)}</text>',
        f'<text x="{w - right}" y="{h - 8}" text-anchor="end">{int(x1)}</text>',
        f'<text x="{(left + w - right) / 2:.0f}" y="{h - 8}" text-anchor="middle">iteration</text>',
        f'<text x="{left + 4}" y="{h - bottom - 4}" fill="#222">cost (log)</text>',
    ]
    for e in events:
        x = xs(min(max(float(e.iteration), x0), x1))
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{h - bottom}" stroke="#d62728" '
                     'stroke-dasharray="2,2"/>')
    psnr = np.asarray(history["psnr"], dtype=np.float64)[idx] if "psnr" in history else np.array([])
    if psnr.size and np.isfinite(psnr).all():
        psnr_line, plo, phi = line(psnr, "#1788a8", "5,3")
        parts += [psnr_line,
                  f'<text x="{w - right + 4}" y="{top + 8}" fill="#1788a8">{phi:.1f}</text>',
                  f'<text x="{w - right + 4}" y="{h - bottom}" fill="#1788a8">{plo:.1f}</text>',
                  f'<text x="{w - right - 4}" y="{top + 12}" fill="#1788a8" text-anchor="end">PSNR dB</text>']
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _gradient_rms(x):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3:
        x = x.mean(axis=-1)
    if min(x.shape) < 2:
        return math.nan
    return math.sqrt(float(np.mean(np.diff(x, axis=0) ** 2) + np.mean(np.diff(x, axis=1) ** 2)))


def _number(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        values = [_number(v) for v in np.ravel(value)]
        return values if len(values) > 1 else (values[0] if values else None)
    value = float(value)
    return value if math.isfinite(value) else None


def _estimation(record, psf_spec):
    """What the page says about the kernel: given (its spec) or estimated (status, confidence, reason)."""
    if record is None:
        return {"kind": "given", "spec": psf_spec if isinstance(psf_spec, str) else "array"}
    return {
        "kind": "estimated",
        "status": str(getattr(record, "status", "estimated")),
        "message": str(getattr(record, "message", "") or ""),
        "confidence": _number(getattr(record, "confidence", None)),
        "reason": str(getattr(record, "reason", "") or ""),
        "seconds": _number(getattr(record, "elapsed", None)),
    }


def _left_alone_reason(estimation):
    """Why a restored file was in fact left as it was (a delta kernel from the blind estimate), or ''."""
    if estimation.get("kind") == "estimated" and estimation.get("status") in ("sharp", "fallback"):
        words = "no blur detected" if estimation["status"] == "sharp" else "the blur could not be estimated"
        detail = estimation.get("reason") or estimation.get("message")
        return f"{words}: {detail}" if detail else words
    return ""


def file_entry(job, before, after, result, *, seconds, warnings=(), notes=(), assets=None, overwrite=False):
    """Write one file's report assets and return what the page shows about it.

    Parameters
    ----------
    job : deblur.pipeline.FileJob
        The file restored (``job.report`` names the report page).
    before, after : ndarray
        The input's and the output's pixels, as read and as written.
    result : deblur.SolveResult
        What the solver returned.
    seconds : float
        Time for the whole file (read, solve, write).
    warnings, notes : sequence of str
        Solver warnings and conversion notes, in words.
    assets : str, optional
        The side folder [default: :func:`assets_folder` of ``job.report``].
    overwrite : bool
        Replace asset files left by an earlier report.

    Returns
    -------
    dict
        JSON-safe: paths (absolute), sizes, figures, warnings. Making a
        picture may fail (disk full...); the entry then carries the reason
        in ``warnings`` and the restore still counts as done.
    """
    folder = assets or assets_folder(job.report)
    slug = _slug(job.label or os.path.basename(job.input))
    history = result.history
    estimation = _estimation(getattr(result, "psf_estimation", None), job.options.psf)
    psnr, ssim = (_finite(history[c]) if c in history else np.array([]) for c in ("psnr", "ssim"))
    h, w = np.shape(before)[:2]
    entry = {
        "file": job.label or job.input,
        "input": os.path.abspath(job.input),
        "output": os.path.abspath(job.output),
        "plot": os.path.abspath(job.plot) if job.plot else None,
        "width": int(w),
        "height": int(h),
        "iterations": int(result.iterations),
        "stop_reason": result.stop_reason,
        "stop_words": stop_words(result.stop_reason),
        "converged": result.stop_reason in CONVERGED,
        "seconds": round(float(seconds), 3),
        "weight": _number(result.weight),
        "noise_sigma": _number(result.noise_sigma),
        "final_cost": _number(history["cost"][-1]) if len(history) else None,
        "backoffs": len(result.events),
        "kernel_shape": [int(s) for s in np.shape(result.psf)],
        "estimation": estimation,
        "left_alone": _left_alone_reason(estimation),
        "psnr": [float(psnr[0]), float(psnr[-1])] if psnr.size else None,
        "ssim": [float(ssim[0]), float(ssim[-1])] if ssim.size else None,
        "sharpness": _number(_gradient_rms(_imio.to_float(after)) / (_gradient_rms(_imio.to_float(before)) or math.nan)),
        "warnings": [str(t) for t in warnings],
        "notes": [str(t) for t in notes],
    }
    try:
        os.makedirs(folder, exist_ok=True)
        base = os.path.join(folder, slug)
        small_before = _thumbnail(before, THUMB_SIDE)
        small_after = _thumbnail(after, THUMB_SIDE)
        if small_after.shape[:2] != small_before.shape[:2]:  # same zoom on the page, always
            small_after = _thumbnail(after, max(small_before.shape[:2]))
        entry["thumb_size"] = [int(small_before.shape[1]), int(small_before.shape[0])]
        entry["thumb_before"] = _write_picture(base + ".before.jpg", small_before, overwrite)
        entry["thumb_after"] = _write_picture(base + ".after.jpg", small_after, overwrite)
        entry["full_before"] = _full_size(entry["input"], before, base + ".before.png", overwrite)
        entry["full_after"] = _full_size(entry["output"], after, base + ".after.png", overwrite)
        entry["kernel"] = _write_picture(base + ".kernel.png", _kernel_picture(result.psf), overwrite)
        svg = _curve_svg(history, result.events)
        if svg is not None:
            entry["curve"] = base + ".curve.svg"
            _imio.atomic_write(entry["curve"], lambda fh: fh.write(svg.encode()), overwrite=overwrite)
    except (OSError, ValueError) as exc:  # the restore is done; the page says what it could not show
        entry["warnings"].append(f"report: could not write its pictures: {exc}")
    return entry


def _full_size(path, pixels, preview, overwrite):
    """The file itself when a browser can show it, else an 8-bit PNG copy for the click-through."""
    if os.path.splitext(path)[1].lower() in BROWSER_EXTENSIONS:
        return path
    return _write_picture(preview, _rgb8(pixels), overwrite)


def describe_options(options, **extra):
    """The options that differ from their defaults, as ``[(name, text)]`` for the page's header.

    Solver options go by their command-line names (``iterations``, ``float64``).
    """
    from dataclasses import fields

    from .options import SolveOptions

    flags = {f.name: f.metadata for f in fields(SolveOptions)}
    items = []
    for name, value in options.chosen().items():
        if name == "overwrite" or value is None or value is False:
            continue
        meta = flags.get(name) or {}
        if meta.get("flag"):
            name = meta["flag"].lstrip("-").replace("-", "_")
            value = True if meta.get("kind") == "flag" else value
        items.append((name, "array" if isinstance(value, np.ndarray) else str(value)))
    items += [(k, str(v)) for k, v in extra.items() if v not in (None, False)]
    return items


def write_report(path, rows, *, title="deblur report", options=(), elapsed=None, overwrite=False):
    """Write the report page for ``rows`` atomically, and return its path.

    Parameters
    ----------
    path : str or path-like
        The page (``.html``); its pictures are in :func:`assets_folder` of it.
    rows : sequence of deblur.summary.Row
        One per file, in the order shown; ``row.report`` holds what
        :func:`file_entry` returned (None for a failed or skipped file).
    title : str
        First line of the page.
    options : sequence of (str, str)
        The options used (see :func:`describe_options`).
    elapsed : float, optional
        Wall time of the whole run, seconds.
    overwrite : bool
        Replace an existing page; without it, :class:`deblur.io.OutputExistsError`.
    """
    from . import __version__
    from ._report_html import render

    path = os.fspath(path)
    html = render(
        rows,
        page_dir=os.path.dirname(os.path.abspath(path)),
        title=title,
        options=list(options),
        elapsed=elapsed,
        stamp=f"deblur {__version__}, {time.strftime('%Y-%m-%d %H:%M')}",
    )
    data = html.encode("utf-8")
    _imio.atomic_write(path, lambda fh: fh.write(data), overwrite=overwrite)
    return path
