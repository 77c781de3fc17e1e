"""Every knob of the blind estimation, in one place, with its default.

:func:`deblur.blind.estimate_psf` takes these as keyword options
(``estimate_psf(image, size=31, iterations=8)``); an unknown name is an
error that lists the valid ones.
"""

from dataclasses import dataclass, fields

from ..errors import ArgumentError, ArgumentTypeError

__all__ = ["BlindOptions", "make_options", "parse_starts", "parse_spec", "STARTS"]

STARTS = ("horizontal", "vertical", "delta")


@dataclass(frozen=True)
class BlindOptions:
    """Options of the coarse-to-fine estimation (defaults tuned on Levin et al. 2009).

    Pyramid
        ``ratio``: scale between levels (``1/sqrt(2)``); ``coarsest``: kernel side at the
        coarsest level (px); ``max_size``: cap of the automatic support (px).
    Alternation
        ``iterations``: latent/kernel alternations per level.
    Restarts
        ``starts``: starting kernels at the coarsest level, comma-separated, from
        ``horizontal`` and ``vertical`` (a centred two-tap blur, Pan et al.'s start along
        either axis) and ``delta``. Each start runs coarse to fine; the estimate whose
        final cost (data + L0 prior of the latent step at the finest level, same weight
        for every start) is lowest is kept. The starts run side by side in threads
        (``workers`` of them at most).
    Latent step (L0 gradient prior, half-quadratic splitting)
        ``lam``: weight of the L0 gradient prior at the start of a level; ``lam_decay``:
        divide it by this after each alternation; ``lam_min``: floor; ``decay_span``: on a
        pyramid with more alternations than ``decay_span + 1`` (large kernels: more levels),
        the decays of the weight and of the edge threshold are slowed so that their total
        stays ``lam_decay ** decay_span`` (``edge_decay ** decay_span``), the decay of a
        6-level pyramid: otherwise the weight reaches its floor levels before the finest
        one (``0`` disables it);
        ``beta_max``: largest splitting weight; ``kappa``: growth of the splitting weight;
        ``latent_steps``: preconditioned gradient steps per splitting stage.
    Kernel step (projected accelerated gradient on the simplex)
        ``kernel_weight``: Tikhonov weight on the kernel (data term summed over pixels of
        [0, 1] images); ``kernel_steps``: gradient steps per kernel update;
        ``kernel_projection``: ``'nonneg'`` or ``'simplex'``; ``kernel_init``: ``'flat'``
        (each update starts from a flat kernel, as Pan et al.'s code) or ``'warm'``;
        ``edge_per_bin``: the edge threshold keeps this many pixels per kernel pixel-width in
        each of four directions (Cho and Lee 2009), ``edge_decay`` lowers it per alternation;
        ``useful_edges``: when above 0, only latent edges whose usefulness (Xu and Jia 2010,
        :func:`~deblur.blind.kernel_step.usefulness`: gradients of one sign over 5 x 5) is at
        least this are used (``0``: all); ``second_look`` (off by default until measured on
        more photos, see ``docs/blind.md``): an estimate refused as the scene's texture
        (strokes, pieces, spread over its support, grown with it) is estimated again with
        ``useful_edges=0.5`` and taken when it passes every check within the automatic
        support it started from and the photo's two halves agree on it;
        ``sparse_retry`` (on): an estimate refused as the scene's texture (strokes, pieces,
        spread over its support, grown with it) is estimated again with
        ``kernel_projection='simplex'`` and taken when it passes the same refusal
        (:class:`deblur.blind.looks.Look`);
        ``lam_carry``: the L0 weight keeps decaying across levels;
        ``threshold``: taps below this fraction of the peak are set to zero;
        ``min_component``: connected pieces of the kernel holding less than this fraction
        of its mass are removed.
    Support
        ``adapt_support``: shrink the support between levels to the kernel's extent
        (only when ``size`` is automatic); ``margin``: spare pixels kept around it;
        ``support_scale``: a given ``size`` of at least ``support_from`` px is estimated on
        an internal support this many times larger (odd, at most the image's shorter
        side), then cropped back to ``size`` around the centre of mass (so the returned
        size is unchanged): recentring on the centre of mass moves part of a kernel as
        large as its support outside it. ``1`` disables it.
        ``edge_mass``: a kernel with at least this share of its mass on the outer band
        of its support (``max(2, side // 16)`` taps), or a tap of at least 10 % of its
        peak there, touches the support's edge;
        ``grow_factor``, ``grow_steps``, ``max_grown``: with an automatic size, a kernel
        that still touches its support's edge at the finest level is estimated again on
        a support ``grow_factor`` times larger, at most ``grow_steps`` times and up to
        ``max_grown`` px (and a third of the shorter side); one that touches the largest
        support is not used (``grow_steps=0``: no growth); nor is one whose significant taps
        cover at least ``max_border_cover`` of the support's outer band (spread over the
        support, not a path cut by it). ``probe_support``: a kernel
        that does not touch is estimated once more on the larger support, which is kept
        when the kernel found there does not fit the first (a long shake folded into a
        short kernel).
    Robustness
        ``saturation``: pixels at or above this value (in [0, 1] units) are clipped
        highlights, left out of the data term (``None`` disables it);
        ``min_structure``: below this many times the edge-to-noise score of white noise
        of the photo's shape, the image is declared featureless and a delta is returned;
        ``sharp_steepness``: at or above this edge steepness the photo is taken as
        sharp (no blur detected, a delta is returned;
        ``None`` always estimates); ``spectral_check``: with an automatic size, use no
        blur when the photo's power spectrum is explained no better by the estimate than
        by no blur (:mod:`deblur.blind.spectrum`).
    Speed
        ``max_pixels``: the finest level is estimated on the most textured crop of at most
        this many pixels; ``scale_above``: a photo of more pixels than this is estimated
        at a reduced scale (means of ``s`` x ``s`` pixels, ``s = ceil(sqrt(pixels /
        scale_above))``), where its shake is ``s`` times shorter, and the kernel is
        enlarged back (``None``: always at full scale); ``workers``: FFT threads.
    """

    ratio: float = 0.7071067811865476
    coarsest: int = 5
    max_size: int = 75
    iterations: int = 5
    starts: str = "horizontal,vertical,delta"
    lam: float = 4e-3
    lam_decay: float = 1.1
    lam_min: float = 1e-4
    decay_span: int = 29
    beta_max: float = 1e5
    kappa: float = 2.0
    latent_steps: int = 1
    kernel_weight: float = 0.5
    kernel_steps: int = 20
    kernel_projection: str = "nonneg"
    kernel_init: str = "flat"
    threshold: float = 0.05
    edge_per_bin: int = 20
    edge_decay: float = 1.1
    useful_edges: float = 0.0
    second_look: bool = False
    sparse_retry: bool = True
    lam_carry: bool = True
    min_component: float = 0.05
    adapt_support: bool = True
    margin: int = 3
    support_scale: float = 1.4
    support_from: int = 41
    edge_mass: float = 0.01
    grow_factor: float = 1.5
    grow_steps: int = 2
    max_border_cover: float = 0.25
    max_grown: int = 151
    probe_support: bool = True
    saturation: float = 0.98
    spectral_check: bool = True
    min_structure: float = 2.0
    sharp_steepness: float = 0.33
    max_pixels: int = 1_000_000
    scale_above: int = 4_000_000
    workers: int = 2


_NAMES = tuple(f.name for f in fields(BlindOptions))


def make_options(**options):
    """Build :class:`BlindOptions` from keyword options, rejecting unknown names."""
    unknown = sorted(set(options) - set(_NAMES))
    if unknown:
        raise ArgumentTypeError(f"unknown blind-estimation option(s) {unknown}; valid options: {', '.join(_NAMES)}")
    opts = BlindOptions(**options)
    parse_starts(opts.starts)
    return opts


def parse_starts(text):
    """``'horizontal,vertical'`` -> ``('horizontal', 'vertical')``, checking every name."""
    starts = tuple(s.strip().lower() for s in str(text).split(",") if s.strip())
    bad = [s for s in starts if s not in STARTS]
    if not starts or bad:
        raise ArgumentError(f"starts={text!r}: give one or more of {', '.join(STARTS)}, comma-separated (e.g. 'horizontal,vertical')")
    return starts


def parse_spec(spec):
    """Parse ``'estimate'`` / ``'estimate:size=31'`` (the CLI's ``--psf`` form); return the size or None.

    >>> parse_spec("estimate"), parse_spec("estimate:size=31")
    (None, 31)
    """
    text = str(spec).strip()
    kind, _, rest = text.partition(":")
    if kind.strip().lower() != "estimate":
        raise ArgumentError(f"not an estimate spec: {spec!r}; write estimate or estimate:size=N")
    size = None
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, sep, value = item.partition("=")
        if key.strip() != "size" or not sep:
            raise ArgumentError(f"bad estimate option {item!r}; write estimate:size=N (N odd, in pixels)")
        try:
            size = int(value)
        except ValueError:
            raise ArgumentError(f"estimate size must be a whole number of pixels, got {value.strip()!r}") from None
    return size
