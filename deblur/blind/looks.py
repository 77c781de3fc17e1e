"""The estimation on one window of the photo, and the looks taken again when its kernel is refused.

The first look is :func:`~deblur.blind.growth.estimate_growing` with the
options given. When its kernel is refused as the scene's
texture (:func:`~deblur.blind.confidence.refusal`: strokes, pieces, spread
over its support, grown with it), two more looks may follow, each
under a different model of what misled the first, and each taken only when it
passes every check the first had to:

- :meth:`Look.sparse` (on by default, ``sparse_retry``): the kernel step with
  its mass on the fewest taps;
- :meth:`Look.on_useful_edges` (off by default, ``second_look``): the kernel
  step on the edges that stand apart from the scene's texture.
"""

import math
import time
from dataclasses import replace

import numpy as np

from .agreement import halves_agree
from .confidence import refusal
from .growth import estimate_growing

__all__ = ["Look", "SECOND_LOOK_USEFULNESS"]

# The usefulness (:func:`~deblur.blind.kernel_step.usefulness`, over USEFULNESS_WINDOW) an edge needs in the second
# look: at least half its window's gradient uncancelled by gradients of the opposite sign.
SECOND_LOOK_USEFULNESS = 0.5


class Look:
    """Estimations on one window ``y`` (and its ``mask``), their records filled alike.

    ``score``, ``steep`` and ``noise`` are the photo's structure score, edge
    steepness and noise level, ``crop`` the window's place in the photo: what
    the checks and the restore read from every record.
    """

    def __init__(self, y, opts, mask, score, steep, noise, crop):
        self.y, self.opts, self.mask = y, opts, mask
        self.score, self.steep, self.noise, self.crop = score, steep, noise, crop

    def first(self, size, opts=None):
        """:func:`estimate_growing` on the window, its record filled with what the checks and the restore read."""
        kernel, record = estimate_growing(self.y, size, opts or self.opts, self.mask)
        record.noise_sigma = self.noise
        if len(record):  # the residual the blind model leaves, for the restore's weight
            record.model_sigma = float(np.sqrt(2.0 * record["data"][-1]))
        record.structure = self.score
        record.steepness = self.steep
        record.crop = list(self.crop)
        record.confidence, record.reason = 1.0, ""
        return kernel, record

    def sparse(self, size, kernel, record, why):
        """A kernel refused as the scene's texture, estimated again with its mass on the fewest taps.

        The kernel step's default (``kernel_projection='nonneg'``: a few
        gradient steps from a flat kernel, negative taps clipped, then unit
        sum) is an early-stopped Tikhonov solution, which spreads the mass
        over every tap the data leave free: that keeps a long shake's faint
        path connected, and on a texture or a page of text it spreads the
        kernel into the strokes the refusal sees. Projected onto the unit-sum
        simplex at every step (Duchi et al., ICML 2008) the mass goes to the
        fewest taps instead. As the whole estimator that model collapses long
        shakes (``blind_scenes.py``: the median gap on kernels >= 41 px 3.2 ->
        8.1 dB), so it is only the second hypothesis, for a kernel the first
        could not give. Returns ``(kernel, record, why)``: the new look and
        ``""`` when it passes the same refusal, else the first and ``why``
        with the second's reason added.
        """
        again, again_record = self.first(size, replace(self.opts, kernel_projection="simplex"))
        again_record.elapsed += record.elapsed
        again_why, _ = refusal(again, again_record, size)
        if not again_why:
            again_record.confidence = 0.75
            again_record.reason = f"estimated again with the kernel's mass on the fewest taps (the first estimate was refused: {why})"
            again_record.message += f"; {again_record.reason}"
            return again, again_record, ""
        record.elapsed = again_record.elapsed
        return kernel, record, f"{why}; with its mass on the fewest taps too: {again_why}"

    def on_useful_edges(self, kernel, record, why):
        """A kernel refused as the scene's texture, estimated again from the edges that stand apart from it.

        Xu and Jia (ECCV 2010): an edge mixed by the blur with others of opposite
        sign within a few pixels (texture, thin strokes) misleads the kernel step;
        :func:`~deblur.blind.kernel_step.usefulness` keeps the edges that are not.
        Taken only when it passes every check and fits the automatic support it
        started from (on texture a support grown to fit the kernel was grown by the
        texture: a 83 px kernel for a 13 px shake on brick, restored 12 dB below
        the photo), and when the two halves of the window agree on it
        (:func:`~deblur.blind.agreement.halves_agree`; text pages gave blotched
        restores that no other check saw). Otherwise the first refusal stands.
        """
        look = replace(self.opts, useful_edges=SECOND_LOOK_USEFULNESS)
        again, again_record = self.first(None, look)
        again_record.elapsed += record.elapsed
        again_why, _ = refusal(again, again_record, None)
        started = again_record.growths[0]["support"] if again_record.growths else again_record.start_support
        agree, correlation = (False, float("nan"))
        if not again_why and again.shape[0] <= started:
            t0 = time.perf_counter()
            agree, correlation = halves_agree(self.y, again, look, self.mask)
            again_record.elapsed += time.perf_counter() - t0
        if agree:
            again_record.confidence = 0.75
            again_record.reason = f"estimated from the edges that stand apart from the scene's texture (on all edges, {why})"
            again_record.message += f"; from the edges that stand apart from the texture (its halves agree: {correlation:.2f})"
            return again, again_record, ""
        record.elapsed = again_record.elapsed
        if not math.isnan(correlation):  # the halves were asked: say they disagreed
            why += f"; from the edges that stand apart from it, the two halves of the photo disagree on the kernel ({correlation:.2f})"
        return kernel, record, why
