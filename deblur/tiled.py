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
:class:`~deblur.errors.DaskMissing` says what to install. The plan (tile
sizes, memory) is :mod:`deblur.tiles`, sizes and budgets :mod:`deblur.memory`;
both are re-exported here.
"""

import time

import numpy as np

from . import images
from . import psf as psf_module
from .errors import ArgumentError, ArgumentTypeError, DaskMissing, MemoryBudgetError
from .memory import (
    INSTALL_HINT,
    available_memory,
    format_size,
    parse_size,
    require_dask,
    resolve_budget,
)
from .options import SolveOptions
from .tiles import (
    MIN_OVERLAP,
    OVERLAP_PER_KERNEL,
    WORK_FACTOR,
    TilePlan,
    _luma,
    _solved_channels,
    _to_solver_colours,
    default_overlap,
    plan,
    plan_if_needed,
    solve_bytes,
)

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


def _options(weight, solve_options, kwargs):
    """The SolveOptions of a tiled restore, given as keywords or as one object."""
    if solve_options is None:
        return SolveOptions.from_kwargs(weight=weight, **kwargs)
    if kwargs or weight != "auto":
        raise ArgumentTypeError("give the solver options as keywords or as solve_options, not both")
    return solve_options


def _prepare(image, psf, channel_axis, options):
    """Validate; return the channels-last array (numpy or dask) and the kernel."""
    from . import api

    if options.boundary != "valid":
        raise ArgumentError(
            f"a tiled restore needs boundary='valid' (the default), got {options.boundary!r}: tiles of a "
            "reflected or periodic image would see their neighbours' edges as the image's"
        )
    if psf_module.is_estimate(psf):
        raise ArgumentError("a tiled restore needs the PSF: estimate it on a crop first (deblur.estimate_psf)")
    if _is_dask(image):
        if image.ndim == 3 and channel_axis is not None:
            import dask.array as da

            image = da.moveaxis(image, channel_axis, -1)
        elif image.ndim != 2:
            raise ArgumentError(f"image must be 2-D, or 3-D with channel_axis; got {image.ndim}-D")
        else:
            image = image[..., None]
        if image.dtype.kind != "f" and image.dtype not in images.INT_SCALE:
            raise ArgumentTypeError(f"image has dtype {image.dtype}; use float (values in [0, 1]), uint8 or uint16")
    else:
        image = images.check_image(image, channel_axis)
    kernel = api.resolve_kernel(psf, image.shape[:2])
    with api._arguments():  # the regulariser's own checks, before any tile runs
        api.make_regularizer(options.regularizer, eps=options.eps, p=options.p)
    return image, kernel


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
    """The function map_overlap calls on each tile-with-margin: the restore of :mod:`deblur.api`, at a fixed weight.

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

        options = self.options.replace(weight=self.weight)
        if self.time_limit is not None:  # share what is left among the tiles not yet done
            start = self.clock.setdefault("start", time.perf_counter())
            done = len(self.records) if self.records is not None else 0
            left = self.time_limit - (time.perf_counter() - start)
            options = options.replace(time_limit=max(left / max(1, self.n_tiles - done), 1e-3))
        # the same pipeline as a whole image, on one channel of one tile
        result = api.solve_plan(api.prepare(block, self.kernel, options, reference=reference, callback=self.callback))
        if self.records is not None:
            where = tuple(block_info[0]["chunk-location"]) if block_info else ()
            for e in result.events:
                e.channel = self.channel
            self.records.append((self.channel, where, result))
        return result.image


def _graph(image, kernel, options, plan_, weights, reference=None, records=None, callback=None):
    """The lazy restored image (channels last, the input's dtype) as a dask array.

    Tiles stay in the input's type (8-bit, say) until their solve, which converts each to
    the working float and back, pixel by pixel as it does for the whole image.
    """
    import dask.array as da

    time_limit = options.time_limit
    options = options.replace(time_limit=None)
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


def _chunked(array, chunks):
    import dask.array as da

    return array.rechunk(chunks) if _is_dask(array) else da.from_array(array, chunks=chunks)


def _weights(image, dtype, options):
    pairs = [_channel_weight(image[..., c], dtype, options.weight, options.regularizer) for c in range(image.shape[-1])]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def restore_tiled(image, psf, *, channel_axis=None, tile=None, overlap=None, memory_budget=None, weight="auto",
                  solve_options=None, **options):
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
    solve_options : SolveOptions, optional
        The solver options as one object, instead of keywords.
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
    options = _options(weight, solve_options, options)
    dtype = np.dtype(options.precision)
    channels_last, kernel = _prepare(image, psf, channel_axis, options)
    if tile is None and memory_budget is None and _is_dask(image):
        tile = (max(channels_last.chunks[0]), max(channels_last.chunks[1]))
    plan_ = plan(channels_last.shape[:2], kernel.shape, channels=_solved_channels(channels_last, options),
                 precision=dtype.name, memory_budget=memory_budget, tile=tile, overlap=overlap)
    channels_last, back_to_rgb = _to_solver_colours(channels_last, options, dtype)
    weights, _ = _weights(channels_last, dtype, options)
    restored = _graph(channels_last, kernel, options, plan_, weights)
    if back_to_rgb is not None:
        restored = back_to_rgb(restored)
    if original_axis is None:
        return restored[..., 0]
    return da.moveaxis(restored, -1, original_axis)


def solve_tiled(image, psf, *, channel_axis=None, tile=None, overlap=None, memory_budget=None, weight="auto",
                reference=None, callback=None, scheduler="synchronous", num_workers=None, tile_plan=None,
                solve_options=None, **options):
    """Restore an in-memory image tile by tile; return a :class:`~deblur.result.SolveResult`.

    Takes the arguments of :func:`restore_tiled` (and ``reference``,
    ``callback`` as :func:`deblur.solve`). Tiles run on a local Dask
    scheduler: ``'synchronous'`` (default: one at a time, the smallest
    peak) or ``'threads'`` (``num_workers`` at once). ``callback`` is
    called from every tile's iterations (restarting at 1 for each tile).
    ``tile_plan`` (a :class:`TilePlan`) replaces ``tile``/``overlap``/``memory_budget``;
    ``solve_options`` (a :class:`~deblur.options.SolveOptions`) the keywords.

    The record: ``history`` is the tiles' histories merged (costs added,
    tile margins included), ``iterations`` the most any tile took,
    ``stop_reason`` the most common, ``settings['tiles']`` the plan.
    """
    require_dask()
    import dask.array as da

    from . import color
    from .result import History, SolveResult, overall_stop_reason

    if scheduler not in ("synchronous", "threads"):
        raise ArgumentError(f"scheduler must be 'synchronous' or 'threads', got {scheduler!r}; "
                         "for a cluster use restore_tiled(...) and compute it there")
    options = _options(weight, solve_options, options)
    dtype = np.dtype(options.precision)
    channels_last, kernel = _prepare(image, psf, channel_axis, options)
    if _is_dask(channels_last):
        raise ArgumentTypeError("solve_tiled takes an in-memory image; use restore_tiled for a dask array")
    plan_ = tile_plan
    if plan_ is None:
        plan_ = plan(channels_last.shape[:2], kernel.shape, channels=_solved_channels(channels_last, options),
                     precision=dtype.name, memory_budget=memory_budget, tile=tile, overlap=overlap)
    ref = None
    if reference is not None:
        ref = images.check_image(reference, channel_axis, name="reference")
        if ref.shape != channels_last.shape:
            raise ArgumentError(f"reference has shape {np.shape(reference)}, the image {np.shape(image)}: they must match")
    if callback is not None and not callable(callback):
        raise ArgumentTypeError("callback must be callable, e.g. lambda state: state.iteration >= 50")
    luma = options.color_space == "luma" and channels_last.shape[-1] == 3
    channels_last, back_to_rgb = _to_solver_colours(channels_last, options, dtype)
    if ref is not None and luma:  # its luma, formed in the working precision as the image's
        ref = _luma(ref, dtype)[0][..., np.newaxis]
    elif ref is not None and back_to_rgb is not None:
        ref = color.rgb_to_opponent(images.to_float(ref, np.dtype(np.float64)))
    weights, sigmas = _weights(channels_last, dtype, options)
    records = []
    restored = _graph(channels_last, kernel, options, plan_, weights, ref, records, callback)
    out = np.empty(restored.shape, dtype=restored.dtype)
    da.store(restored, out, lock=False, scheduler=scheduler, num_workers=num_workers)
    if back_to_rgb is not None:
        out = back_to_rgb(out)
        if not luma:
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
    if luma:
        settings["color_space"] = "luma"
    single = channel_axis is None or luma  # one channel solved: one weight
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
