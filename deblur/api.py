"""The public front door: :func:`solve` and :func:`restore`, one pipeline.

Every restore takes the same two steps: :func:`prepare` validates the image
and the options (:class:`~deblur.options.SolveOptions`), resolves the kernel
(or estimates it), and plans the colour basis and the data mask, once;
:func:`solve_plan` then runs the solver on each channel
(:mod:`deblur.channels`) and puts the answer back in the caller's layout
and dtype. The tiled restore (:mod:`deblur.tiled`)
calls the same two per tile. The maths lives in
``operators``/``regularizers``/``solver``; only float32 and float64 ever
reach the Numba kernels.
"""

import contextlib
import inspect
import warnings
from dataclasses import dataclass, fields

import numpy as np

from . import color as color_module
from . import psf as psf_module
from .channels import UNCHANGED, restored_without_harm
from .clipped import planned_masks
from .errors import ArgumentError, ArgumentTypeError, InputError
from .images import check_image, from_float, to_float
from .operators import BlurOperator
from .options import SolveOptions
from .regularizers import make_regularizer
from .result import History, SolveResult, overall_stop_reason
from .schedules import check_decay
from .solver import Options
from .weights import model_error_factor

__all__ = ["solve", "restore", "prepare", "solve_plan", "Plan", "resolve_kernel"]


@contextlib.contextmanager
def _arguments():
    """The core's own checks of an argument (a regulariser's eps, a schedule's decay) as deblur's ArgumentError."""
    try:
        yield
    except (ArgumentError, ArgumentTypeError):
        raise
    except TypeError as exc:
        raise ArgumentTypeError(str(exc)) from exc
    except ValueError as exc:
        raise ArgumentError(str(exc)) from exc


def resolve_kernel(psf, frame_shape):
    """The kernel array of a spec string, kernel file or array (:mod:`deblur.psf`), no larger than the frame."""
    if isinstance(psf, str) or hasattr(psf, "__fspath__"):
        kernel = psf_module.parse(psf)
    else:
        kernel = psf_module.validate(psf)
    if kernel.shape[0] > frame_shape[0] or kernel.shape[1] > frame_shape[1]:
        raise InputError(
            f"the PSF ({kernel.shape[0]}x{kernel.shape[1]}) is larger than the image "
            f"({frame_shape[0]}x{frame_shape[1]}); use a smaller PSF or a larger image"
        )
    return kernel


def _resolve_psf(psf, channels_last):
    """The kernel, and the blind estimation's record when ``psf`` is ``'estimate[:size=N]'``."""
    if psf_module.is_estimate(psf):
        from . import blind

        with _arguments():
            size = blind.parse_spec(psf)
        gray = channels_last.shape[-1] == 1
        image = channels_last[..., 0] if gray else channels_last
        kernel, record = blind.estimate(image, size, channel_axis=None if gray else -1)
        if getattr(record, "status", None) == "fallback":
            # the restore returns the photo as it was, not a restore with a delta (channels._unchanged)
            record.message = f"could not estimate the blur: {record.reason}; {UNCHANGED}"
            warnings.warn(record.message, blind.BlindEstimationWarning, stacklevel=4)
        return kernel, record
    return resolve_kernel(psf, channels_last.shape[:2]), None


@dataclass
class Plan:
    """A validated restore, ready to run: what :func:`prepare` decided, for :func:`solve_plan`.

    ``image`` is channels last (the luma alone for ``color_space='luma'``, whose ``chroma`` is put
    back after the solve); ``rgb`` (and ``rgb_box``, the box of ``clip`` per RGB channel) is set when
    the channels are restored in the opponent basis, ``reference`` is float64 in the basis restored.
    """

    image: np.ndarray
    input_dtype: np.dtype
    channel_axis: object
    kernel: np.ndarray
    estimation: object
    options: SolveOptions
    solver_options: Options
    regularizer: object
    dtype: np.dtype
    operator: BlurOperator
    opponent: bool
    rgb: object
    rgb_box: object
    data_mask: object
    model_factor: float
    reference: object
    callback: object
    chroma: object = None
    source: object = None  # the image as passed: what an unchanged restore returns
    unchanged: bool = False  # set by the run: the estimate was not used, the photo is returned as it was
    clipped_pending: object = None  # clipped='auto': the mask the run censors with if the kept model misfits
    clipped_misfit: object = None  # set by the run: the kept model's misfit round the clipped pixels (deblur.clipped)

    @property
    def luma(self):
        """True when only the luma is restored (``color_space='luma'`` on a three-channel image)."""
        return self.chroma is not None

    @property
    def n_channels(self):
        return self.image.shape[-1]


def prepare(image, psf, options=None, *, channel_axis=None, reference=None, callback=None):
    """Validate a restore and plan it: kernel, colour basis, data mask, solver settings.

    Parameters
    ----------
    image, psf, channel_axis, reference, callback
        As for :func:`solve`.
    options : SolveOptions, optional
        The solver options (default: all defaults).

    Returns
    -------
    Plan

    Raises
    ------
    deblur.errors.UsageError
        (a ``ValueError`` or ``TypeError`` as well) on a bad call, with a
        message saying how to fix it.
    """
    options = SolveOptions() if options is None else options
    channels_last = check_image(image, channel_axis)
    dtype = np.dtype(options.precision)
    chroma = None
    if options.color_space == "luma" and channels_last.shape[-1] == 3:
        # only the luma is restored (and estimated, and masked); the chroma is put back as it was
        rgb_shape = channels_last.shape
        luma, chroma = color_module.split_luma(to_float(channels_last, dtype))
        channels_last = luma[..., np.newaxis]
    kernel, estimation = _resolve_psf(psf, channels_last)
    estimated = estimation is not None and estimation.ok
    data_mask, clipped_pending = planned_masks(options.clipped, channels_last, kernel, estimation)
    with _arguments():
        reg = make_regularizer(options.regularizer, eps=options.eps, p=options.p)
        decay = check_decay(options.resolved_schedule, options.decay)
    # the solver's own settings, by name from the schema (an option the descent reads is declared twice only)
    loop = {f.name: getattr(options, f.name) for f in fields(Options)}
    solver_options = Options(**{**loop, "schedule": options.resolved_schedule, "decay": decay})
    if callback is not None and not callable(callback):
        raise ArgumentTypeError("callback must be callable, e.g. lambda state: state.iteration >= 50")
    ref = None
    if reference is not None:
        ref = check_image(reference, channel_axis, name="reference")
        if ref.shape != (channels_last.shape if chroma is None else rgb_shape):
            raise InputError(f"reference has shape {np.shape(reference)}, the image {np.shape(image)}: they must match")
        if chroma is not None:  # its luma, formed in the working precision as the image's
            ref = color_module.split_luma(to_float(ref, dtype))[0][..., np.newaxis]
        ref = to_float(ref, np.dtype(np.float64))

    operator = BlurOperator(kernel, channels_last.shape[:2], options.boundary, dtype)
    opponent = options.color_space == "opponent" and channels_last.shape[-1] == 3
    rgb = rgb_box = None
    if opponent:
        rgb = to_float(channels_last, dtype)
        # the box of clip=True, per RGB channel: the opponent channels' own boxes are looser
        rgb_box = (np.minimum(0.0, color_module.channel_extreme(rgb, np.min)), np.maximum(1.0, color_module.channel_extreme(rgb, np.max)))
        if ref is not None:
            ref = color_module.rgb_to_opponent(ref)
    model_factor = 1.0
    if estimated and options.weight == "auto":  # kernel errors count as noise (weights.model_error_factor)
        model_factor = model_error_factor(estimation.model_sigma, estimation.noise_sigma, reg.name)
    return Plan(
        image=channels_last, input_dtype=np.asarray(image).dtype, channel_axis=channel_axis, kernel=kernel,
        estimation=estimation, options=options, solver_options=solver_options, regularizer=reg, dtype=dtype,
        operator=operator, opponent=opponent, rgb=rgb, rgb_box=rgb_box, data_mask=data_mask, clipped_pending=clipped_pending,
        model_factor=model_factor, reference=ref, callback=callback, chroma=chroma, source=np.asarray(image),
    )


def solve_plan(plan):
    """Run a :class:`Plan` (see :func:`prepare`); the :class:`SolveResult` of :func:`solve`."""
    out, runs = restored_without_harm(plan)
    histories, events, weights, sigmas, reasons, lipschitz, iterations = zip(*runs)
    options = plan.options
    luma = plan.luma
    if plan.unchanged:  # the estimate was not used: the input itself, not its round trip through the solve's basis
        out = np.array(plan.source, copy=True)
        reasons = ("unchanged",)
    else:
        if luma:  # the restored luma with the chroma as it was (no box: the chroma is kept exactly)
            out = color_module.merge_luma(out[..., 0], plan.chroma)
            plan.chroma = None
        elif plan.opponent:
            plan.rgb = None
            color_module.opponent_to_rgb(out, out=out)
            if options.clip:
                np.clip(out, plan.rgb_box[0].astype(out.dtype), plan.rgb_box[1].astype(out.dtype), out=out)
        out = out[..., 0] if plan.channel_axis is None else np.moveaxis(out, -1, plan.channel_axis)
        out = from_float(out, plan.input_dtype)
    single = plan.channel_axis is None or luma  # one channel solved: one weight
    mask = plan.data_mask
    space = "luma" if luma else "opponent" if plan.opponent else "rgb"
    settings = options.settings(color_space=space, eps=plan.regularizer.eps,
                                p=plan.regularizer.p, decay=plan.solver_options.decay)
    settings.update(
        engine=plan.operator.engine,
        clipped_pixels_ignored=0 if mask is None else int(mask.size - np.count_nonzero(mask)),
        clipped_misfit=plan.clipped_misfit,
        model_error_factor=plan.model_factor,
        lipschitz=list(lipschitz),
    )
    return SolveResult(
        image=out,
        psf=plan.kernel,
        history=History.merge(list(histories)),
        stop_reason=overall_stop_reason(list(reasons)),
        iterations=max(iterations),
        events=[e for channel in events for e in channel],
        weight=weights[0] if single else list(weights),
        noise_sigma=sigmas[0] if single else list(sigmas),
        settings=settings,
        psf_estimation=plan.estimation,
    )


def solve(image, psf, *, channel_axis=None, reference=None, callback=None, **options):
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
        are left out. 'keep' fits every pixel. 'auto' lets the photo decide
        (:mod:`deblur.clipped`): restored with the clipped pixels kept, the
        output blurred again must give the photo back round them within its
        noise (a scene at white: paper, a saturated colour); when it does not
        (a light brighter than white), the restore is run again with them
        ignored (a ``callback`` sees both runs). ``result.settings['clipped_misfit']`` says by how much.
    color_space : {'opponent', 'rgb', 'luma'}
        How a three-channel image is restored: in an orthonormal luminance /
        colour-difference basis (default; the smooth colour differences get
        the stronger regularisation their content calls for, see
        :mod:`deblur.color`), channel by channel as given ('rgb'), or the luma alone ('luma':
        :func:`deblur.color.split_luma`, one channel restored with its own weight, then
        :func:`~deblur.color.merge_luma` puts the chroma back unchanged; about three times faster,
        one ``weight`` and ``noise_sigma``). Other channel counts are always restored as given. The history's PSNR is that of
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
    return solve_plan(prepare(image, psf, SolveOptions.from_kwargs(**options), channel_axis=channel_axis,
                              reference=reference, callback=callback))


def _signature():
    """solve's signature as it reads in help(): the schema's options and their defaults, keyword-only."""
    from dataclasses import fields

    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("image", inspect.Parameter.POSITIONAL_OR_KEYWORD),
              inspect.Parameter("psf", inspect.Parameter.POSITIONAL_OR_KEYWORD),
              inspect.Parameter("channel_axis", keyword, default=None)]
    params += [inspect.Parameter(f.name, keyword, default=f.default) for f in fields(SolveOptions)]
    params += [inspect.Parameter(name, keyword, default=None) for name in ("reference", "callback")]
    return inspect.Signature(params)


solve.__signature__ = _signature()


def restore(image, psf, **options):
    """Restore a blurred image; returns only the image (same shape and dtype).

    Takes the same arguments as :func:`solve`; ``color_space='luma'``
    restores a colour image's brightness only and keeps its colour exactly.

    Examples
    --------
    >>> import numpy as np, deblur
    >>> y = np.full((32, 32, 3), 128, dtype=np.uint8)
    >>> out = deblur.restore(y, "disk:radius=2", channel_axis=-1, max_num_iter=3)
    >>> out.dtype, out.shape
    (dtype('uint8'), (32, 32, 3))
    """
    return solve(image, psf, **options).image
