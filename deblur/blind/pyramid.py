"""Coarse-to-fine image pyramid (Fergus et al., SIGGRAPH 2006).

Levels are spaced by ``ratio`` (``1/sqrt(2)``); the coarsest is the one where
the kernel is about ``coarsest`` pixels wide.
"""

import math
from dataclasses import dataclass

from skimage.transform import resize

from .support import odd

__all__ = ["Level", "plan", "downsample"]


@dataclass(frozen=True)
class Level:
    scale: float  # size of this level relative to the input
    shape: tuple  # image shape at this level
    ksize: int  # kernel side at this level (odd)


def plan(shape, size, ratio=0.7071067811865476, coarsest=5):
    """The pyramid levels from coarsest to finest for an image ``shape`` and kernel ``size``."""
    n = max(0, int(math.floor(math.log(coarsest / size) / math.log(ratio)))) if size > coarsest else 0
    levels = []
    for i in range(n, -1, -1):
        s = ratio**i
        shp = (max(8, int(round(shape[0] * s))), max(8, int(round(shape[1] * s))))
        k = size if i == 0 else max(3, odd(size * s))
        levels.append(Level(s, shp, k))
    return levels


def downsample(image, shape):
    """Anti-aliased resize of ``image`` to ``shape`` (identity at full size)."""
    if tuple(shape) == image.shape:
        return image
    return resize(image, shape, order=1, anti_aliasing=True, mode="reflect")
