"""The coarse-to-fine driver: alternate latent and kernel steps on each level.

The descent is run from each starting kernel of ``opts.starts`` (restarts); the
run whose final cost is lowest is kept (see :func:`estimate_kernel`).
"""

import math
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .config import STARTS, BlindOptions, parse_starts
from .confidence import STROKE_LEVEL
from .fourier import Domain
from .kernel_step import edge_threshold, kernel_descent, kernel_moments, usefulness
from .latent import l0_latent, latent_cost
from ..clipped import clipped_mask
from .pyramid import downsample, plan
from .record import EstimationRecord
from .support import (
    auto_size,
    centre_shift,
    cleanup,
    crop_centred,
    extent,
    fit_support,
    internal_support,
    odd,
    resample_kernel,
    shift_kernel,
)

__all__ = ["estimate_kernel", "initial_kernel", "decay_rates", "edge_mass", "touches_support", "spread_over_support"]


def edge_mass(k):
    """Share of the kernel's mass on the outer band of its support (``max(2, side // 16)`` taps wide)."""
    band = _band(k)
    inner = k[band:-band, band:-band].sum() if k.shape[0] > 2 * band else 0.0
    return float(1.0 - inner / max(k.sum(), 1e-300))


def touches_support(k, min_mass, tap_level=STROKE_LEVEL):
    """Whether the kernel reaches the outer band of its support (see :func:`edge_mass`).

    It does when at least ``min_mass`` of its mass lies on the band (a camera path
    cut there: the support was too small; or noise spread over the whole support),
    or when a tap of at least ``tap_level`` times the peak does (the significant
    part of the kernel, as :func:`~deblur.blind.confidence.kernel_plausible` counts
    its strokes, spans the support: a thin straight stroke fitted to a texture's
    lines carries little mass but ends on the edge). Faint taps do not count: the
    clean-up keeps taps at 5 % of the peak, and one stray tap near the edge (a
    5 px disk on a 160 px frame) means nothing. A kernel that touches is estimated
    again on a larger support: a true path completes and stops touching, a fit to
    texture or noise grows with its support.
    """
    band = _band(k)
    if k.shape[0] <= 2 * band:
        return True
    outer = k.copy()
    outer[band:-band, band:-band] = 0.0
    return edge_mass(k) >= min_mass or float(outer.max()) >= tap_level * float(k.max())


def spread_over_support(k, share, tap_level=STROKE_LEVEL):
    """Whether the kernel's significant taps cover ``share`` or more of its support's outer band (see :func:`edge_mass`).

    A camera path cut by its support crosses the band where it leaves it: at its
    ends, and where it wanders out and back. Four crossings of a path 3 taps
    wide cover ``12 b`` taps of the band (``b`` its width), 0-2 % of it on the cut
    paths measured in ``benchmarks/blind_scenes.py``. A kernel spread over the
    whole support covers much of it (56-65 % on a smooth scene without edges,
    where the estimate is a cloud filling the support). Spread: at least
    ``share`` of the band and twice those four crossings (on a small support
    the crossings alone are a large share of the band: 25 % for a 17 px path
    cut at 11 px).
    """
    band = _band(k)
    if k.shape[0] <= 2 * band:  # all band, no inside: nothing tells a spread kernel from a cut one
        return False
    significant = k >= tap_level * float(k.max())
    inner = significant[band:-band, band:-band]
    covered = int(significant.sum() - inner.sum())
    return covered >= max(share * (k.size - inner.size), 24 * band)


def _band(k):
    return max(2, k.shape[0] // 16)


def initial_kernel(size, start="horizontal"):
    """Starting kernel at the coarsest level.

    ``'horizontal'``: a centred two-tap horizontal blur (Pan et al.'s code);
    ``'vertical'``: the same along the columns; ``'delta'``: no blur.
    """
    k = np.zeros((size, size))
    c = size // 2
    if start == "horizontal":
        k[c, c] = k[c, c + 1] = 0.5
    elif start == "vertical":
        k[c, c] = k[c + 1, c] = 0.5
    elif start == "delta":
        k[c, c] = 1.0
    else:
        raise ValueError(f"unknown start {start!r}; choose from {', '.join(STARTS)}")
    return k


def estimate_kernel(y, size=None, opts=None, weights=None, start_support=None):
    """Estimate the blur kernel of a 2-D float image ``y`` (values in [0, 1]).

    With ``size=None`` the support starts from :func:`auto_size` (or from
    ``start_support``, when the caller grows it) and adapts level by level.

    Runs the coarse-to-fine descent once per starting kernel (``opts.starts``) and
    keeps the run with the lowest final cost: the data term plus the L0 prior of
    the last latent step at the finest level, per observed pixel. Every run shares
    the pyramid and the weight schedule, so the costs are comparable; the choice
    uses nothing but the photo.

    Returns ``(kernel, record)``; see :func:`deblur.blind.estimate`.
    """
    opts = opts or BlindOptions()
    starts = parse_starts(opts.starts)
    t0 = time.perf_counter()
    record = EstimationRecord()
    auto = size is None
    full = (odd(start_support) if start_support else auto_size(y.shape, opts.max_size)) if auto else odd(size)
    inner = full if auto else internal_support(full, y.shape, opts.support_scale, opts.support_from)
    record.size_rule = (
        (f"automatic: 12% of the shorter side, odd, 7..{opts.max_size} px -> {full}" if not start_support else f"automatic, grown to {full} px")
        + (", then shrunk level by level to the kernel's extent" if opts.adapt_support else "")
        if auto
        else f"given: {size}"
        + ("" if full == size else f" (rounded up to odd {full})")
        + ("" if inner == full else f"; estimated on {inner} px, cropped around the centre of mass")
    )
    if weights is None:
        weights = clipped_mask(y, opts.saturation) if opts.saturation is not None else np.ones_like(y)
    record.clipped_fraction = float(1.0 - weights.mean())

    levels = plan(y.shape, inner, opts.ratio, opts.coarsest)
    threads = max(1, min(len(starts), int(opts.workers)))
    fft_workers = max(1, int(opts.workers) // threads)

    def run(start):
        return _descend(y, weights, levels, auto, start, opts, fft_workers, t0)

    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            runs = list(pool.map(run, starts))
    else:
        runs = [run(s) for s in starts]
    best = min(range(len(runs)), key=lambda i: runs[i][2])
    k, rec, _ = runs[best]
    record.levels, record.rows = rec.levels, rec.rows
    record.start = starts[best]
    record.starts = [{"start": s, "cost": c, "support": int(kk.shape[0])} for s, (kk, _, c) in zip(starts, runs)]

    record.support = int(k.shape[0])
    record.edge_mass = edge_mass(k)
    record.touches = touches_support(k, opts.edge_mass)
    record.start_support = int(full)
    if auto and opts.adapt_support:
        out = fit_support(k, min(k.shape[0], odd(2 * (extent(k) + 2) + 1)))
    else:
        out = crop_centred(k, full)
    record.size = out.shape[0]
    record.elapsed = time.perf_counter() - t0
    record.message = f"estimated a {out.shape[0]}x{out.shape[0]} kernel in {record.elapsed:.1f} s"
    if len(starts) > 1:
        record.message += f" (best of {len(starts)} starts: {record.start})"
    return out, record


def decay_rates(alternations, opts):
    """Per-alternation decay of the L0 weight and of the edge threshold.

    ``opts.lam_decay`` and ``opts.edge_decay``, unless the pyramid has more than
    ``opts.decay_span + 1`` alternations: then both are slowed so that the total
    decay up to the last alternation stays ``decay ** decay_span``. A 75 px kernel
    has 8-9 levels (40-45 alternations); at the full rate its weight sits on
    ``lam_min`` for the last levels and the finest level breaks the path it found
    at the coarse ones into speckle.
    """
    lam_decay, edge_decay = opts.lam_decay, opts.edge_decay
    if opts.decay_span > 0 and alternations > opts.decay_span + 1:
        f = opts.decay_span / (alternations - 1)
        lam_decay, edge_decay = lam_decay**f, edge_decay**f
    return lam_decay, edge_decay


def _descend(y, weights, levels, auto, start, opts, workers, t0):
    """One coarse-to-fine run from ``initial_kernel(start)``: ``(kernel, record, final cost)``."""
    record = EstimationRecord()
    k = None
    ks = levels[0].ksize
    prev_scale = None
    lam = opts.lam
    edge_t0 = None
    cost = math.inf
    lam_decay, edge_decay = decay_rates(len(levels) * opts.iterations, opts)
    for li, lev in enumerate(levels):
        ys = downsample(y, lev.shape)
        ws = (downsample(weights, lev.shape) > 0.999).astype(np.float64)
        if li == 0:
            k = initial_kernel(ks, start)
        else:
            k = resample_kernel(k, lev.scale / prev_scale, ks)
        dom = Domain(ys.shape, (ks, ks), workers=workers)
        mask = dom.embed(ws)
        y_grid = dom.embed(ws * ys)
        n_obs = max(1.0, float(mask.sum()))
        x = dom.pad_latent(ys)
        useful = None
        if opts.useful_edges:
            r = usefulness(ys)
            oy, ox = dom.offset
            useful = np.zeros(dom.shape)
            useful[oy : oy + ys.shape[0], ox : ox + ys.shape[1]] = r >= opts.useful_edges
        if not opts.lam_carry:
            lam = opts.lam
        if edge_t0 is None:
            edge_t0 = edge_threshold(ys, ks, opts.edge_per_bin) if opts.edge_per_bin > 0 else 0.0
        edge_t = edge_t0
        record.levels.append({"scale": lev.scale, "shape": list(lev.shape), "support": ks})
        for it in range(opts.iterations):
            x = l0_latent(dom, y_grid, mask, k, x, lam, opts.beta_max, opts.kappa, opts.latent_steps)
            R, b = kernel_moments(dom, x, y_grid, mask, edge_t, useful)
            k_start = k if opts.kernel_init == "warm" else np.full_like(k, 1.0 / k.size)
            k_new, obj = kernel_descent(R, b, k_start, opts.kernel_weight, opts.kernel_steps, opts.kernel_projection)
            k_new = cleanup(k_new, opts.threshold, opts.min_component)
            dy, dx = centre_shift(k_new)
            k_new = shift_kernel(k_new, (dy, dx))
            x = np.roll(x, (-dy, -dx), axis=(0, 1))
            change = float(np.abs(k_new - k).sum())
            k = k_new
            data, prior = latent_cost(dom, y_grid, mask, k, x, lam, lam / opts.beta_max)
            cost = (data + prior) / n_obs
            record.append(
                level=li,
                iteration=it + 1,
                scale=lev.scale,
                support=ks,
                lam=lam,
                cost=cost,
                data=data / n_obs,
                prior=prior / n_obs,
                kernel_objective=obj,
                kernel_change=change,
                elapsed=time.perf_counter() - t0,
            )
            lam = max(lam / lam_decay, opts.lam_min)
            edge_t /= edge_decay
        prev_scale = lev.scale
        if li + 1 < len(levels):
            nxt = levels[li + 1]
            ks = nxt.ksize
            if auto and opts.adapt_support:
                r = extent(k) * nxt.scale / lev.scale
                ks = min(ks, odd(2 * math.ceil(1.25 * r + opts.margin) + 1))
    return k, record, cost
