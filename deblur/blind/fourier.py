"""The periodic working domain of one pyramid level, and its FFTs.

The latent image lives on a periodic grid of shape ``P`` at least
``(h + kh - 1, w + kw - 1)``; the blurred image is observed on the window
``[kh-1 : kh-1+h, kw-1 : kw-1+w]`` of the circular convolution ``k (*) x``.
No observed pixel sees a wrapped-around latent pixel, so this is exactly the
``valid`` model of a scene larger than the frame, with a free band of
unknown latent pixels around the frame.
"""

import numpy as np
import scipy.fft as sfft

__all__ = ["Domain"]


class Domain:
    """FFT grid for an ``(h, w)`` observation and a ``(kh, kw)`` kernel support."""

    def __init__(self, obs_shape, ksize, workers=2):
        h, w = obs_shape
        kh, kw = ksize
        self.obs_shape = (h, w)
        self.ksize = (kh, kw)
        self.shape = (sfft.next_fast_len(h + kh - 1, real=True), sfft.next_fast_len(w + kw - 1, real=True))
        self.window = (slice(kh - 1, kh - 1 + h), slice(kw - 1, kw - 1 + w))
        # latent pixel "under" observed pixel (0, 0) when the kernel is a centred delta
        self.offset = (kh - 1 - kh // 2, kw - 1 - kw // 2)
        self.workers = workers
        fy = np.fft.fftfreq(self.shape[0])[:, None]
        fx = np.fft.rfftfreq(self.shape[1])[None, :]
        # |D|^2 of the periodic forward differences along x and y
        self.dd = (2 - 2 * np.cos(2 * np.pi * fx)) + (2 - 2 * np.cos(2 * np.pi * fy))

    def rfft(self, a):
        return sfft.rfft2(a, s=self.shape, workers=self.workers)

    def irfft(self, a):
        return sfft.irfft2(a, s=self.shape, workers=self.workers)

    def kernel_ft(self, k):
        """Transfer function of ``k`` placed at the origin of the grid (taps ``[0:kh, 0:kw]``)."""
        return sfft.rfft2(k, s=self.shape, workers=self.workers)

    def embed(self, obs):
        """Observation placed in its window of the grid, zeros elsewhere."""
        out = np.zeros(self.shape, dtype=obs.dtype)
        out[self.window] = obs
        return out

    def pad_latent(self, y):
        """Starting latent image: ``y`` under its window, edge values spread into the band."""
        h, w = self.obs_shape
        oy, ox = self.offset
        P0, P1 = self.shape
        return np.pad(y, ((oy, P0 - h - oy), (ox, P1 - w - ox)), mode="edge")


def grad(x):
    """Periodic forward differences ``(d/dx, d/dy)``."""
    return np.roll(x, -1, axis=1) - x, np.roll(x, -1, axis=0) - x


def grad_adjoint(gx, gy):
    """Adjoint of :func:`grad` (minus the periodic backward divergence)."""
    return (np.roll(gx, 1, axis=1) - gx) + (np.roll(gy, 1, axis=0) - gy)
