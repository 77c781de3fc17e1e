"""The public front door: :func:`solve` and :func:`restore`.

Validation and dtype handling live here; the maths lives in
``operators``/``regularizers``/``solver``. Only float32 and float64 ever
reach the Numba kernels.
"""

import math
import numbers
import time
import warnings

import numpy as np

from . import coarse
from . import color as color_module
from .images import check_image, from_float, to_float
from . import psf as psf_module
from .operators import BlurOperator
from .options import BOUNDARIES, COLOR_SPACES, DEFAULTS, MOMENTA, PRECISIONS, PRECONDITIONERS, SCHEDULES, VARIANTS, check_choice
from .preconditioners import CosinePreconditioner, FourierPreconditioner
from .regularizers import make_regularizer
from .result import History, SolveResult, overall_stop_reason
from .schedules import check_decay
from .solver import GradientDescent, Options, Problem
from .warnings import StepSizeWarning
from .weights import image_weight, model_error_factor

__all__ = ["solve", "restore"]

def _is_estimate(psf):
    return isinstance(psf, str) and psf.strip().lower().partition(":")[0].strip() == "estimate"


def _resolve_psf(psf, channels_last):
    """The kernel, and the blind estimation's record when ``psf`` is ``'estimate[:size=N]'``."""
    frame_shape = channels_last.shape[:2]
    if _is_estimate(psf):
        from . import blind

        gray = channels_last.shape[-1] == 1
        image = channels_last[..., 0] if gray else channels_last
        kernel, record = blind.estimate(image, blind.parse_spec(psf), channel_axis=None if gray else -1)
        if getattr(record, "status", None) == "fallback":
            warnings.warn(record.message, blind.BlindEstimationWarning, stacklevel=3)
        return kernel, record
    if isinstance(psf, (str,)) or hasattr(psf, "__fspath__"):
        kernel = psf_module.parse(psf)
    else:
        kernel = psf_module.validate(psf)
    if kernel.shape[0] > frame_shape[0] or kernel.shape[1] > frame_shape[1]:
        raise ValueError(
            f"the PSF ({kernel.shape[0]}x{kernel.shape[1]}) is larger than the image "
            f"({frame_shape[0]}x{frame_shape[1]}); use a smaller PSF or a larger image"
        )
    return kernel, None


# A restore treats as clipped only what reached the white level (the last 8-bit code,
# give or take rounding); the estimation's looser 0.98 would also censor a white page's
# noise, whose upper half would then pull the page brighter.
CLIPPED_LEVEL = 1.0 - 1.0 / 255.0


def _clipped_mask(channels_last):
    """True where a pixel is fitted as observed: not a clipped highlight (nor next to one)."""
    from .blind.outliers import clipped_mask

    return np.ascontiguousarray(clipped_mask(to_float(channels_last, np.dtype(np.float32)), CLIPPED_LEVEL) > 0)


def _positive_number(name, value, allow_none=True, allow_zero=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def _check_options(schedule, lr, momentum, variant, max_num_iter, tol, gtol, time_limit, batch_fraction, decay, seed):
    check_choice("schedule", schedule, SCHEDULES)
    check_choice("momentum", momentum, MOMENTA)
    check_choice("variant", variant, VARIANTS)
    lr = _positive_number("lr (step size)", lr)
    if lr is not None and schedule == "auto":
        schedule = "constant"  # an explicit step replaces eta = 1/L
    if max_num_iter is None:
        max_num_iter = DEFAULTS["max_num_iter"]
    if isinstance(max_num_iter, bool) or not isinstance(max_num_iter, numbers.Integral) or max_num_iter < 0:
        raise ValueError(f"max_num_iter must be a non-negative integer, got {max_num_iter!r}")
    batch_fraction = _positive_number("batch_fraction", batch_fraction, allow_none=False)
    if batch_fraction > 1:
        raise ValueError(f"batch_fraction must be in (0, 1], got {batch_fraction!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return Options(
        schedule=schedule,
        lr=lr,
        decay=check_decay(schedule, decay),
        momentum=momentum,
        variant=variant,
        batch_fraction=batch_fraction,
        max_num_iter=int(max_num_iter),
        tol=_positive_number("tol", tol, allow_zero=True),
        gtol=_positive_number("gtol", gtol, allow_zero=True),
        time_limit=_positive_number("time_limit", time_limit),
        seed=seed,
    )


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


def solve(
    image,
    psf,
    *,
    channel_axis=None,
    regularizer=DEFAULTS["regularizer"],
    weight=DEFAULTS["weight"],
    boundary=DEFAULTS["boundary"],
    schedule=DEFAULTS["schedule"],
    lr=None,
    momentum=DEFAULTS["momentum"],
    preconditioner=DEFAULTS["preconditioner"],
    variant=DEFAULTS["variant"],
    max_num_iter=None,
    tol=DEFAULTS["tol"],
    gtol=None,
    time_limit=None,
    clip=True,
    precision=DEFAULTS["precision"],
    seed=None,
    batch_fraction=DEFAULTS["batch_fraction"],
    decay=None,
    reference=None,
    callback=None,
    eps=None,
    p=0.8,
    clipped="auto",
    color_space=DEFAULTS["color_space"],
):
    """Restore a blurred image by gradient descent and return the full record.

    Minimises ``0.5 * ||k * x - y||^2 + weight * R(x)`` over the sharp image
    ``x`` by gradient descent ``x <- x - eta * grad``.

    Parameters
    ----------
    image : ndarray
        Blurred image: 2-D gray, or 3-D colour with ``channel_axis``. Float
        (values nominally in [0, 1]), uint8 or uint16.
    psf : ndarray or str
        The blur kernel (convolution orientation), or a spec string
        (``"gaussian:sigma=2"``, ``"disk:radius=3"``,
        ``"motion:length=15,angle=30"``, ``"box:size=5"``), or a kernel
        file path (see :mod:`deblur.psf`), or ``"estimate"`` /
        ``"estimate:size=N"`` to estimate it from the image itself (blind
        deconvolution, :mod:`deblur.blind`; colour on its luminance).
    channel_axis : int or None
        Axis of the colour channels; the channels are restored one after
        another (see ``color_space``).
    regularizer : {'hyper-laplacian', 'tv', 'tikhonov', 'none'}
        The penalty ``R`` on image gradients (see :mod:`deblur.regularizers`).
    weight : 'auto' or float
        lambda. ``'auto'`` sets it from the estimated noise level (see
        :mod:`deblur.weights`); with ``psf='estimate'`` from the residual the
        blind model leaves when that is larger (kernel errors count as noise:
        :func:`deblur.weights.model_error_factor`).
    boundary : {'valid', 'reflect', 'periodic'}
        Boundary model. 'valid' (default) solves for the scene beyond the
        frame as well, so nothing outside the frame is guessed and edges do
        not ring.
    schedule : {'auto', 'constant', 'exponential', 'step', 'inverse-time', 'cosine', 'armijo', 'bb'}
        Step-size schedule (see :mod:`deblur.schedules`). 'auto' is
        ``eta = 1/L``; giving ``lr`` with 'auto' means 'constant'.
    lr : float, optional
        Base step size eta0 (default ``1/L``). Above the stability limit
        ``2/L`` a :class:`StepSizeWarning` is issued and the solver backs off.
    momentum : {'nesterov', 'heavy-ball', 'none'}
        Nesterov's accelerated gradient with adaptive restart (default),
        Polyak's heavy ball (beta = 0.8), or plain gradient descent.
    preconditioner : {'fourier', 'none'}
        Descend along ``P grad`` with the circulant preconditioner of
        :mod:`deblur.preconditioners` (default: converges in tens of
        iterations; in the cosine basis for 'reflect'), or along the plain
        gradient ('none': the textbook method, hundreds of iterations). ``L`` and the limit ``2/L`` are
        measured in the preconditioner's metric.
    variant : {'full', 'minibatch', 'stochastic'}
        Gradient of the data term from all pixels, from random 32x32 tiles,
        or from random pixels; the latter two cover ``batch_fraction`` of
        the image per step, rescaled to stay unbiased, seeded by ``seed``.
    max_num_iter : int, optional
        Iteration budget (default 30).
    tol : float or None
        Stop when the cost fell by less than ``tol`` (relative) per
        iteration over the last 10 iterations.
    gtol : float or None
        Stop when the gradient norm falls below ``gtol`` times its first value.
    time_limit : float or None
        Stop after this many seconds (shared among channels).
    clip : bool
        Keep the image in the box ``[min(0, y), max(1, y)]`` by projection.
    precision : {'float32', 'float64'}
        Working precision; the output keeps the input's dtype either way.
    seed : int or None
        Seed for the stochastic variants.
    batch_fraction : float
        Share of the pixels per step for 'minibatch' and 'stochastic'.
    decay : float, optional
        Parameter of the decaying schedules (defaults in :mod:`deblur.schedules`).
    reference : ndarray, optional
        The sharp image, same shape as ``image``: the history then records
        PSNR and SSIM per iteration.
    callback : callable, optional
        ``callback(state)`` after every iteration; a true return value stops.
        ``state`` has ``iteration``, ``image``, ``cost``, ``step``, ``grad_norm``.
    eps, p : float
        Smoothing of 'tv' / 'hyper-laplacian' and the latter's exponent.
    clipped : {'auto', 'ignore', 'keep'}
        Saturated highlights break the blur model (the sensor clipped them),
        and fitting them makes halos. 'ignore' treats pixels at the white
        level (``>= 254/255``) in any channel, and one pixel around them, as censored: the
        restored image, blurred, must reach at least their value, but may
        exceed it (a light brighter than the sensor's white; after Cho, Wang
        and Lee, ICCV 2011, who leave them out, which lets lights fade); in
        the colour differences of the opponent basis they bound nothing and
        are left out. 'keep' fits every pixel; 'auto' ignores them when a
        blur was estimated, keeps them otherwise.
    color_space : {'opponent', 'rgb'}
        How a three-channel image is restored: in an orthonormal luminance /
        colour-difference basis (default; the smooth colour differences get
        the stronger regularisation their content calls for, see
        :mod:`deblur.color`), or channel by channel as given. Other channel
        counts are always restored as given. The history's PSNR is that of
        the whole image either way; its SSIM is the mean over the channels
        the solver restored, and ``callback`` sees those channels.

    Returns
    -------
    SolveResult
        ``image`` (same shape and dtype as the input), ``psf``, ``history``,
        ``stop_reason``, ``iterations``, ``events``, ``weight``, ``noise_sigma``.

    Raises
    ------
    ValueError, TypeError
        On bad input, with a message saying how to fix the call.

    Examples
    --------
    >>> import numpy as np, deblur
    >>> y = np.random.default_rng(0).random((48, 48))
    >>> result = deblur.solve(y, "gaussian:sigma=1", max_num_iter=5)
    >>> result.image.shape, result.iterations
    ((48, 48), 5)
    """
    check_choice("boundary", boundary, BOUNDARIES)
    check_choice("precision", precision, PRECISIONS)
    check_choice("preconditioner", preconditioner, PRECONDITIONERS)
    check_choice("clipped", clipped, ("auto", "ignore", "keep"))
    check_choice("color_space", color_space, COLOR_SPACES)
    channels_last = check_image(image, channel_axis)
    kernel, estimation = _resolve_psf(psf, channels_last)
    # an estimation that found no blur leaves nothing for the clipped model to explain
    estimated = estimation is not None and estimation.ok
    ignore_clipped = clipped == "ignore" or (clipped == "auto" and estimated)
    data_mask = _clipped_mask(channels_last) if ignore_clipped else None
    if data_mask is not None and data_mask.all():
        data_mask = None
    reg = make_regularizer(regularizer, eps=eps, p=p)
    if not (isinstance(weight, str) and weight == "auto"):
        weight = _positive_number("weight", weight, allow_none=False, allow_zero=True)
    options = _check_options(schedule, lr, momentum, variant, max_num_iter, tol, gtol, time_limit, batch_fraction, decay, seed)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable, e.g. lambda state: state.iteration >= 50")
    ref = None
    if reference is not None:
        ref = check_image(reference, channel_axis, name="reference")
        if ref.shape != channels_last.shape:
            raise ValueError(f"reference has shape {np.shape(reference)}, the image {np.shape(image)}: they must match")
        ref = to_float(ref, np.dtype(np.float64))

    dtype = np.dtype(precision)
    operator = BlurOperator(kernel, channels_last.shape[:2], boundary, dtype)
    n_channels = channels_last.shape[-1]
    opponent = color_space == "opponent" and n_channels == 3
    if opponent:
        rgb = to_float(channels_last, dtype)
        # the box of clip=True, per RGB channel: the opponent channels' own boxes are looser
        rgb_box = (np.minimum(0.0, rgb.min(axis=(0, 1))), np.maximum(1.0, rgb.max(axis=(0, 1))))
        if ref is not None:
            ref = color_module.rgb_to_opponent(ref)
    model_factor = 1.0
    if estimated and weight == "auto":  # kernel errors count as noise (weights.model_error_factor)
        model_factor = model_error_factor(estimation.model_sigma, estimation.noise_sigma, reg.name)
    histories, events, weights, sigmas, reasons, iterations, lipschitz = [], [], [], [], [], [], []
    # each channel's answer goes straight into the output (no list of copies to stack)
    out = np.empty(channels_last.shape, dtype=dtype)
    start = time.perf_counter()
    for c in range(n_channels):
        if opponent:
            observed = np.ascontiguousarray(color_module.opponent_channel(rgb, c))
        else:
            observed = np.ascontiguousarray(to_float(channels_last[..., c], dtype))
        lam, sigma = image_weight(observed, reg.name) if weight == "auto" else (weight, None)
        lam *= model_factor
        bounds = (min(0.0, float(observed.min())), max(1.0, float(observed.max()))) if clip else None
        # a clipped pixel bounds the luminance (and each RGB channel) from below; its colour
        # differences it does not bound, and they leave the data term there (fitted as
        # observed instead, night scenes lost 0.9-1.8 dB in benchmarks/blind_scenes.py)
        censored = not (opponent and c > 0)
        # the smooth colour differences on a grid twice as coarse (deblur/coarse.py)
        view = None
        if opponent and c > 0 and boundary != "periodic" and coarse.fits(observed.shape, kernel):
            frame = observed.shape
            observed = coarse.half_image(observed)
            channel_op = BlurOperator(coarse.half_kernel(kernel), observed.shape, boundary, dtype)
            channel_lam, channel_mask = lam * coarse.weight_scale(reg), coarse.half_mask(data_mask)
            view = lambda image, frame=frame: coarse.upsample(image, frame)  # noqa: E731
        else:
            channel_op, channel_lam, channel_mask = operator, lam, data_mask
        precond = _preconditioner(preconditioner, boundary, channel_op, channel_lam * reg.curvature, dtype)
        problem = Problem(channel_op, observed, reg, channel_lam, bounds, precond, channel_mask, censored=censored)
        channel_options = options
        if options.time_limit is not None:
            remaining = options.time_limit - (time.perf_counter() - start)
            channel_options = Options(**{**options.__dict__, "time_limit": max(remaining / (n_channels - c), 1e-3)})
        if options.lr is not None and options.lr > 2.0 / problem.lipschitz and c == 0:
            warnings.warn(
                f"step size lr={options.lr:.3g} is above the stability limit 2/L = {2.0 / problem.lipschitz:.3g}: "
                "plain gradient descent diverges there; the solver will halve it when the cost rises",
                StepSizeWarning,
                stacklevel=2,
            )
        metrics = None
        if ref is not None:
            # errors are measured in the orthonormal basis, where they add up as in RGB
            span = color_module.OPPONENT_SPAN[c] if opponent else 1.0
            metrics = _metrics_for(ref[..., c] * span, span)
        run = GradientDescent(
            problem, channel_op.initial_guess(observed), channel_options, callback, metrics, c, view=view
        ).run()
        image_view = run.image if view is None else view(run.image)
        run.release()  # drop the solver's work arrays before the answer is copied out
        out[..., c] = image_view
        del image_view
        histories.append(run.history)
        events.extend(run.events)
        weights.append(lam)
        sigmas.append(sigma * color_module.OPPONENT_SPAN[c] if opponent and sigma is not None else sigma)
        reasons.append(run.stop_reason)
        lipschitz.append(run.lipschitz)
        iterations.append(run.iteration)
        del run, problem, observed, precond, channel_op

    if opponent:
        del rgb
    if opponent:
        color_module.opponent_to_rgb(out, out=out)
        if clip:
            np.clip(out, rgb_box[0].astype(out.dtype), rgb_box[1].astype(out.dtype), out=out)
    if channel_axis is None:
        out = out[..., 0]
    else:
        out = np.moveaxis(out, -1, channel_axis)
    out = from_float(out, np.asarray(image).dtype)
    single = channel_axis is None
    settings = dict(
        regularizer=reg.name,
        eps=reg.eps,
        p=reg.p,
        boundary=boundary,
        schedule=options.schedule,
        lr=options.lr,
        decay=options.decay,
        momentum=options.momentum,
        preconditioner=preconditioner,
        variant=options.variant,
        batch_fraction=options.batch_fraction,
        max_num_iter=options.max_num_iter,
        tol=options.tol,
        gtol=options.gtol,
        time_limit=options.time_limit,
        clip=clip,
        color_space=color_space if opponent else "rgb",
        precision=precision,
        seed=seed,
        engine=operator.engine,
        clipped_pixels_ignored=0 if data_mask is None else int(data_mask.size - np.count_nonzero(data_mask)),
        model_error_factor=model_factor,
        lipschitz=lipschitz,
    )
    return SolveResult(
        image=out,
        psf=kernel,
        history=History.merge(histories),
        stop_reason=overall_stop_reason(reasons),
        iterations=max(iterations),
        events=events,
        weight=weights[0] if single else weights,
        noise_sigma=sigmas[0] if single else sigmas,
        settings=settings,
        psf_estimation=estimation,
    )


def restore(image, psf, **options):
    """Restore a blurred image; returns only the image (same shape and dtype).

    Takes the same arguments as :func:`solve`.

    Examples
    --------
    >>> import numpy as np, deblur
    >>> y = np.full((32, 32, 3), 128, dtype=np.uint8)
    >>> out = deblur.restore(y, "disk:radius=2", channel_axis=-1, max_num_iter=3)
    >>> out.dtype, out.shape
    (dtype('uint8'), (32, 32, 3))
    """
    return solve(image, psf, **options).image
