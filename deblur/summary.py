"""What a batch reports: one :class:`Row` per file, the summary table (text, CSV, JSON), JSON-safe values.

Every file written here goes through :func:`deblur.atomic.atomic_write`.
"""

import csv
import io
import json
import math
import os
from dataclasses import dataclass

import numpy as np

from .atomic import atomic_write

__all__ = ["Row", "SUMMARY_COLUMNS", "format_table", "write_summary", "write_text", "json_safe"]

SUMMARY_COLUMNS = ("file", "status", "iterations", "seconds", "final_cost", "stop_reason", "backoffs", "error")


@dataclass
class Row:
    """One line of a batch summary. ``status``: ok, failed, skipped or interrupted."""

    file: str
    status: str
    iterations: object = None
    seconds: object = None
    final_cost: object = None
    stop_reason: object = None
    backoffs: object = None
    error: object = None
    output: object = None
    notes: object = None  # remarks for the user (a tiled restore), not in the summary
    report: object = None  # what the report page shows of this file (deblur.report.file_entry), not in the summary

    def as_dict(self):
        return {name: getattr(self, name) for name in SUMMARY_COLUMNS}


def json_safe(value):
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist()) if value.size <= 64 else f"array{value.shape}"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def write_text(path, text, overwrite):
    """Write ``text`` as UTF-8, atomically."""
    data = text.encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data), overwrite=overwrite)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_table(rows, *, max_error=60):
    """The summary as an aligned text table."""
    header = list(SUMMARY_COLUMNS)
    body = []
    for row in rows:
        cells = [_cell(v) for v in row.as_dict().values()]
        if len(cells[-1]) > max_error:
            cells[-1] = cells[-1][: max_error - 3] + "..."
        body.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    return "\n".join(lines)


def write_summary(path, rows, *, overwrite=True):
    """Write the summary table as CSV or JSON (by extension), atomically."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == ".json":
        text = json.dumps([json_safe(r.as_dict()) for r in rows], indent=1)
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(SUMMARY_COLUMNS)
        for r in rows:
            writer.writerow([_cell(v) for v in r.as_dict().values()])
        text = buf.getvalue()
    write_text(path, text, overwrite)
