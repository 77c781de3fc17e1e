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

For the mirrored ('reflect') boundary the same multiplier is applied in the
discrete cosine basis instead (:class:`CosinePreconditioner`): blur with a
symmetric kernel under half-sample symmetric extension, and the differences
with their zero last row and column, are both diagonal there, with
eigenvalues ``K`` and ``D`` at the frequencies ``pi m / n`` (Ng, Chan and
Tang, "A fast algorithm for deblurring models with Neumann boundary
conditions", SIAM J. Sci. Comput. 21, 1999).
"""

import numpy as np
import scipy.fft

from . import _kernels, spectral
from .spectral import SpectralBuffer, padded_grid

__all__ = ["FourierPreconditioner", "CosinePreconditioner"]

# mu = MU_SCALE * weight * curvature bound of R. The bound holds in flat
# regions only; at edges the regulariser's curvature is far smaller, so a
# smaller mu lets edges converge faster (the rare rises this allows are
# caught by the solver's restart and back-off).
MU_SCALE = 1.0
# Floor of the denominator: bounds P by 1/DELTA where the kernel and the
# regulariser both vanish (the unregularised case).
DELTA = 1e-3


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
    buffer : SpectralBuffer, optional
        A transform buffer to share (the FFT convolution engine's), used
        when its grid and precision are this preconditioner's.
    kernel_spectrum : ndarray, optional
        The FFT engine's kernel spectrum on that shared grid: ``P`` is then
        formed from it on the fly instead of being stored.
    """

    def __init__(self, psf, domain_shape, mu, dtype=np.float32, periodic=False, buffer=None, kernel_spectrum=None):
        self.domain_shape = tuple(domain_shape)
        # periodic: the blur itself is circulant on the frame, P must be on the same grid;
        # otherwise pad by the kernel size so wrap-around couples little across edges
        self.grid = self.domain_shape if periodic else padded_grid(domain_shape, psf.shape)
        shareable = buffer is not None and buffer.grid == self.grid and buffer.dtype == np.result_type(dtype, np.complex64)
        self.buffer = buffer if shareable else SpectralBuffer(self.grid, dtype)
        self.mu = MU_SCALE * mu
        # |D(w)|^2 on the rfft grid, w = 2 pi f
        row_power = _axis_power(2.0 * np.pi * np.fft.fftfreq(self.grid[0]))
        col_power = _axis_power(2.0 * np.pi * np.fft.rfftfreq(self.grid[1]))
        if shareable and kernel_spectrum is not None and kernel_spectrum.shape == self.buffer.shape:
            self._kernel_spectrum = kernel_spectrum
            self._row_power, self._col_power = row_power.astype(dtype), col_power.astype(dtype)
            self.spectrum = None
            self._bound = 1.0 / (self._min_kernel_power() + self.mu * (row_power.min() + col_power.min()) + DELTA)
        else:
            kernel_power = np.abs(spectral.kernel_spectrum(psf, self.grid)) ** 2
            self.spectrum = _multiplier(kernel_power, self.mu, row_power, col_power, dtype)
            self._bound = float(self.spectrum.max())

    def _min_kernel_power(self):
        # an upper bound on P needs min |K|^2 + mu |D|^2: the two minima are a safe lower bound
        k = self._kernel_spectrum
        return float(min(np.min(np.abs(k[r0 : r0 + 256]) ** 2) for r0 in range(0, k.shape[0], 256)))

    def _load(self, g):
        """The spectrum of ``P g`` into the buffer."""
        spec = self.buffer.forward(g)
        if self.spectrum is None:
            _kernels.scale_by_inverse_power(
                spec, self._kernel_spectrum, self.mu, self._row_power, self._col_power, DELTA
            )
        else:
            self.buffer.multiply(self.spectrum)

    def apply(self, g, out):
        """``out = P g`` (``out`` may be ``g``), blockwise through the transform buffer."""
        self._load(g)
        return self.buffer.inverse(out)

    def apply_keeping(self, g, out):
        """``out = P g`` as :meth:`apply`; returns ``P g``'s spectrum on the grid, kept by the buffer.

        Before the inverse crops it to the domain, for the FFT engine that
        shares the buffer (:meth:`deblur.operators.BlurOperator.forward_spectrum`).
        """
        self._load(g)
        kept = self.buffer.keep()
        self.buffer.inverse(out)
        return kept

    @property
    def bound(self):
        """An upper bound on the largest eigenvalue of ``P`` (exact when ``P`` is stored)."""
        return self._bound


class CosinePreconditioner:
    """``P`` in the cosine basis, for the 'reflect' boundary (see the module notes).

    Exact for a symmetric kernel (Gaussian, disk, box); for any other kernel
    ``|K|^2`` is still the spectrum of ``A^T A``'s kernel, so ``P`` remains a
    symmetric positive definite approximation.

    Parameters
    ----------
    psf : ndarray
        The blur kernel.
    domain_shape : tuple of int
        Shape of the unknown image (the frame).
    mu : float
        Weight of ``|D|^2``, as for :class:`FourierPreconditioner`.
    dtype : numpy dtype
        Working precision.
    """

    def __init__(self, psf, domain_shape, mu, dtype=np.float32):
        self.domain_shape = tuple(int(n) for n in domain_shape)
        self.mu = MU_SCALE * mu
        n, m = self.domain_shape
        # |K(w)|^2 at w = pi k / n: the kernel's spectrum on a grid twice the domain
        kernel_power = (np.abs(spectral.kernel_spectrum(psf, (2 * n, 2 * m))) ** 2)[:n, :m]
        row_power = _axis_power(np.pi * np.arange(n) / n)
        col_power = _axis_power(np.pi * np.arange(m) / m)
        self.spectrum = _multiplier(kernel_power, self.mu, row_power, col_power, dtype)
        self._bound = float(self.spectrum.max())

    def apply(self, g, out):
        """``out = P g`` (``out`` may be ``g``)."""
        coefficients = scipy.fft.dctn(g, type=2, norm="ortho", workers=-1)
        coefficients *= self.spectrum
        out[...] = scipy.fft.idctn(coefficients, type=2, norm="ortho", workers=-1, overwrite_x=True)
        return out

    @property
    def bound(self):
        """Largest eigenvalue of ``P``."""
        return self._bound


def _axis_power(w):
    """``|D(w)|^2 = 2 - 2 cos w`` of the forward difference along one axis, at angular frequencies ``w``."""
    return 2.0 - 2.0 * np.cos(w)


def _multiplier(kernel_power, mu, row_power, col_power, dtype):
    """``1 / (|K|^2 + mu |D|^2 + DELTA)`` with ``|D|^2 = row + col``: the stored multiplier of ``P``."""
    return (1.0 / (kernel_power + mu * (row_power[:, None] + col_power[None, :]) + DELTA)).astype(dtype)
