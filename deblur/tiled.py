"""Tiled restore on Dask: images whose solve would not fit in memory.

The default boundary model, 'valid', solves for the scene beyond the frame
(see :mod:`deblur.operators`), so a tile can be restored on its own: cut it
out with a margin of ``overlap`` pixels of its neighbours on every side,
restore that with :func:`deblur.solve`, keep the core. The image is a
:mod:`dask.array` chunked into the cores and :func:`dask.array.map_overlap`
does the cutting and the cropping (``boundary='none'``: at the edges of the
image there is no margin to add, and the 'valid' model is what the whole
solve does there too).

Tiles agree with the whole-image answer when

- every tile uses the weight lambda of the whole channel (``weight='auto'``
  is estimated once per channel, from the whole image, exactly as
  :func:`deblur.solve` does), and
- the margin covers the reach of a pixel's influence over the iterations.
  That reach is not the kernel's: each iteration blurs twice (forward and
  adjoint) and applies the Fourier preconditioner, which is global, so the
  influence decays with distance rather than stopping. Measured on a
  1024 x 1024 photograph mosaic in 256-px tiles, 30 iterations
  (``benchmarks/dask_tiled.py --sweep``): the PSNR lost against the whole
  solve at margins of about 1, 2, 3 and 4 kernel widths is 0.11, 0.03, 0.012
  and 0.007 dB for a 31-px camera shake, 0.15, 0.015, 0.003 and 0.000 dB for
  Levin's 27-px kernel 4, and nothing measurable beyond one width for a
  Gaussian or a disk. :data:`OVERLAP_PER_KERNEL` kernel widths (at least
  :data:`MIN_OVERLAP` px) is the default; on 4096 x 4096 in 1024-px tiles
  the tiled answer is within 0.005 dB (``benchmarks/dask_tiled.py``).

What still differs from one solve: each tile stops by ``tol`` on its own
cost, and ``clip`` bounds the tile by its own range ``[min(0, y), max(1,
y)]`` (identical for images in [0, 1], such as every 8- or 16-bit file).

Memory: :func:`deblur.solve` peaks at about 8 times the float image of its
domain (``benchmarks/memory.py``, 4096 x 4096), plus the image converted in
and out; :data:`WORK_FACTOR` rounds it up. :func:`plan` picks the largest
tile whose solve fits the budget beside the image itself (input and output,
in the working precision) and the noise estimate. Tiles are solved one at
a time by default (``scheduler='synchronous'``): each solve
already uses every core (Numba threads, multi-threaded FFTs), and one at a
time is what keeps the peak predictable.

Dask is imported only here, and only when a tiled restore runs; without it
:class:`DaskMissing` says what to install.
"""

import math
import numbers
import os
import time
from dataclasses import dataclass

import numpy as np

from . import images

__all__ = [
    "restore_tiled",
    "solve_tiled",
    "plan",
    "plan_if_needed",
    "TilePlan",
    "default_overlap",
    "solve_bytes",
    "parse_size",
    "format_size",
    "available_memory",
    "resolve_budget",
    "require_dask",
    "DaskMissing",
    "MemoryBudgetError",
    "WORK_FACTOR",
    "MIN_OVERLAP",
    "OVERLAP_PER_KERNEL",
    "INSTALL_HINT",
]

# Peak memory of deblur.solve per pixel of its domain, in units of the working float: measured 7.8
# (benchmarks/memory.py, 4096x4096 float32), 8.7-9.7 with the 8-bit conversions (dask_tiled.py, whole).
WORK_FACTOR = 10
# Peak of weight='auto' per pixel of its (at most 1024x1024) crop, in float64 units: measured 5.5.
WEIGHT_FACTOR = 6
# Margin of a tile, in kernel widths and at least MIN_OVERLAP px (measured: see the module doc).
OVERLAP_PER_KERNEL = 3
MIN_OVERLAP = 32
# No tile core smaller than this (pixels a side): below it the margins cost more than the tile.
MIN_TILE = 64
# 'auto' budget: this share of the memory available when a file starts.
AUTO_SHARE = 0.75

INSTALL_HINT = "pip install 'deblur[dask]'"


class DaskMissing(ImportError, ValueError):
    """Dask (or dask.distributed) is needed and not installed.

    Also a ValueError: for the command line it is a problem with the call
    (an option that needs an extra), reported like the other option errors.
    """


class MemoryBudgetError(ValueError):
    """The budget cannot hold even the image and the smallest tile."""


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


# --------------------------------------------------------------------------- sizes


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
            raise ValueError(f"{text!r} is not a size; write e.g. 2GB, 512MiB or 4000000000 (bytes)")
        try:
            value = float(number) * _UNITS[unit]
        except ValueError:
            raise ValueError(f"{text!r} is not a size; write e.g. 2GB, 512MiB or 4000000000 (bytes)") from None
        if not math.isfinite(value):
            raise ValueError(f"{text!r} is not a finite size")
        value = int(value)
    if value <= 0:
        raise ValueError(f"a memory budget must be positive, got {text!r}")
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


# --------------------------------------------------------------------------- the plan


def default_overlap(psf_shape):
    """Margin of a tile for a kernel of this shape: :data:`OVERLAP_PER_KERNEL` widths, >= :data:`MIN_OVERLAP`."""
    return max(MIN_OVERLAP, OVERLAP_PER_KERNEL * int(max(psf_shape)))


def solve_bytes(frame_shape, psf_shape, itemsize=4):
    """Peak working memory of one channel's :func:`deblur.solve` on a frame (boundary 'valid')."""
    kh, kw = psf_shape
    return int(WORK_FACTOR * (frame_shape[0] + kh - 1) * (frame_shape[1] + kw - 1) * itemsize)


def weight_bytes(frame_shape):
    """Peak memory of ``weight='auto'``: the noise and content estimates on a central float64 crop."""
    from .weights import NOISE_CROP

    return int(WEIGHT_FACTOR * 8 * min(frame_shape[0], NOISE_CROP) * min(frame_shape[1], NOISE_CROP))


def _balanced(n, tile):
    """Split ``n`` into ceil(n / tile) chunks of nearly equal size."""
    parts = max(1, -(-n // tile))
    base, extra = divmod(n, parts)
    return tuple(base + 1 if i < extra else base for i in range(parts))


@dataclass(frozen=True)
class TilePlan:
    """How an image is restored: whole, or in tiles (and how big), with the memory each needs."""

    shape: tuple  # (rows, cols) of the frame
    channels: int
    psf_shape: tuple
    itemsize: int
    chunks: tuple  # (row chunks, col chunks) of the tile cores
    overlap: int
    whole_bytes: int  # estimated peak restoring the image at once
    tiled_bytes: int  # estimated peak restoring it tile by tile
    budget: object = None

    @property
    def n_tiles(self):
        return len(self.chunks[0]) * len(self.chunks[1])

    @property
    def tiled(self):
        return self.n_tiles > 1

    @property
    def tile(self):
        return max(self.chunks[0]), max(self.chunks[1])

    @property
    def depth(self):
        """map_overlap's depth per axis: no margin along an axis that is one tile."""
        return tuple(self.overlap if len(c) > 1 else 0 for c in self.chunks)

    def describe(self):
        """One line: why tiles, how many, how big."""
        h, w = self.shape
        th, tw = self.tile
        why = (f"{w}x{h} px needs about {format_size(self.whole_bytes)} to restore at once"
               + (f", over the memory budget of {format_size(self.budget)}" if self.budget else ""))
        return (f"{why}: restoring it in {self.n_tiles} tiles of up to {tw}x{th} px (overlap {self.overlap} px) "
                f"with dask, about {format_size(self.tiled_bytes)}")


def plan(shape, psf_shape, *, channels=1, precision="float32", memory_budget=None, tile=None, overlap=None):
    """Choose whole or tiled, and the tile size, for a frame of ``shape`` (rows, cols).

    Parameters
    ----------
    shape : tuple of int
        The frame, rows and columns.
    psf_shape : tuple of int
    channels : int
        Channels restored (each on its own, one after the other).
    precision : {'float32', 'float64'}
    memory_budget : int, str or None
        Bytes (or a size string, or ``'auto'``). The image is tiled when its
        whole solve would exceed it; the tile is the largest that fits.
    tile : int or (int, int), optional
        Force this tile core size instead (pixels a side).
    overlap : int, optional
        Margin of every tile (default :func:`default_overlap`).

    Raises
    ------
    MemoryBudgetError
        When the budget cannot hold the image and a tile of :data:`MIN_TILE` px.
    """
    h, w = (int(n) for n in shape)
    b = np.dtype(precision).itemsize
    overlap = default_overlap(psf_shape) if overlap is None else int(overlap)
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0 pixels, got {overlap}")
    budget = resolve_budget(memory_budget)
    fixed = 2 * channels * h * w * b  # the image and the restored one (in the working float: a bound for 8/16 bits)
    fixed_peak = fixed + weight_bytes((h, w))  # before the solves: lambda from the image
    whole = max(fixed_peak, fixed + solve_bytes((h, w), psf_shape, b))

    def tiled_bytes(th, tw):
        halo = 2 * overlap
        return max(fixed_peak, fixed + solve_bytes((min(h, th + halo), min(w, tw + halo)), psf_shape, b))

    if tile is not None:
        th, tw = (tile, tile) if isinstance(tile, numbers.Integral) else tile
        th, tw = int(th), int(tw)
        if th < 1 or tw < 1:
            raise ValueError(f"tile must be >= 1 pixel a side, got {tile!r}")
    elif budget is None or whole <= budget:
        th, tw = h, w
    else:
        kh, kw = psf_shape
        room = (budget - fixed) / (WORK_FACTOR * b)  # domain pixels one tile's solve may use
        side = int(math.isqrt(max(0, int(room)))) - 2 * overlap - max(kh, kw) + 1
        smallest = max(MIN_TILE, overlap)
        if side < smallest or fixed_peak > budget:
            need = tiled_bytes(smallest, smallest)
            raise MemoryBudgetError(
                f"a memory budget of {format_size(budget)} is too small for this {w}x{h} image: the image alone "
                f"takes {format_size(fixed)} (in and out, {np.dtype(precision).name}), estimating its noise "
                f"{format_size(weight_bytes((h, w)))} more, and the smallest tile "
                f"({smallest} px, overlap {overlap} px) needs about {format_size(need)} in all; "
                "give a larger budget"
            )
        th, tw = min(side, h), min(side, w)
    # a tile core narrower than the margin would make map_overlap rechunk; keep cores >= overlap
    th = h if th >= h else max(th, min(h, overlap))
    tw = w if tw >= w else max(tw, min(w, overlap))
    chunks = (_balanced(h, th), _balanced(w, tw))
    return TilePlan(
        shape=(h, w),
        channels=int(channels),
        psf_shape=tuple(int(n) for n in psf_shape),
        itemsize=b,
        chunks=chunks,
        overlap=overlap,
        whole_bytes=int(whole),
        tiled_bytes=int(tiled_bytes(max(chunks[0]), max(chunks[1]))),
        budget=budget,
    )


def plan_if_needed(frame_shape, channels, psf, memory_budget, precision="float32"):
    """The tile plan when the whole solve would exceed ``memory_budget``, else None.

    The hook of :func:`deblur.batch.restore_file`: no budget, or a PSF that
    is not a kernel array yet (``'estimate'``), means no tiles. When tiles
    are needed Dask must be there (:class:`DaskMissing` otherwise, naming
    the extra).
    """
    if memory_budget is None or not isinstance(psf, np.ndarray):
        return None
    tiles = plan(frame_shape, psf.shape, channels=channels, precision=precision, memory_budget=memory_budget)
    if not tiles.tiled:
        return None
    try:
        require_dask()
    except DaskMissing as exc:
        raise DaskMissing(f"{tiles.describe()}; {exc} (or pass --memory-budget none to try at once)") from None
    return tiles


# --------------------------------------------------------------------------- the restore


def _prepare(image, psf, channel_axis, options):
    """Validate; return (channels-last array, kernel, working dtype, regulariser, solve kwargs)."""
    from .options import DEFAULTS
    from .regularizers import make_regularizer

    options = dict(options)
    for name in ("weight", "callback"):
        options.pop(name, None)
    boundary = options.get("boundary", DEFAULTS["boundary"])
    if boundary != "valid":
        raise ValueError(
            f"a tiled restore needs boundary='valid' (the default), got {boundary!r}: tiles of a "
            "reflected or periodic image would see their neighbours' edges as the image's"
        )
    if isinstance(psf, str) and psf.strip().lower().startswith("estimate"):
        raise ValueError("a tiled restore needs the PSF: estimate it on a crop first (deblur.estimate_psf)")
    dtype = np.dtype(options.get("precision", DEFAULTS["precision"]))
    if _is_dask(image):
        if image.ndim == 3 and channel_axis is not None:
            import dask.array as da

            image = da.moveaxis(image, channel_axis, -1)
        elif image.ndim != 2:
            raise ValueError(f"image must be 2-D, or 3-D with channel_axis; got {image.ndim}-D")
        else:
            image = image[..., None]
        if image.dtype.kind != "f" and image.dtype not in images.INT_SCALE:
            raise TypeError(f"image has dtype {image.dtype}; use float (values in [0, 1]), uint8 or uint16")
    else:
        image = images.check_image(image, channel_axis)
    kernel = _kernel(psf, image.shape[:2])
    reg = make_regularizer(options.get("regularizer", DEFAULTS["regularizer"]), eps=options.get("eps"),
                           p=options.get("p", 0.8))
    return image, kernel, dtype, reg, options


def _kernel(psf, frame_shape):
    """The kernel array of a spec, file or array (deblur.psf), no larger than the frame."""
    from . import psf as psf_module

    kernel = psf_module.parse(psf) if isinstance(psf, str) or hasattr(psf, "__fspath__") else psf_module.validate(psf)
    if kernel.shape[0] > frame_shape[0] or kernel.shape[1] > frame_shape[1]:
        raise ValueError(f"the PSF ({kernel.shape[0]}x{kernel.shape[1]}) is larger than the image "
                         f"({frame_shape[0]}x{frame_shape[1]}); use a smaller PSF or a larger image")
    return kernel


def _is_dask(a):
    return type(a).__module__.startswith("dask.")


def _channel_weight(channel, dtype, weight, reg_name):
    """lambda and sigma for one channel, as deblur.solve computes them.

    The rule reads the central :data:`~deblur.weights.NOISE_CROP` crop of the
    channel only; it is cut here before the conversion to float, which is
    cheap on a huge or lazy image and gives the same numbers.
    """
    from . import weights

    if not (isinstance(weight, str) and weight == "auto"):
        return float(weight), None
    h, w = channel.shape
    top, left = max(0, (h - weights.NOISE_CROP) // 2), max(0, (w - weights.NOISE_CROP) // 2)
    crop = np.asarray(channel[top : top + weights.NOISE_CROP, left : left + weights.NOISE_CROP])
    return weights.image_weight(np.ascontiguousarray(images.to_float(crop, dtype)), reg_name)


class _TileSolver:
    """The function map_overlap calls on each tile-with-margin: deblur.solve with a fixed weight.

    Records each tile's result (history, events, stop reason) when ``records`` is a list
    (local schedulers only: the list lives in this process).
    """

    def __init__(self, kernel, weight, options, channel, records=None, callback=None, time_limit=None,
                 n_tiles=1, clock=None):
        self.kernel, self.weight, self.options, self.channel = kernel, weight, options, channel
        self.records, self.callback = records, callback
        self.time_limit, self.n_tiles = time_limit, n_tiles
        self.clock = {} if clock is None else clock  # shared by the channels: {'start': first tile's start}

    def __call__(self, block, reference=None, block_info=None):
        from . import api

        options = dict(self.options)
        if self.time_limit is not None:  # share what is left among the tiles not yet done
            start = self.clock.setdefault("start", time.perf_counter())
            done = len(self.records) if self.records is not None else 0
            left = self.time_limit - (time.perf_counter() - start)
            options["time_limit"] = max(left / max(1, self.n_tiles - done), 1e-3)
        result = api.solve(block, self.kernel, weight=self.weight, reference=reference,
                           callback=self.callback, **options)
        if self.records is not None:
            where = tuple(block_info[0]["chunk-location"]) if block_info else ()
            for e in result.events:
                e.channel = self.channel
            self.records.append((self.channel, where, result))
        return result.image


def _graph(image, kernel, options, plan_, weights, reference=None, records=None, callback=None):
    """The lazy restored image (channels last, the input's dtype) as a dask array.

    Tiles stay in the input's type (8-bit, say) until their solve: deblur.solve converts
    each to the working float and back, pixel by pixel as it does for the whole image.
    """
    import dask.array as da

    time_limit = options.pop("time_limit", None)
    clock = {}
    out = []
    depth = {0: plan_.depth[0], 1: plan_.depth[1]}
    for c in range(image.shape[-1]):
        args = [_chunked(image[..., c], plan_.chunks)]
        if reference is not None:
            args.append(_chunked(reference[..., c], plan_.chunks))
        solver = _TileSolver(kernel, weights[c], options, c, records, callback, time_limit,
                             plan_.n_tiles * image.shape[-1], clock)
        out.append(da.map_overlap(solver, *args, depth=depth, boundary="none", trim=True, dtype=image.dtype,
                                  meta=np.empty((0, 0), dtype=image.dtype)))
    return da.stack(out, axis=-1)


def _to_solver_colours(image, options, dtype):
    """The channels the tiles restore, and the function that maps their result back.

    A three-channel image is restored in the opponent basis of
    :mod:`deblur.color` (unless ``color_space='rgb'``), as :func:`deblur.solve`
    does: the channels are formed here (lazily for a dask array), the tiles
    solve 2-D channels, and the result returns to RGB in the input's dtype.
    """
    from . import color
    from .options import COLOR_SPACES, DEFAULTS, check_choice

    space = options.pop("color_space", DEFAULTS["color_space"])
    check_choice("color_space", space, COLOR_SPACES)
    if space != "opponent" or image.shape[-1] != 3:
        return image, None
    lazy = _is_dask(image)
    if lazy:
        rgb = image.map_blocks(images.to_float, dtype, dtype=dtype)
    else:
        rgb = images.to_float(image, dtype)
    channels = [color.opponent_channel(rgb, c) for c in range(3)]
    output_dtype = image.dtype

    def back_to_rgb(restored):
        def convert(block):
            return images.from_float(color.opponent_to_rgb(block), output_dtype)

        if _is_dask(restored):
            return restored.rechunk({restored.ndim - 1: 3}).map_blocks(convert, dtype=output_dtype)
        return convert(restored)

    if lazy:
        import dask.array as da

        return da.stack(channels, axis=-1), back_to_rgb
    return np.stack(channels, axis=-1), back_to_rgb


def _chunked(array, chunks):
    import dask.array as da

    return array.rechunk(chunks) if _is_dask(array) else da.from_array(array, chunks=chunks)


def _weights(image, dtype, reg, weight):
    pairs = [_channel_weight(image[..., c], dtype, weight, reg.name) for c in range(image.shape[-1])]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def restore_tiled(image, psf, *, channel_axis=None, tile=None, overlap=None, memory_budget=None, weight="auto",
                  **options):
    """The restored image as a lazy :class:`dask.array.Array`, computed tile by tile.

    For images that do not fit in memory: pass a dask array (from Zarr,
    HDF5, a stack of TIFFs...) and store the result where it fits
    (``restore_tiled(da.from_zarr(src), psf).to_zarr(dst)``), on any Dask
    scheduler, a cluster included.

    Parameters
    ----------
    image : ndarray or dask.array.Array
        2-D gray, or 3-D colour with ``channel_axis``; float, uint8 or uint16.
    psf : ndarray or str
        As for :func:`deblur.solve` (not ``'estimate'``).
    channel_axis : int or None
    tile : int or (int, int), optional
        Tile core size in pixels. Default: from ``memory_budget``, else the
        image's chunks for a dask array, else the whole image.
    overlap : int, optional
        Margin of each tile, pixels (default :func:`default_overlap`: three
        kernel widths, at least 32).
    memory_budget : int or str, optional
        Bytes one tile's solve may use with the image (``'2GB'``, ``'auto'``).
    weight : 'auto' or float
        lambda; ``'auto'`` is estimated once per channel from the whole
        image, so every tile uses the weight of the whole solve.
    **options
        The other keyword arguments of :func:`deblur.solve`; ``boundary``
        must be 'valid'.

    Returns
    -------
    dask.array.Array
        Same shape and dtype as ``image``.
    """
    require_dask()
    import dask.array as da

    original_axis = channel_axis
    channels_last, kernel, dtype, reg, options = _prepare(image, psf, channel_axis, {**options, "weight": weight})
    if tile is None and memory_budget is None and _is_dask(image):
        tile = (max(channels_last.chunks[0]), max(channels_last.chunks[1]))
    plan_ = plan(channels_last.shape[:2], kernel.shape, channels=channels_last.shape[-1], precision=dtype.name,
                 memory_budget=memory_budget, tile=tile, overlap=overlap)
    channels_last, back_to_rgb = _to_solver_colours(channels_last, options, dtype)
    weights, _ = _weights(channels_last, dtype, reg, weight)
    restored = _graph(channels_last, kernel, options, plan_, weights)
    if back_to_rgb is not None:
        restored = back_to_rgb(restored)
    if original_axis is None:
        return restored[..., 0]
    return da.moveaxis(restored, -1, original_axis)


def solve_tiled(image, psf, *, channel_axis=None, tile=None, overlap=None, memory_budget=None, weight="auto",
                reference=None, callback=None, scheduler="synchronous", num_workers=None, tile_plan=None, **options):
    """Restore an in-memory image tile by tile; return a :class:`~deblur.result.SolveResult`.

    Takes the arguments of :func:`restore_tiled` (and ``reference``,
    ``callback`` as :func:`deblur.solve`). Tiles run on a local Dask
    scheduler: ``'synchronous'`` (default: one at a time, the smallest
    peak) or ``'threads'`` (``num_workers`` at once). ``callback`` is
    called from every tile's iterations (restarting at 1 for each tile).
    ``tile_plan`` (a :class:`TilePlan`) replaces ``tile``/``overlap``/``memory_budget``.

    The record: ``history`` is the tiles' histories merged (costs added,
    tile margins included), ``iterations`` the most any tile took,
    ``stop_reason`` the most common, ``settings['tiles']`` the plan.
    """
    require_dask()
    import dask.array as da

    from . import color
    from .result import History, SolveResult, overall_stop_reason

    if scheduler not in ("synchronous", "threads"):
        raise ValueError(f"scheduler must be 'synchronous' or 'threads', got {scheduler!r}; "
                         "for a cluster use restore_tiled(...) and compute it there")
    channels_last, kernel, dtype, reg, options = _prepare(image, psf, channel_axis, {**options, "weight": weight})
    if _is_dask(channels_last):
        raise TypeError("solve_tiled takes an in-memory image; use restore_tiled for a dask array")
    plan_ = tile_plan
    if plan_ is None:
        plan_ = plan(channels_last.shape[:2], kernel.shape, channels=channels_last.shape[-1], precision=dtype.name,
                     memory_budget=memory_budget, tile=tile, overlap=overlap)
    ref = None
    if reference is not None:
        ref = images.check_image(reference, channel_axis, name="reference")
        if ref.shape != channels_last.shape:
            raise ValueError(f"reference has shape {np.shape(reference)}, the image {np.shape(image)}: they must match")
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable, e.g. lambda state: state.iteration >= 50")
    channels_last, back_to_rgb = _to_solver_colours(channels_last, options, dtype)
    if ref is not None and back_to_rgb is not None:
        ref = color.rgb_to_opponent(images.to_float(ref, np.dtype(np.float64)))
    weights, sigmas = _weights(channels_last, dtype, reg, weight)
    records = []
    restored = _graph(channels_last, kernel, dict(options), plan_, weights, ref, records, callback)
    out = np.empty(restored.shape, dtype=restored.dtype)
    da.store(restored, out, lock=False, scheduler=scheduler, num_workers=num_workers)
    if back_to_rgb is not None:
        out = back_to_rgb(out)
        sigmas = [None if s is None else s * span for s, span in zip(sigmas, color.OPPONENT_SPAN)]

    records.sort(key=lambda r: (r[0], r[1]))
    results = [r[2] for r in records]
    if channel_axis is None:
        out = out[..., 0]
    else:
        out = np.moveaxis(out, -1, channel_axis)
    settings = dict(results[0].settings) if results else {}
    settings.pop("lipschitz", None)
    th, tw = plan_.tile
    settings["tiles"] = {"count": plan_.n_tiles, "tile": [th, tw], "overlap": plan_.overlap,
                         "scheduler": scheduler}
    single = channel_axis is None
    return SolveResult(
        image=out,
        psf=kernel,
        history=History.merge([r.history for r in results]) if results else History(),
        stop_reason=overall_stop_reason([r.stop_reason for r in results]),
        iterations=max(r.iterations for r in results),
        events=[e for r in results for e in r.events],
        weight=weights[0] if single else weights,
        noise_sigma=sigmas[0] if single else sigmas,
        settings=settings,
    )
