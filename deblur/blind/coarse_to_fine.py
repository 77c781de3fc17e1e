"""The coarse-to-fine driver: alternate latent and kernel steps on each level."""

import math
import time

import numpy as np

from .config import BlindOptions
from .fourier import Domain
from .kernel_step import edge_threshold, kernel_descent, kernel_moments
from .latent import l0_latent, latent_cost
from .outliers import clipped_mask
from .pyramid import downsample, plan
from .record import EstimationRecord
from .support import auto_size, centre_shift, cleanup, extent, fit_support, odd, resample_kernel, shift_kernel

__all__ = ["estimate_kernel", "initial_kernel"]


def initial_kernel(size):
    """Starting kernel at the coarsest level: a centred two-tap horizontal blur (Pan et al.)."""
    k = np.zeros((size, size))
    c = size // 2
    k[c, c] = k[c, c + 1] = 0.5
    return k


def estimate_kernel(y, size=None, opts=None, weights=None):
    """Estimate the blur kernel of a 2-D float image ``y`` (values in [0, 1]).

    Returns ``(kernel, record)``; see :func:`deblur.blind.estimate`.
    """
    opts = opts or BlindOptions()
    t0 = time.perf_counter()
    record = EstimationRecord()
    auto = size is None
    full = auto_size(y.shape, opts.max_size) if auto else odd(size)
    record.size_rule = (
        f"automatic: 12% of the shorter side, odd, 7..{opts.max_size} px -> {full}"
        + (", then shrunk level by level to the kernel's extent" if opts.adapt_support else "")
        if auto
        else f"given: {size}" + ("" if full == size else f" (rounded up to odd {full})")
    )
    if weights is None:
        weights = clipped_mask(y, opts.saturation) if opts.saturation is not None else np.ones_like(y)
    record.clipped_fraction = float(1.0 - weights.mean())

    levels = plan(y.shape, full, opts.ratio, opts.coarsest)
    k = None
    ks = levels[0].ksize
    prev_scale = None
    lam = opts.lam
    edge_t0 = None
    for li, lev in enumerate(levels):
        ys = downsample(y, lev.shape)
        ws = (downsample(weights, lev.shape) > 0.999).astype(np.float64)
        if li == 0:
            k = initial_kernel(ks)
        else:
            k = resample_kernel(k, lev.scale / prev_scale, ks)
        dom = Domain(ys.shape, (ks, ks), workers=opts.workers)
        mask = dom.embed(ws)
        y_grid = dom.embed(ws * ys)
        n_obs = max(1.0, float(mask.sum()))
        x = dom.pad_latent(ys)
        if not opts.lam_carry:
            lam = opts.lam
        if edge_t0 is None:
            edge_t0 = edge_threshold(ys, ks, opts.edge_per_bin) if opts.edge_per_bin > 0 else 0.0
        edge_t = edge_t0
        record.levels.append({"scale": lev.scale, "shape": list(lev.shape), "support": ks})
        for it in range(opts.iterations):
            x = l0_latent(dom, y_grid, mask, k, x, lam, opts.beta_max, opts.kappa, opts.latent_steps)
            R, b = kernel_moments(dom, x, y_grid, mask, edge_t)
            k_start = k if opts.kernel_init == "warm" else np.full_like(k, 1.0 / k.size)
            k_new, obj = kernel_descent(R, b, k_start, opts.kernel_weight, opts.kernel_steps, opts.kernel_projection)
            k_new = cleanup(k_new, opts.threshold, opts.min_component)
            dy, dx = centre_shift(k_new)
            k_new = shift_kernel(k_new, (dy, dx))
            x = np.roll(x, (-dy, -dx), axis=(0, 1))
            change = float(np.abs(k_new - k).sum())
            k = k_new
            data, prior = latent_cost(dom, y_grid, mask, k, x, lam, lam / opts.beta_max)
            record.append(
                level=li,
                iteration=it + 1,
                scale=lev.scale,
                support=ks,
                lam=lam,
                cost=(data + prior) / n_obs,
                data=data / n_obs,
                prior=prior / n_obs,
                kernel_objective=obj,
                kernel_change=change,
                elapsed=time.perf_counter() - t0,
            )
            lam = max(lam / opts.lam_decay, opts.lam_min)
            edge_t /= opts.edge_decay
        prev_scale = lev.scale
        if li + 1 < len(levels):
            nxt = levels[li + 1]
            ks = nxt.ksize
            if auto and opts.adapt_support:
                r = extent(k) * nxt.scale / lev.scale
                ks = min(ks, odd(2 * math.ceil(1.25 * r + opts.margin) + 1))
    if auto and opts.adapt_support:
        out = fit_support(k, min(k.shape[0], odd(2 * (extent(k) + 2) + 1)))
    else:
        out = fit_support(k, full)
    record.size = out.shape[0]
    record.elapsed = time.perf_counter() - t0
    record.message = f"estimated a {out.shape[0]}x{out.shape[0]} kernel in {record.elapsed:.1f} s"
    return out, record

