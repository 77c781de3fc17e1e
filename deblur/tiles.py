"""Tile planning: restore an image whole, or in tiles of the size that fits the memory budget.

How large a margin a tile needs, and what a solve costs in memory, were
measured; see :mod:`deblur.tiled` for the figures and the Dask graph that
restores the tiles.
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .errors import ArgumentError, DaskMissing, MemoryBudgetError
from .memory import format_size, require_dask, resolve_budget

__all__ = ["plan", "plan_if_needed", "TilePlan", "default_overlap", "solve_bytes", "weight_bytes", "WORK_FACTOR",
           "WEIGHT_FACTOR", "MIN_OVERLAP", "OVERLAP_PER_KERNEL", "MIN_TILE"]

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
        raise ArgumentError(f"overlap must be >= 0 pixels, got {overlap}")
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
            raise ArgumentError(f"tile must be >= 1 pixel a side, got {tile!r}")
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

    The hook of :func:`deblur.pipeline.restore_file`: no budget, or a PSF that
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


# --------------------------------------------------------------------------- the colours the tiles restore


def _is_dask(a):
    return type(a).__module__.startswith("dask.")


def _luma(image, dtype):
    """The luma of a three-channel image and the chroma to put back (:func:`deblur.color.split_luma`)."""
    from . import color, images

    if _is_dask(image):
        raise ArgumentError("color_space='luma' takes an in-memory image in a tiled restore; "
                            "give restore_tiled the luma (deblur.color.split_luma) instead")
    return color.split_luma(images.to_float(image, dtype))


def _to_solver_colours(image, options, dtype):
    """The channels the tiles restore, and the function that maps their result back.

    A three-channel image is restored in the opponent basis of
    :mod:`deblur.color` (unless ``color_space='rgb'``), as :func:`deblur.solve`
    does: the channels are formed here (lazily for a dask array), the tiles
    solve 2-D channels, and the result returns to RGB in the input's dtype.
    With ``color_space='luma'`` the one channel is the luma, split and merged
    by :mod:`deblur.color` as :func:`deblur.api.prepare` does.
    """
    from . import color, images

    if options.color_space == "luma" and image.shape[-1] == 3:
        luma, chroma = _luma(image, dtype)
        output_dtype = image.dtype

        def convert(restored, chroma):
            return images.from_float(color.merge_luma(restored[..., 0], chroma), output_dtype)

        def merge(restored):
            if not _is_dask(restored):
                return convert(restored, chroma)
            import dask.array as da

            rows, cols = restored.chunks[:2]
            return da.map_blocks(convert, restored, da.from_array(chroma, chunks=(rows, cols, 3)),
                                 chunks=(rows, cols, (3,)), dtype=output_dtype)

        return luma[..., np.newaxis], merge
    if options.color_space != "opponent" or image.shape[-1] != 3:
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


def _solved_channels(image, options):
    """How many channels the tiles restore: one for the luma of a colour image."""
    return 1 if options.color_space == "luma" and image.shape[-1] == 3 else image.shape[-1]
