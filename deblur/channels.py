"""The solver run on each channel of a prepared restore (:func:`deblur.api.prepare`).

Per channel: its observed image (an opponent channel, or the channel as
given), its weight, box, mask and preconditioner, the colour differences on
a grid twice as coarse (:mod:`deblur.coarse`), then the descent. The tiled
restore reaches this through :func:`deblur.api.solve_plan` too, once per
channel of each tile. With an estimated kernel the output is checked
(:func:`restored_without_harm`) and, when it damaged the photo, replaced by the
photo as it was; so is the output of an estimation that fell back.
"""

import math
import time
import warnings

import numpy as np

from . import coarse
from . import color as color_module
from .errors import StepSizeWarning
from .images import to_float
from .operators import BlurOperator
from .preconditioners import CosinePreconditioner, FourierPreconditioner
from .solver import GradientDescent, Options, Problem
from .weights import image_weight

__all__ = ["_solve_channels", "restored_without_harm"]


def _preconditioner(name, boundary, operator, mu, dtype):
    """The preconditioner of one channel's problem (None for 'none')."""
    if name != "fourier":
        return None
    if boundary == "reflect":
        return CosinePreconditioner(operator.psf, operator.domain_shape, mu, dtype)
    return FourierPreconditioner(
        operator.psf,
        operator.domain_shape,
        mu,
        dtype,
        periodic=boundary == "periodic",
        buffer=operator.spectral_buffer,
        kernel_spectrum=operator.kernel_spectrum,
    )


def _metrics_for(reference_channel, scale=1.0):
    """PSNR/SSIM of a frame image, times ``scale``, against one reference channel."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    ref = np.asarray(reference_channel, dtype=np.float64)
    can_ssim = min(ref.shape) >= 7

    def metrics(frame):
        est = np.asarray(frame, dtype=np.float64) * scale
        mse = float(np.mean((est - ref) ** 2))
        psnr = math.inf if mse == 0 else float(peak_signal_noise_ratio(ref, est, data_range=1.0))
        ssim = float(structural_similarity(ref, est, data_range=1.0)) if can_ssim else math.nan
        return psnr, ssim

    return metrics


def _channel_problem(plan, c, observed, lam):
    """One channel's problem: its operator, weight, mask and view (the colour differences on a coarser grid)."""
    options, reg, kernel = plan.options, plan.regularizer, plan.kernel
    # the smooth colour differences on a grid twice as coarse (deblur/coarse.py)
    if plan.opponent and c > 0 and options.boundary != "periodic" and coarse.fits(observed.shape, kernel):
        frame = observed.shape
        observed = coarse.half_image(observed)
        operator = BlurOperator(coarse.half_kernel(kernel), observed.shape, options.boundary, plan.dtype)
        view = lambda image, frame=frame: coarse.upsample(image, frame)  # noqa: E731
        return observed, operator, lam * coarse.weight_scale(reg), coarse.half_mask(plan.data_mask), view
    return observed, plan.operator, lam, plan.data_mask, None


def _solve_channels(plan):
    """Run the solver on each channel of ``plan``; the restored channels (working dtype) and the runs' facts.

    With ``clipped='auto'`` and clipped pixels (``plan.clipped_pending``), each
    channel that censors is first restored with them kept; when that restore
    does not explain the photo round them (:mod:`deblur.clipped`), the mask is
    set and the channels are solved again from the first.
    """
    runs = []
    # each channel's answer goes straight into the output (no list of copies to stack)
    out = np.empty(plan.image.shape, dtype=plan.dtype)
    start = time.perf_counter()
    c, warn = 0, True
    while c < plan.n_channels:
        beyond_white, facts = _solve_channel(plan, c, out, start, warn)
        if beyond_white:
            plan.data_mask, plan.clipped_pending = plan.clipped_pending, None
            runs, c, warn = [], 0, False
            continue
        runs.append(facts)
        c += 1
    return out, runs


def _censored(plan, c):
    """A clipped pixel bounds the luminance (and each RGB channel) from below; its colour differences it does not bound."""
    # left out of the colour differences' data term instead (fitted as observed, night scenes
    # lost 0.9-1.8 dB in benchmarks/blind_scenes.py)
    return not (plan.opponent and c > 0)


def _lights_beyond_white(plan, operator, latent, observed, sigma):
    """True when the kept model's restore of one channel misfits round its clipped pixels (the settings say by how much)."""
    from .clipped import MAX_KEPT_MISFIT, near_clipped_misfit

    misfit = near_clipped_misfit(operator, latent, observed, plan.clipped_pending, sigma)
    if not math.isnan(misfit):  # the settings keep the largest of the channels judged
        plan.clipped_misfit = max(misfit, plan.clipped_misfit or 0.0)
    return misfit > MAX_KEPT_MISFIT


def _solve_channel(plan, c, out, start, warn=True):
    """Restore channel ``c`` of ``plan`` into ``out[..., c]``; whether its clipped pixels must be censored, and the run's facts.

    The first is True only while ``clipped='auto'`` is pending, for a channel that censors
    and whose kept model does not explain the photo round its clipped pixels.
    """
    options, reg, dtype, n_channels = plan.options, plan.regularizer, plan.dtype, plan.n_channels
    if plan.opponent:
        observed = np.ascontiguousarray(color_module.opponent_channel(plan.rgb, c))
    else:
        observed = np.ascontiguousarray(to_float(plan.image[..., c], dtype))
    lam, sigma = image_weight(observed, reg.name) if options.weight == "auto" else (options.weight, None)
    lam *= plan.model_factor
    bounds = (min(0.0, float(observed.min())), max(1.0, float(observed.max()))) if options.clip else None
    censored = _censored(plan, c)
    # a censored pixel saw a light brighter than the sensor's white: capped at the
    # white level, the model reaches a clipped value only with the kernel's whole
    # footprint at white, and every light blooms by the kernel's size; the image
    # returned is put back in the box
    lifted = bounds is not None and censored and plan.data_mask is not None
    observed, channel_op, channel_lam, channel_mask, view = _channel_problem(plan, c, observed, lam)
    precond = _preconditioner(options.preconditioner, options.boundary, channel_op, channel_lam * reg.curvature, dtype)
    solve_bounds = (bounds[0], math.inf) if lifted else bounds
    problem = Problem(channel_op, observed, reg, channel_lam, solve_bounds, precond, channel_mask, censored=censored)
    channel_options = plan.solver_options
    if channel_options.time_limit is not None:
        remaining = channel_options.time_limit - (time.perf_counter() - start)
        channel_options = Options(**{**channel_options.__dict__,
                                     "time_limit": max(remaining / (n_channels - c), 1e-3)})
    lr = plan.solver_options.lr
    if lr is not None and lr > 2.0 / problem.lipschitz and c == 0 and warn:
        warnings.warn(
            f"step size lr={lr:.3g} is above the stability limit 2/L = {2.0 / problem.lipschitz:.3g}: "
            "plain gradient descent diverges there; the solver will halve it when the cost rises",
            StepSizeWarning,
            stacklevel=5,
        )
    metrics = None
    if plan.reference is not None:
        # errors are measured in the orthonormal basis, where they add up as in RGB
        span = color_module.OPPONENT_SPAN[c] if plan.opponent else 1.0
        metrics = _metrics_for(plan.reference[..., c] * span, span)
    run = GradientDescent(
        problem, channel_op.initial_guess(observed), channel_options, plan.callback, metrics, c, view=view
    ).run()
    image_view = run.image if view is None else view(run.image)
    run.release()  # drop the solver's work arrays before the answer is copied out
    beyond_white = (plan.clipped_pending is not None and censored and view is None
                    and _lights_beyond_white(plan, channel_op, run.x, observed, sigma))
    out[..., c] = image_view
    if lifted:
        np.clip(out[..., c], *bounds, out=out[..., c])
    del image_view
    if plan.opponent and sigma is not None:
        sigma = sigma * color_module.OPPONENT_SPAN[c]
    facts = (run.history, run.events, lam, sigma, run.stop_reason, run.lipschitz, run.iteration)
    return beyond_white, facts


def _check_region(shape, crop, max_pixels=2_000_000):
    """Where to check a large photo's restore: the estimation's window (or the frame), at most ``max_pixels`` around its centre."""
    top, left, h, w = crop if crop is not None else (0, 0) + tuple(shape)
    shrink = min(1.0, math.sqrt(max_pixels / float(h * w)))
    ch, cw = max(1, int(h * shrink)), max(1, int(w * shrink))
    top, left = top + (h - ch) // 2, left + (w - cw) // 2
    return slice(top, top + ch), slice(left, left + cw)


def restored_without_harm(plan):
    """The solver's output; the photo as it was when the estimation fell back or the estimated kernel's restore damaged it.

    Damage: ringing or amplified noise on the photo's flat half, or a restore that,
    blurred again, does not give the photo back (:mod:`deblur.blind.harm`).
    The fallback is said as the estimation's own fallbacks are (record, warning).
    """
    if plan.estimation is not None and plan.estimation.status == "fallback":
        return _unchanged(plan)
    out, runs = _solve_channels(plan)
    if plan.estimation is None or not plan.estimation.ok:
        return out, runs
    why = _harm(plan, out)
    if not why:
        return out, runs
    from .blind import BlindEstimationWarning

    record = plan.estimation
    record.status, record.confidence, record.reason, record.size = "fallback", 0.0, why, 3
    record.message = f"could not use the estimated blur: {why}; {UNCHANGED}"
    warnings.warn(record.message, BlindEstimationWarning, stacklevel=5)
    del out
    return _unchanged(plan)


def _harm(plan, out):
    """Why the restore ``out`` damaged the photo ('' when it did not); the figures go in the estimation's record.

    Both checks of :mod:`deblur.blind.harm`, on the luminance the estimation reads
    (the contact sheet's damage figures are the same).
    """
    from .blind import luminance
    from .blind.harm import MAX_FIT_RESIDUAL, MAX_FLAT_DETAIL_GAIN, fit_residual, flat_detail_gain

    rows, cols = _check_region(plan.image.shape[:2], plan.estimation.crop)
    restored = out[rows, cols]
    if plan.opponent:
        restored = color_module.opponent_to_rgb(np.array(restored))
    before, after = luminance(plan.image[rows, cols], channel_axis=-1), luminance(restored, channel_axis=-1)
    record = plan.estimation
    record.flat_detail_gain = gain = flat_detail_gain(before, after)
    if gain > MAX_FLAT_DETAIL_GAIN:
        return (f"the restore with it rang or amplified noise on the photo's flat areas (fine detail there "
                f"x{gain:.1f} relative to the edges, > {MAX_FLAT_DETAIL_GAIN:g})")
    mask = None if plan.data_mask is None else plan.data_mask[rows, cols]
    record.fit_residual = misfit = fit_residual(before, after, plan.kernel, mask)
    if misfit > MAX_FIT_RESIDUAL:
        return (f"the restore with it does not explain the photo: blurred again by the kernel, it differs from "
                f"the photo by {misfit:.1f} times its noise (> {MAX_FIT_RESIDUAL:g}: a wrong kernel asks for a scene "
                "beyond black or white)")
    return ""


# How a restore says it returned the photo as it was (the record's message ends so).
UNCHANGED = "the photo is left as it was (no blur removed)"


def _unchanged(plan):
    """The photo as it was, for an estimate that was not used: the mildest result (issue 11: do no harm).

    Run as a restore of no iterations with no blur, so the record, the history and
    the plot read as any other; :func:`deblur.api.solve_plan` then returns the input
    itself (``plan.unchanged``). Denoising instead, at the automatic weight, lost up
    to 0.007 dB on textured scenes (``benchmarks/blind_scenes.py``), gains nothing
    visible on a blurred photo, and is a guess no check confirms.
    """
    from .blind.support import delta

    plan.kernel = delta(3)
    plan.operator = BlurOperator(plan.kernel, plan.image.shape[:2], plan.options.boundary, plan.dtype)
    plan.model_factor, plan.data_mask, plan.clipped_pending = 1.0, None, None
    plan.solver_options = Options(**{**plan.solver_options.__dict__, "max_num_iter": 0})
    plan.unchanged = True
    return _solve_channels(plan)
