"""The blur operator ``A`` of each boundary model, with its adjoint.

``A`` maps the unknown image (the *domain*) to the observed frame (the
*range*):

- ``valid`` (default): the domain is the frame extended by the kernel's
  reach on each side; ``A`` is the 'valid' convolution, so every observed
  pixel is explained by unknowns only and nothing outside the frame is
  guessed. The answer is cropped back to the frame.
- ``reflect``: the domain is the frame; it is extended by mirror symmetry
  (``d c b a | a b c d``, ``scipy.ndimage`` 'reflect') before convolving.
- ``periodic``: as ``reflect`` with wrap-around extension (circular blur).

The 'valid' convolution itself runs on one of three engines, chosen per
kernel by estimated cost: sparse taps (few non-zeros: motion blur),
separable rank-1 passes (Gaussian, box) or FFT (large dense kernels).
"""

import math

import numpy as np

from . import _config, _kernels
from .spectral import SpectralBuffer, kernel_spectrum, padded_grid

__all__ = ["BlurOperator", "kernel_padding", "ENGINES"]

ENGINES = ("taps", "separable", "fft")


def kernel_padding(psf_shape):
    """Pixels the kernel reaches beyond a frame pixel: ``(top, bottom, left, right)``.

    With the centre tap at ``(kh // 2, kw // 2)``, a frame pixel depends on
    ``kh - 1 - kh // 2`` rows above it and ``kh // 2`` rows below.
    """
    kh, kw = psf_shape
    return kh - 1 - kh // 2, kh // 2, kw - 1 - kw // 2, kw // 2


class _TapsConv:
    """'Valid' convolution as a sum over the kernel's non-zero taps."""

    name = "taps"

    def __init__(self, kernel, dtype):
        kh, kw = kernel.shape
        a, b = np.nonzero(kernel)
        self.rows = (kh - 1 - a).astype(np.int64)
        self.cols = (kw - 1 - b).astype(np.int64)
        self.weights = kernel[a, b].astype(dtype)
        self.shape = kernel.shape

    def forward(self, x, out, y=None):
        return _kernels.conv_valid_taps(x, self.rows, self.cols, self.weights, out, y)

    def adjoint(self, r, out):
        _kernels.corr_full_taps(r, self.rows, self.cols, self.weights, out)


class _SeparableConv:
    """'Valid' convolution with a rank-1 kernel: a column pass and a row pass, fused per row."""

    name = "separable"

    def __init__(self, column, row, dtype):
        self.col = _TapsConv(column[:, None], dtype)
        self.row = _TapsConv(row[None, :], dtype)
        self.shape = (column.size, row.size)

    def forward(self, x, out, y=None):
        return _kernels.conv_valid_separable(
            x, self.col.rows, self.col.weights, self.row.cols, self.row.weights, out, y
        )

    def adjoint(self, r, out):
        _kernels.corr_full_separable(r, self.col.rows, self.col.weights, self.row.cols, self.row.weights, out)


class _FFTConv:
    """'Valid' convolution by FFT, with the kernel spectrum computed once.

    On a grid at least the domain plus the kernel, the circular convolution
    equals the linear one at the 'valid' indices; the adjoint correlates the
    residual placed at the origin and reads its window shifted back by the
    kernel's reach (see the module tests for the dot test). The transforms
    run blockwise through :attr:`buffer`, which the Fourier preconditioner
    may share.
    """

    name = "fft"

    def __init__(self, kernel, domain_shape, dtype):
        self.shape = kernel.shape
        self.buffer = SpectralBuffer(padded_grid(domain_shape, kernel.shape), dtype)
        self.grid = self.buffer.grid
        self.spectrum = kernel_spectrum(kernel, self.grid).astype(self.buffer.dtype)

    def forward(self, x, out):
        kh, kw = self.shape
        self.buffer.forward(x)
        self.buffer.multiply(self.spectrum)
        self.buffer.inverse(out, kh - 1, kw - 1)

    def forward_spectrum(self, spectrum, out):
        kh, kw = self.shape
        spectrum *= self.spectrum
        self.buffer.inverse(out, kh - 1, kw - 1, spectrum=spectrum)

    def adjoint(self, r, out):
        kh, kw = self.shape
        self.buffer.forward(r)
        self.buffer.multiply(self.spectrum, conjugate=True)
        self.buffer.inverse(out, -(kh - 1), -(kw - 1))


def _rank_one_factors(kernel):
    """Column and row factors when the kernel is rank 1 (to rounding), else None."""
    u, s, vt = np.linalg.svd(kernel)
    if s.size > 1 and s[1] > 1e-7 * s[0]:
        return None
    col, row = u[:, 0] * math.sqrt(s[0]), vt[0] * math.sqrt(s[0])
    if col.sum() < 0:
        col, row = -col, -row
    col[np.abs(col) < 1e-12 * np.abs(col).max()] = 0.0
    row[np.abs(row) < 1e-12 * np.abs(row).max()] = 0.0
    return col, row


def engine_costs(kernel, domain_shape):
    """Estimated cost of one convolution on each engine, in tap-passes per pixel-array."""
    n = float(np.prod(domain_shape))
    costs = {"taps": float(np.count_nonzero(kernel))}
    factors = _rank_one_factors(kernel)
    if factors is not None:
        costs["separable"] = _config.SEPARABLE_OVERHEAD + np.count_nonzero(factors[0]) + np.count_nonzero(factors[1])
    costs["fft"] = _config.FFT_COST_PER_NLOGN * math.log2(max(n, 2.0))
    return costs


def _make_engine(kernel, domain_shape, dtype, engine=None):
    costs = engine_costs(kernel, domain_shape)
    if engine is None:
        engine = min(costs, key=costs.get)
    elif engine not in costs:
        raise ValueError(f"engine {engine!r} is not available for this kernel; choose from {sorted(costs)}")
    if engine == "taps":
        return _TapsConv(kernel, dtype)
    if engine == "separable":
        return _SeparableConv(*_rank_one_factors(kernel), dtype)
    return _FFTConv(kernel, domain_shape, dtype)


def _pad(x, pads, mode):
    top, bottom, left, right = pads
    return np.pad(x, ((top, bottom), (left, right)), mode="symmetric" if mode == "reflect" else "wrap")


def _fold_axis0(z, before, after, mode):
    """Adjoint of padding axis 0 by ``before``/``after`` rows: add each margin row onto its source row."""
    n = z.shape[0] - before - after
    core = z[before : before + n].copy()
    if mode == "reflect":
        core[:before] += z[:before][::-1]
        core[n - after :] += z[before + n :][::-1]
    else:
        core[n - before :] += z[:before]
        core[:after] += z[before + n :]
    return core


def _pad_adjoint(z, pads, mode, out):
    """Adjoint of :func:`_pad`: fold the margins back, one axis at a time."""
    top, bottom, left, right = pads
    columns_folded = _fold_axis0(z.T, left, right, mode).T
    out[...] = _fold_axis0(columns_folded, top, bottom, mode)


def _check_shape(name, array, shape):
    """Refuse an array of the wrong shape before a compiled loop reads or writes past its end.

    The loops do not check their bounds (that is what makes them fast), so a
    wrong-sized argument would read or write out of bounds silently. A plain
    ValueError: the library's own call went wrong, not the user's (the command
    line reports it as a bug).
    """
    if array.shape != shape:
        raise ValueError(f"BlurOperator: {name} has shape {array.shape}, expected {shape} (a bug in the caller)")


class BlurOperator:
    """Blur with a kernel under a boundary model: ``forward`` is ``A``, ``adjoint`` is ``A^T``.

    Parameters
    ----------
    psf : ndarray
        Kernel (validated, summing to 1), convolution orientation.
    frame_shape : tuple of int
        Shape of the observed image.
    boundary : {'valid', 'reflect', 'periodic'}
    dtype : numpy dtype
        Working precision, float32 or float64.
    engine : {'taps', 'separable', 'fft'}, optional
        Force a convolution engine (default: the cheapest by estimate).
    """

    def __init__(self, psf, frame_shape, boundary="valid", dtype=np.float32, engine=None):
        self.psf = np.asarray(psf, dtype=np.float64)
        self.frame_shape = tuple(int(n) for n in frame_shape)
        self.boundary = boundary
        self.dtype = np.dtype(dtype)
        self.pads = kernel_padding(self.psf.shape)
        top, bottom, left, right = self.pads
        extended = (self.frame_shape[0] + top + bottom, self.frame_shape[1] + left + right)
        self.domain_shape = extended if boundary == "valid" else self.frame_shape
        self.range_shape = self.frame_shape
        self._conv = _make_engine(self.psf, extended, self.dtype, engine)
        self.engine = self._conv.name
        # the FFT engine's transform buffer, which a preconditioner on the same grid can share
        self.spectral_buffer = getattr(self._conv, "buffer", None)
        self.kernel_spectrum = getattr(self._conv, "spectrum", None)
        self._lipschitz = None

    def forward(self, x, out=None):
        """``A x``: blur the domain image into the frame."""
        _check_shape("x", x, self.domain_shape)
        if out is None:
            out = np.empty(self.range_shape, dtype=self.dtype)
        else:
            _check_shape("out", out, self.range_shape)
        source = x if self.boundary == "valid" else _pad(x, self.pads, self.boundary)
        self._conv.forward(source, out)
        return out

    def forward_data(self, x, out, y):
        """``A x`` into ``out``; returns the data term ``0.5 ||A x - y||^2``.

        The taps and separable engines form it on each output row as they
        write it ('valid' boundary); otherwise it takes a pass of its own.
        """
        _check_shape("y", y, self.range_shape)
        if self.boundary == "valid" and self.engine in ("taps", "separable"):
            _check_shape("x", x, self.domain_shape)
            _check_shape("out", out, self.range_shape)
            return float(self._conv.forward(x, out, y))
        self.forward(x, out)
        return _kernels.half_sq_diff(out, y)

    @property
    def blurs_spectra(self):
        """True when :meth:`forward_spectrum` applies: the FFT engine under the 'valid' model."""
        return self.boundary == "valid" and self.engine == "fft"

    def forward_spectrum(self, spectrum, out):
        """``A x`` into ``out`` from a spectrum on the engine's grid (kept by its buffer; consumed).

        Any grid image that equals ``x`` on the domain will do, whatever it
        holds elsewhere (the Fourier preconditioner's output before it is
        cropped): a 'valid' output reads the domain only. With the
        preconditioner's spectrum the solver blurs its direction without a
        forward transform of its own. See :attr:`blurs_spectra`.
        """
        if not self.blurs_spectra:
            raise ValueError("BlurOperator.forward_spectrum needs the FFT engine and the 'valid' boundary (a bug in the caller)")
        _check_shape("out", out, self.range_shape)
        _check_shape("spectrum", spectrum, self.spectral_buffer.shape)
        self._conv.forward_spectrum(spectrum, out)
        return out

    def adjoint(self, r, out=None):
        """``A^T r``: correlate a frame-shaped array back onto the domain."""
        _check_shape("r", r, self.range_shape)
        if out is None:
            out = np.empty(self.domain_shape, dtype=self.dtype)
        else:
            _check_shape("out", out, self.domain_shape)
        if self.boundary == "valid":
            self._conv.adjoint(r, out)
        else:
            top, bottom, left, right = self.pads
            extended = np.empty((r.shape[0] + top + bottom, r.shape[1] + left + right), dtype=self.dtype)
            self._conv.adjoint(r, extended)
            _pad_adjoint(extended, self.pads, self.boundary, out)
        return out

    def crop(self, x):
        """The part of a domain image that lies in the frame (a view)."""
        if self.boundary != "valid":
            return x
        top, _, left, _ = self.pads
        return x[top : top + self.frame_shape[0], left : left + self.frame_shape[1]]

    def initial_guess(self, y):
        """Start from the observation itself, extended by edge replication in 'valid' mode."""
        if self.boundary != "valid":
            return np.array(y, dtype=self.dtype, copy=True)
        top, bottom, left, right = self.pads
        return np.pad(y, ((top, bottom), (left, right)), mode="edge").astype(self.dtype, copy=False)

    @property
    def lipschitz(self):
        """``||A||^2``, the Lipschitz constant of the data term's gradient.

        For 'valid' and 'periodic' blur it is bounded by ``(sum |k|)^2``,
        reached at zero frequency by a non-negative kernel: 1. Mirror
        extension can exceed it near the borders, so 'reflect' uses power
        iteration on a small frame with the same kernel, plus a 5 % margin.
        """
        if self._lipschitz is None:
            bound = float(np.abs(self.psf).sum()) ** 2
            if self.boundary == "reflect":
                bound = max(bound, 1.05 * self._power_iteration())
            self._lipschitz = bound
        return self._lipschitz

    def _power_iteration(self, n_iter=30):
        kh, kw = self.psf.shape
        shape = (min(self.frame_shape[0], 2 * kh + 32), min(self.frame_shape[1], 2 * kw + 32))
        small = BlurOperator(self.psf, shape, self.boundary, np.float64)
        v = np.random.default_rng(0).standard_normal(small.domain_shape)
        norm_sq = 0.0
        for _ in range(n_iter):
            v /= np.linalg.norm(v)
            w = small.adjoint(small.forward(v))
            norm_sq = float(np.vdot(v, w))
            v = w
        return norm_sq
