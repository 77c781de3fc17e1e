"""Blockwise 2-D real FFTs through one reusable complex buffer.

A one-call ``irfft2(rfft2(x, s=grid) * K, s=grid)`` holds the padded input,
the spectrum, pocketfft's copies and the full-grid output at once: three to
four image-sized temporaries per convolution. :class:`SpectralBuffer`
transforms the rows in blocks straight into one persistent complex array,
the columns in place, and the inverse back out in row blocks, so the only
image-sized array is the buffer itself, which the FFT convolution engine and
the Fourier preconditioner of a solve share (they run one after the other),
and a second one where a spectrum is kept for a second inverse (the
preconditioned direction and its blur). :func:`kernel_spectrum` transforms a
kernel on a grid; :func:`fft_convolve` is a plain linear convolution for the
checks that need one (without importing ``scipy.signal``: 0.7 s of start-up).
"""

import numpy as np
import scipy.fft

__all__ = ["SpectralBuffer", "padded_grid", "kernel_spectrum", "fft_convolve"]

# Rows per block of the row transforms: bounds the block temporaries
# (128 rows of a 4096-wide float32 grid: 4 MiB complex).
BLOCK_ROWS = 128


def padded_grid(shape, kernel_shape):
    """Fast FFT sizes at least ``shape + kernel_shape`` along each axis.

    Padding by the kernel size makes circular convolutions on the grid equal
    linear ones for an image of ``shape`` (and keeps wrap-around off the
    preconditioner's edges).
    """
    return tuple(scipy.fft.next_fast_len(int(n) + int(k), real=True) for n, k in zip(shape, kernel_shape))


def kernel_spectrum(kernel, grid):
    """``scipy.fft.rfft2(kernel, s=grid)``, the same values, with the row transforms of the kernel's rows only.

    The other rows of the padded kernel are zero and so are their
    transforms; the column transforms are then those of ``rfft2`` itself
    (12 MP grid: 0.41 -> 0.16 s).
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    rows = np.zeros((kernel.shape[0], grid[1]))
    rows[:, : kernel.shape[1]] = kernel
    full = np.zeros((grid[0], grid[1] // 2 + 1), dtype=np.complex128)
    full[: kernel.shape[0]] = scipy.fft.rfft(rows, axis=1)
    return scipy.fft.fft(full, axis=0, overwrite_x=True, workers=-1)


def fft_convolve(image, kernel, mode="full"):
    """Linear 2-D convolution of ``image`` by ``kernel`` through real FFTs, in float64.

    The values of ``scipy.signal.fftconvolve(image, kernel, mode)`` for
    ``mode`` ``'full'`` (all overlaps) or ``'valid'`` (the outputs whose kernel
    footprint lies inside ``image``, which must be at least the kernel's size).
    Written here so that the checks of a restore do not import
    ``scipy.signal``, 0.7 s of every process that loads it.
    """
    a = np.asarray(image, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    if a.ndim != 2 or k.ndim != 2:
        raise ValueError(f"fft_convolve takes 2-D arrays, got {a.ndim}-D and {k.ndim}-D")
    if mode not in ("full", "valid"):
        raise ValueError(f"mode must be 'full' or 'valid', got {mode!r}")
    if mode == "valid" and (a.shape[0] < k.shape[0] or a.shape[1] < k.shape[1]):
        raise ValueError(f"a 'valid' convolution needs the image ({a.shape}) at least the kernel's size ({k.shape})")
    full = (a.shape[0] + k.shape[0] - 1, a.shape[1] + k.shape[1] - 1)
    grid = tuple(scipy.fft.next_fast_len(n, real=True) for n in full)
    product = scipy.fft.rfft2(a, grid) * scipy.fft.rfft2(k, grid)
    out = scipy.fft.irfft2(product, grid)[: full[0], : full[1]]
    if mode == "valid":
        out = out[k.shape[0] - 1 : a.shape[0], k.shape[1] - 1 : a.shape[1]]
    return np.ascontiguousarray(out)


class SpectralBuffer:
    """The real-FFT spectrum of images on a fixed grid, computed into one array.

    Parameters
    ----------
    grid : tuple of int
        FFT grid ``(rows, cols)``; images are zero-padded (at the end) to it.
    dtype : numpy dtype
        Real working precision; the buffer is its complex counterpart.
    """

    def __init__(self, grid, dtype):
        self.grid = tuple(int(n) for n in grid)
        self.dtype = np.result_type(dtype, np.complex64)
        self._array = None  # allocated on first use
        self._spare = None  # a kept copy of a spectrum (see keep), allocated on first use
        self._rows = None  # one block of rows, zero-padded to the grid's width
        self._real_dtype = np.finfo(self.dtype).dtype

    @property
    def shape(self):
        """Shape of the half-spectrum: ``(rows, cols // 2 + 1)``."""
        return self.grid[0], self.grid[1] // 2 + 1

    def forward(self, image):
        """Load the 2-D spectrum of ``image`` (zero-padded to the grid) into the buffer; returns it."""
        n = image.shape[0]
        if self._array is None:
            self._array = np.empty(self.shape, dtype=self.dtype)
        buf = self._array
        m = image.shape[1]
        if self._rows is None:
            self._rows = np.zeros((BLOCK_ROWS, self.grid[1]), dtype=self._real_dtype)
        rows = self._rows
        rows[:, m:] = 0
        for r0 in range(0, n, BLOCK_ROWS):
            r1 = min(n, r0 + BLOCK_ROWS)
            # padded here, not by rfft's n=: its own padding made the row
            # transforms 3x slower (12 MP: 53 -> 17 ms a transform)
            rows[: r1 - r0, :m] = image[r0:r1]
            buf[r0:r1] = scipy.fft.rfft(rows[: r1 - r0], axis=1, workers=-1)
        buf[n:] = 0
        self._array = scipy.fft.fft(buf, axis=0, overwrite_x=True, workers=-1)
        return self._array

    def multiply(self, spectrum, conjugate=False):
        """Multiply the buffer by ``spectrum`` (or its complex conjugate), in place."""
        buf = self._array
        if not conjugate or not np.iscomplexobj(spectrum):
            buf *= spectrum
            return
        for r0 in range(0, buf.shape[0], BLOCK_ROWS):
            buf[r0 : r0 + BLOCK_ROWS] *= np.conj(spectrum[r0 : r0 + BLOCK_ROWS])

    def keep(self):
        """A copy of the spectrum in the buffer, in a second array the buffer reuses; returns the copy.

        For a second inverse of the same spectrum (see ``inverse``'s ``spectrum``).
        """
        if self._spare is None:
            self._spare = np.empty(self.shape, dtype=self.dtype)
        np.copyto(self._spare, self._array)
        return self._spare

    def drop_kept(self):
        """Free the array :meth:`keep` copies into (allocated again on the next use)."""
        self._spare = None

    def inverse(self, out, row_shift=0, col_shift=0, spectrum=None):
        """Inverse transform of the buffer (or of ``spectrum``, kept by :meth:`keep`) into ``out``; consumes it.

        ``out[i, j] = full[(i + row_shift) % rows, (j + col_shift) % cols]``
        with ``full`` the inverse transform on the whole grid: the shifts
        read a window anywhere on the periodic grid.
        """
        rows, cols = self.grid
        n, m = out.shape
        buf = scipy.fft.ifft(self._array if spectrum is None else spectrum, axis=0, overwrite_x=True, workers=-1)
        if spectrum is None:
            self._array = buf
        elif spectrum is self._spare:
            self._spare = buf
        # a window that wraps round the grid is copied in (at most two) plain
        # slices per axis: fancy indexing gathered each element on one thread
        col_pieces = _segments(col_shift, m, cols)
        for r0 in range(0, n, BLOCK_ROWS):
            r1 = min(n, r0 + BLOCK_ROWS)
            for s0, s1, d0 in _segments(r0 + row_shift, r1 - r0, rows):
                block = scipy.fft.irfft(buf[s0:s1], n=cols, axis=1, workers=-1)
                for c0, c1, e0 in col_pieces:
                    out[r0 + d0 : r0 + d0 + s1 - s0, e0 : e0 + c1 - c0] = block[:, c0:c1]
        return out


def _segments(start, length, period):
    """``[(src_start, src_stop, dst_offset)]``: the indices ``(start + i) % period``, ``i < length``, as slices."""
    pieces, done = [], 0
    while done < length:
        s0 = (start + done) % period
        s1 = min(period, s0 + length - done)
        pieces.append((s0, s1, done))
        done += s1 - s0
    return pieces
