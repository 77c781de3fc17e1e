"""The estimation's own record: what was done, level by level, and how it ended."""

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["EstimationRecord", "RECORD_COLUMNS"]

RECORD_COLUMNS = (
    "level",  # pyramid level, 0 = coarsest
    "iteration",  # alternation within the level, 1-based
    "scale",  # level size relative to the input
    "support",  # kernel side at this level (px of the level)
    "lam",  # weight of the L0 gradient prior used
    "cost",  # data + prior of the latent step, per observed pixel
    "data",  # 0.5 ||W(Kx - y)||^2 per observed pixel
    "prior",  # lam * #(non-zero gradients) per observed pixel
    "kernel_objective",  # value of the kernel step's quadratic (gradient domain)
    "kernel_change",  # L1 distance between successive kernels (after resampling)
    "elapsed",  # seconds since the estimation started
)


@dataclass
class EstimationRecord:
    """What :func:`deblur.blind.estimate` did.

    Attributes
    ----------
    status : str
        ``"estimated"``; ``"sharp"`` (no blur detected: a delta was returned); or
        ``"fallback"`` (nothing to estimate from, e.g. a flat image or pure noise:
        a delta was returned).
    message : str
        One line for the user (why it fell back, or the support chosen).
    size : int
        Side of the returned kernel.
    size_rule : str
        How the support was chosen (``"given"`` or the automatic rule applied).
    levels : list of dict
        ``scale``, ``shape``, ``support`` of each pyramid level, coarsest first.
    rows : dict of lists
        The per-iteration history, one list per :data:`RECORD_COLUMNS`.
    clipped_fraction : float
        Share of the pixels left out of the data term as clipped highlights.
    structure : float
        Edge-to-noise score of the input (see :mod:`deblur.blind.confidence`).
    steepness : float
        Edge steepness of the input (see :func:`deblur.blind.confidence.edge_steepness`).
    crop : tuple or None
        ``(row, col, height, width)`` of the region estimated on, when cropped (in
        the photo's pixels).
    downscale : int
        The photo was estimated on means of ``downscale`` x ``downscale`` pixels (1: at full
        scale; see ``scale_above`` in :class:`BlindOptions`); the kernel returned is
        at full scale.
    start : str
        The starting kernel of the run kept (``levels`` and ``rows`` are its history).
    starts : list of dict
        Every run: ``start``, final ``cost`` (the criterion; the lowest is kept) and
        ``support`` at the finest level.
    confidence : float
        How far the estimate passed the checks it made on itself, from 0 (failed:
        not used) to 1 (see :func:`deblur.blind.estimate` and ``docs/blind.md``).
    reason : str
        Why the confidence is what it is, or why the estimate was not used
        (empty when every check passed).
    support : int
        Side of the support the kept run ended on (before the crop to the kernel).
    touches : bool
        Whether the kernel reached the edge of that support: ``edge_mass`` (the share
        of its mass on the support's outer band) or a tap of at least 10 % of its peak
        on that band (:func:`deblur.blind.coarse_to_fine.touches_support`).
    start_support : int
        Side of the support the kept run started from (automatic, grown, or given).
    growths : list of dict
        The automatic support's growth and its check on a larger support: one
        entry per run, in the order run (``support``, ``touches``, ``size``); the
        run kept is the one whose ``support`` is ``start_support``.
    texture : bool
        Whether the check on a larger support found the kernel growing with its
        support or breaking into strokes there: the scene's texture fitted as blur
        (:mod:`deblur.blind.growth`); an automatic size then falls back.
    spread : bool
        Whether the kernel that touched its support covered much of the support's
        border (``max_border_cover``), spread over it rather than a path cut by it
        (:func:`~deblur.blind.coarse_to_fine.spread_over_support`): not grown; an automatic
        size then falls back.
    spectrum_gain : float
        The spectrum check: log-likelihood per frequency of the photo's power
        spectrum under the kernel, over no blur (<= 0: not used; see
        :mod:`deblur.blind.spectrum`).
    spectrum_gain_oriented : float
        The same with the scene's level fitted per orientation sector (<= 0: not
        used either; a streak along a scene's straight edges).
    noise_sigma : float
        Noise level of the photo's luminance (:func:`deblur.weights.estimate_noise`).
    flat_detail_gain : float
        The restore's check on itself (:mod:`deblur.blind.harm`): fine detail on the
        photo's flat half relative to its edges, output over input; above
        :data:`~deblur.blind.harm.MAX_FLAT_DETAIL_GAIN` the restore is not used
        (``status`` becomes ``'fallback'``). NaN until a restore ran.
    fit_residual : float
        The restore's second check: its output blurred again by the kernel, against
        the photo, RMS over the photo's noise; above
        :data:`~deblur.blind.harm.MAX_FIT_RESIDUAL` the restore is not used.
        NaN until a restore ran (and when the first check already refused it).
    model_sigma : float
        RMS residual ``k * x - y`` of the kept run's last latent at full resolution
        (noise plus what the kernel and the sparse latent do not explain); a restore
        with the estimate sets its weight from it (:func:`deblur.weights.model_error_factor`).
    elapsed : float
        Total seconds.
    """

    status: str = "estimated"
    message: str = ""
    size: int = 0
    size_rule: str = ""
    levels: list = field(default_factory=list)
    rows: dict = field(default_factory=lambda: {c: [] for c in RECORD_COLUMNS})
    clipped_fraction: float = 0.0
    structure: float = math.nan
    crop: object = None
    downscale: int = 1
    steepness: float = math.nan
    start: str = ""
    starts: list = field(default_factory=list)
    confidence: float = math.nan
    reason: str = ""
    support: int = 0
    touches: bool = False
    edge_mass: float = math.nan
    start_support: int = 0
    growths: list = field(default_factory=list)
    texture: bool = False
    spread: bool = False
    spectrum_gain: float = math.nan
    spectrum_gain_oriented: float = math.nan
    noise_sigma: float = math.nan
    flat_detail_gain: float = math.nan
    fit_residual: float = math.nan
    model_sigma: float = math.nan
    elapsed: float = 0.0

    def append(self, **row):
        for c in RECORD_COLUMNS:
            self.rows[c].append(float(row.get(c, math.nan)))

    def __getitem__(self, name):
        """One history column as a float array (``record["cost"]``)."""
        return np.asarray(self.rows[name], dtype=np.float64)

    def __len__(self):
        return len(self.rows["iteration"])

    @property
    def ok(self):
        return self.status == "estimated"

    def as_dict(self):
        d = asdict(self)
        d["rows"] = {k: [None if not math.isfinite(v) else v for v in vals] for k, vals in self.rows.items()}
        return d

    def to_json(self, path=None):
        text = json.dumps(self.as_dict(), indent=1, default=float)
        if path is None:
            return text
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return None
