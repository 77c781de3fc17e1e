"""Fourier preconditioner: gradient descent in a metric where the blur is well conditioned.

Plain gradient descent on a deconvolution problem crawls: a frequency that
the kernel attenuates by ``|K(w)|`` converges at rate ``eta |K(w)|^2``, and the
step ``eta`` is capped by the best-conditioned frequency. Preconditioned
descent ``x <- x - eta P grad f`` with

    P = F^-1 diag( 1 / (|K(w)|^2 + mu |D(w)|^2 + delta) ) F,

(``D`` the finite-difference gradient, ``mu = weight * curvature of R``)
moves every frequency at a similar rate, so a few tens of iterations reach
what plain descent needs hundreds for. ``P`` is symmetric positive definite
(a zero-padded circulant), so ``-P grad f`` is a descent direction and the
solver's step rules, momentum and back-off apply unchanged; with this
``mu`` the preconditioned Lipschitz constant is at most ``max(||A||^2, 1)``
(Vogel, *Computational Methods for Inverse Problems*, SIAM 2002, ch. 5,
on circulant preconditioners for deblurring).
"""

import numpy as np
import scipy.fft

from . import _kernels

__all__ = ["FourierPreconditioner"]

# mu = MU_SCALE * weight * curvature bound of R. The bound holds in flat
# regions only; at edges the regulariser's curvature is far smaller, so a
# smaller mu lets edges converge faster (the rare rises this allows are
# caught by the solver's restart and back-off).
MU_SCALE = 1.0
# Floor of the denominator: bounds P by 1/DELTA where the kernel and the
# regulariser both vanish (the unregularised case).
DELTA = 1e-3
# Rows per block of the row transforms (bounds the block temporaries).
FFT_BLOCK_ROWS = 128


class FourierPreconditioner:
    """``P`` above, for a kernel on a domain of the given shape.

    Parameters
    ----------
    psf : ndarray
        The blur kernel.
    domain_shape : tuple of int
        Shape of the unknown image.
    mu : float
        Weight of ``|D|^2``: the regulariser's weight times its curvature bound.
    dtype : numpy dtype
        Working precision.
    periodic : bool
        The blur is circular on the domain ('periodic' boundary): use the
        domain itself as the FFT grid, so that ``P`` and ``A^T A`` share
        eigenvectors and the preconditioned Lipschitz constant is at most 1.
    """

    def __init__(self, psf, domain_shape, mu, dtype=np.float32, periodic=False):
        self.domain_shape = tuple(domain_shape)
        if periodic:
            # the blur itself is circulant on the frame: P must be on the same grid
            self.grid = self.domain_shape
        else:
            # pad by the kernel size so wrap-around couples little across edges
            self.grid = tuple(
                scipy.fft.next_fast_len(int(n) + int(k), real=True) for n, k in zip(domain_shape, psf.shape)
            )
        self._buffer = None
        kernel_power = np.abs(scipy.fft.rfft2(psf, s=self.grid)) ** 2
        self.spectrum = (1.0 / (kernel_power + MU_SCALE * mu * _difference_power(self.grid) + DELTA)).astype(dtype)

    def apply(self, g, out):
        """``out = P g`` (``out`` may be ``g``).

        The 2-D FFT runs as row transforms in blocks into one persistent
        complex buffer, then column transforms in place, so the only
        temporary of image size is that buffer (about one float32 image).
        """
        n, m = g.shape
        grid_rows, grid_cols = self.grid
        if self._buffer is None:
            self._buffer = np.zeros((grid_rows, grid_cols // 2 + 1), dtype=np.result_type(g.dtype, np.complex64))
        buf = self._buffer
        for r0 in range(0, n, FFT_BLOCK_ROWS):
            r1 = min(n, r0 + FFT_BLOCK_ROWS)
            buf[r0:r1] = scipy.fft.rfft(g[r0:r1], n=grid_cols, axis=1, workers=-1)
        buf[n:] = 0
        buf = scipy.fft.fft(buf, axis=0, overwrite_x=True, workers=-1)
        buf *= self.spectrum
        buf = scipy.fft.ifft(buf, axis=0, overwrite_x=True, workers=-1)
        for r0 in range(0, n, FFT_BLOCK_ROWS):
            r1 = min(n, r0 + FFT_BLOCK_ROWS)
            out[r0:r1] = scipy.fft.irfft(buf[r0:r1], n=grid_cols, axis=1, workers=-1)[:, :m]
        self._buffer = buf  # pocketfft worked in place; keep whatever it returned
        return out

    @property
    def bound(self):
        """Largest eigenvalue of ``P``."""
        return float(self.spectrum.max())


def _difference_power(grid):
    """``|D(w)|^2`` of the forward differences along both axes on an rfft grid."""
    wy = 2.0 * np.pi * np.fft.fftfreq(grid[0])[:, None]
    wx = 2.0 * np.pi * np.fft.rfftfreq(grid[1])[None, :]
    return (2.0 - 2.0 * np.cos(wy)) + (2.0 - 2.0 * np.cos(wx))
