"""When not to trust an estimate: featureless input before, implausible kernel after.

Before: an image with no edges that stand out of its noise (a flat wall, pure
noise) carries no information about the blur. The score is the strength of
the ``n``-th strongest edge in the weakest of four directions (the edges the
kernel step would use), over the noise level (Immerkaer 1996), measured at the
coarsest pyramid level where the blur is a few pixels wide. White noise itself
scores more on a larger frame (the ``n`` strongest of more pixels: 1.8 on
256 x 256, 3.8 on 1000 x 1000), so the score is compared with what white noise
of the photo's own shape scores (:func:`noise_structure_score`).

Sharp input: the strongest edges of a sharp photo rise over one or two pixels;
blur spreads them. :func:`edge_steepness` measures it; at or above the
threshold the photo is taken as sharp and no kernel is estimated (the
alternation itself tends to return a small spread kernel on sharp textured
photos, which a restore would turn into over-sharpening).

After: an estimate in many separate pieces is not a camera trajectory.
"""

import math

import numpy as np
from scipy import ndimage

from .kernel_step import edge_threshold
from .pyramid import downsample, plan
from .support import odd

__all__ = ["refusal", "noise_sigma", "structure_score", "noise_structure_score", "featureless_test", "featureless_reason", "finer_support", "edge_steepness", "kernel_plausible"]


def noise_sigma(y):
    """Gaussian noise level of ``y`` (Immerkaer, CVIU 1996: mean absolute Laplacian difference)."""
    if min(y.shape) < 3:
        return 0.0
    n = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])
    r = ndimage.correlate(y, n, mode="reflect")[1:-1, 1:-1]
    return float(math.sqrt(math.pi / 2.0) * np.abs(r).mean() / 6.0)


def structure_score(edge_threshold_sq, sigma_full, scale, downsample):
    """Edge-to-noise ratio at a pyramid level.

    ``sqrt(edge_threshold_sq)`` is the gradient of the weakest kept edge at the level;
    the noise there is ``sigma_full`` (noise of the full-resolution image) times the
    factor by which ``downsample`` reduces white noise at ``scale`` (measured on a
    seeded noise field). Pure noise scores about 2; images with real edges far more.
    """
    edge = math.sqrt(max(edge_threshold_sq, 0.0))
    if edge < 1e-6:
        return 0.0
    n = 128
    field = np.random.default_rng(0).standard_normal((n, n))
    small = downsample(field, (max(8, int(round(n * scale))),) * 2)
    gain = noise_sigma(small) / max(noise_sigma(field), 1e-12)
    return edge / max(sigma_full * gain, 1e-6)


def noise_structure_score(shape, level, per_bin, max_pixels=1_000_000):
    """What :func:`structure_score` gives white noise of ``shape``: the score of a photo with no edges at all.

    ``level`` is the coarsest pyramid level of ``shape`` (``.scale``, ``.shape``,
    ``.ksize``), ``per_bin`` the edge threshold's pixels per bin. The noise is
    drawn (seeded) on a frame of at most ``max_pixels`` and reduced to the
    level's scale; on a smaller frame than the photo's, the threshold keeps the
    same share of the level's pixels (the score of noise is a quantile of its
    gradients), which gives the full frame's score within 5 % (12 MP: 5.23
    against 5.44-5.52 drawn whole, four seeds) in 0.1 s instead of 1.1 s.
    """
    shrink = min(1.0, math.sqrt(max_pixels / float(shape[0] * shape[1])))
    frame = (max(16, int(round(shape[0] * shrink))), max(16, int(round(shape[1] * shrink))))
    small = (max(8, int(round(frame[0] * level.scale))), max(8, int(round(frame[1] * level.scale))))
    share = (small[0] * small[1]) / float(level.shape[0] * level.shape[1])
    field = np.random.default_rng(0).standard_normal(frame)
    edge_sq = edge_threshold(downsample(field, small), level.ksize, per_bin * share)
    return structure_score(edge_sq, noise_sigma(field), level.scale, downsample)


def featureless_test(y, size, opts, finest=False):
    """``(score, floor)``: the photo's edge-to-noise score and the least it must reach to be estimated from.

    ``y`` is the 2-D luminance, ``size`` the kernel support to estimate, ``opts``
    the :class:`~deblur.blind.config.BlindOptions`. The score is
    :func:`structure_score` at the coarsest level of the pyramid (at the finest,
    full scale, with ``finest``: to tell a photo whose edges are all finer than
    the coarsest level, such as small text, from a flat one); the floor
    ``opts.min_structure`` times :func:`noise_structure_score` of ``y``'s shape.
    """
    levels = plan(y.shape, size, opts.ratio, opts.coarsest)
    level = levels[-1] if finest else levels[0]
    edge_sq = edge_threshold(downsample(y, level.shape), level.ksize, opts.edge_per_bin)
    score = structure_score(edge_sq, noise_sigma(y), level.scale, downsample)
    return score, opts.min_structure * noise_structure_score(y.shape, level, opts.edge_per_bin)


def featureless_reason(y, size, opts):
    """Why a photo that fails :func:`featureless_test` is not estimated: flat, or all its detail finer than the coarsest level.

    A page of small text has strong edges at full scale, but its strokes
    average to grey at the coarse level the estimation starts from. Measured at
    full scale (score against its floor): ``benchmarks/blind_scenes.py``'s page
    of text with a 7 px shake 14.6 / 5.8, unblurred 20.5 / 5.8; blurred photos
    2.7-5.2 against 5.2-5.8 (their blur removed the fine edges); white noise
    2.7 / 5.3.
    """
    if min(y.shape) >= 16:
        fine, fine_floor = featureless_test(y, size, opts, finest=True)
        if fine >= fine_floor:
            return "its edges are all fine detail (small text or a fine texture) that averages out at the coarse scales the estimation starts from"
    return "the image has no edges that stand out of its noise (flat or pure noise)"


def finer_support(y, size, opts, shrink=2.0 / 3.0, smallest=7):
    """A smaller automatic support for a photo whose detail is all finer than ``size``'s coarsest level, or None.

    When such a photo (a page of small text) has strong edges at full scale
    (:func:`featureless_test` with ``finest``), its blur cannot be much wider
    than its finest edges, or it would have erased them; so the support is
    shrunk by ``shrink`` until the coarsest level of its pyramid keeps edges
    that stand out of the noise. Measured on ``benchmarks/blind_scenes.py``'s
    page of text (557 x 474, automatic support 57 px): coarse score 3.5 against
    a floor of 4.9 at 57 px, 89 against 6.0 at 39 px; with a 7 px shake it is then
    restored (+2.4 to +4.1 dB with supports of 15-27 px), and unblurred it is
    found sharp. None when the photo is flat at full scale too, or no support
    down to ``smallest`` passes.
    """
    if min(y.shape) < 16:
        return None
    fine, fine_floor = featureless_test(y, size, opts, finest=True)
    if not fine >= fine_floor:
        return None
    support = odd(size * shrink)
    while support >= smallest:
        score, floor = featureless_test(y, support, opts)
        if score >= floor:
            return int(support)
        smaller = odd(support * shrink)
        support = smaller if smaller < support else support - 2
    return None


def edge_steepness(y, fraction=0.02, window=9):
    """Median, over the ``fraction`` strongest gradients weighted by their strength, of ``|grad y|`` over the local range.

    ``|grad y|`` is the Sobel gradient magnitude (per pixel), the local range
    ``max - min`` in a ``window`` x ``window`` neighbourhood. A step edge blurred
    over ``w`` pixels scores about ``1 / w``. Each pixel counts by its gradient, so
    the edges that carry the photo's contrast decide, not the gentle slopes that
    fill the quota where edges are few (a sharp skyline under smooth clouds scored
    0.32 unweighted, 0.45 weighted). Measured (weighted): sharp scenes of
    ``benchmarks/blind_scenes.py`` 0.34-0.47 (0.22 the soft moon, 0.32 a night
    scene); Levin's sharp originals 0.31-0.34; the 32 blurred Levin images
    0.16-0.25; Köhler's 36 0.14-0.27; Lai et al.'s 86 real blurred photos
    0.15-0.33, and 0.46 for text1, a shake in two jerks (two sharp copies: its
    edges stay steep; this measure cannot see that blur).
    """
    # By blocks of rows (each with the rows its filters reach): the same values, without the
    # whole-frame gradients, range and their temporaries at once (446 MB on a 12 MP photo).
    g = np.empty(y.shape)
    for rows, part, inner in _with_halo(y, 1):
        g[rows] = np.hypot(ndimage.sobel(part, axis=1) / 8.0, ndimage.sobel(part, axis=0) / 8.0)[inner]
    threshold = np.quantile(g, 1.0 - fraction)
    ratios, weights = [], []
    for rows, part, inner in _with_halo(y, window // 2):
        span = (ndimage.maximum_filter(part, window) - ndimage.minimum_filter(part, window))[inner]
        strong = (g[rows] >= threshold) & (span > 1e-6)
        weights.append(g[rows][strong])
        ratios.append(weights[-1] / span[strong])
    ratio, weight = np.concatenate(ratios), np.concatenate(weights)
    if not ratio.size:
        return 0.0
    order = np.argsort(ratio)
    cumulative = np.cumsum(weight[order])
    return float(ratio[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def _with_halo(y, halo, block_rows=256):
    """``(rows, part, inner)`` per block of rows of ``y``: ``part`` holds the block and up to ``halo`` rows each
    side, so a filter of that reach gives on ``part[inner]`` the values it gives on the whole of ``y``."""
    for start in range(0, y.shape[0], block_rows):
        stop = min(start + block_rows, y.shape[0])
        lo, hi = max(0, start - halo), min(y.shape[0], stop + halo)
        yield slice(start, stop), y[lo:hi], slice(start - lo, stop - lo)


# A kernel's significant taps: above this share of its peak (its strokes; what may not touch the support).
STROKE_LEVEL = 0.1


def kernel_plausible(k, max_pieces=6, max_strokes=12, stroke_level=STROKE_LEVEL):
    """``(ok, reason)``: is ``k`` the path of a camera?

    Not when it is in more than ``max_pieces`` separate pieces (8-connected), nor
    when its taps above ``stroke_level`` of the peak form more than
    ``max_strokes`` pieces: faint taps can bridge scattered strokes into a few
    pieces, and strokes copied from a texture or from text are what the kernel
    step makes of a scene it cannot explain (brick, grass, a page of text in
    ``benchmarks/blind_scenes.py``: 13-117 strokes). Real camera shakes (Levin's
    8, Lai's 4, random trajectories) hold 1-7 at that level, good estimates up to 8.
    """
    _, pieces = ndimage.label(k > 0, structure=np.ones((3, 3)))
    if pieces > max_pieces:
        return False, f"the kernel breaks into {pieces} pieces (a camera path is connected)"
    _, strokes = ndimage.label(k > stroke_level * k.max(), structure=np.ones((3, 3)))
    if strokes > max_strokes:
        return False, f"the kernel is {strokes} separate strokes (the scene's texture, not a camera path)"
    return True, ""


def refusal(kernel, record, size):
    """Why an estimate is not taken for a camera path (``""`` when it may be one), and whether the scene's texture is the likely cause.

    ``record`` is the estimation's (:func:`~deblur.blind.growth.estimate_growing`);
    with ``size`` given only an implausible kernel is refused.
    """
    ok, why = kernel_plausible(kernel)
    if not ok:
        return why, True
    if size is not None:
        return "", False  # a size the user gave: only an implausible kernel is refused
    if record.texture:
        return "on a larger support the kernel grew with it or broke into strokes (the scene's texture, not a camera path)", True
    if record.spread:
        return (
            f"the kernel is spread over its whole {record.support} px support (noise, or a scene with "
            "no edges, fitted as blur: not a camera path)"
        ), True
    if record.touches:
        return (
            f"the kernel still fills its {record.support} px support"
            + (" after growing it" if len(record.growths) > 1 else "")
            + " (a cut-off path, or texture or noise fitted as blur)"
        ), False
    return "", False
