"""Do two halves of the photo agree on the kernel? Camera shake is nearly the same across the frame.

A kernel fitted to the scene rather than to the blur (a texture's strokes, a
page's glyphs) depends on which part of the scene it was fitted to; a camera
path does not. :func:`halves_agree` estimates the kernel again, at the size
found, on each half of the window along its longer side, and compares the two
by :func:`peak_correlation`. Measured on ``benchmarks/blind_scenes.py``'s eight
second looks (stop 27, ``docs/blind.md``): the three within 2 dB of the true
kernel's restore 0.74-0.83 (grass, gravel); the others 0.21-0.66, among them
all three text pages, whose restores were blotched.
"""

import numpy as np

from ..spectral import fft_convolve
from .coarse_to_fine import estimate_kernel

__all__ = ["peak_correlation", "halves_agree", "MIN_HALVES_CORRELATION"]

# Between the most a wrong second look measured (0.66, a text page) and the least a right one did (0.74).
MIN_HALVES_CORRELATION = 0.7


def peak_correlation(a, b):
    """Peak normalised cross-correlation of two kernels over all their relative shifts (in [-1, 1])."""
    u = np.asarray(a, dtype=np.float64)
    v = np.asarray(b, dtype=np.float64)
    u = u - u.mean()
    v = v - v.mean()
    norm = float(np.linalg.norm(u) * np.linalg.norm(v))
    if norm == 0.0:
        return 0.0
    return float(fft_convolve(u, v[::-1, ::-1], mode="full").max() / norm)


def halves_agree(y, kernel, opts, mask=None):
    """``(agree, correlation)``: the kernels of the two halves of ``y`` at ``kernel``'s size, and whether they agree."""
    h, w = y.shape
    if w >= h:
        cuts = [(slice(None), slice(0, w // 2)), (slice(None), slice(w // 2, None))]
    else:
        cuts = [(slice(0, h // 2), slice(None)), (slice(h // 2, None), slice(None))]
    size = kernel.shape[0]
    if min(h, w) // 2 < 2 * size:
        return False, float("nan")  # a half too small to hold the kernel's evidence: no confirmation
    kernels = [estimate_kernel(y[c], size, opts, weights=None if mask is None else mask[c])[0] for c in cuts]
    correlation = peak_correlation(*kernels)
    return correlation >= MIN_HALVES_CORRELATION, correlation
