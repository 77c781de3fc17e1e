"""SpectralBuffer (blockwise FFTs in one buffer) against numpy's one-call transforms, and its users."""

import numpy as np
import pytest
import scipy.fft
import scipy.signal

import naive
from fresh import run_fresh
from deblur import _kernels, psf, spectral
from deblur.operators import BlurOperator
from deblur.preconditioners import FourierPreconditioner

# Also run with NUMBA_DISABLE_JIT=1, so the kernels' Python is executed and measured (setup.cfg).
pytestmark = pytest.mark.jit_free

DTYPES = [np.float32, np.float64]
ATOL = {np.float32: 2e-5, np.float64: 1e-12}


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of 3 rows, so that small test images cross several block edges."""
    monkeypatch.setattr(spectral, "BLOCK_ROWS", 3)


def full_inverse(image, grid, multiplier):
    return np.fft.irfft2(np.fft.rfft2(image.astype(np.float64), s=grid) * multiplier, s=grid)


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_is_the_zero_padded_spectrum(rng, dtype):
    image = rng.standard_normal((10, 7)).astype(dtype)
    buf = spectral.SpectralBuffer((13, 12), dtype)
    spec = buf.forward(image)
    assert spec.dtype == np.result_type(dtype, np.complex64) and spec.shape == (13, 7)
    np.testing.assert_allclose(spec, np.fft.rfft2(image.astype(np.float64), s=(13, 12)), atol=ATOL[dtype] * 20)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shift", [(0, 0), (2, 3), (-4, -1), (5, -6), (12, 11)])
def test_inverse_reads_a_periodic_window_of_the_full_transform(rng, dtype, shift):
    grid = (13, 12)
    image = rng.standard_normal((10, 7)).astype(dtype)
    multiplier = np.fft.rfft2(rng.random((3, 4)), s=grid)
    buf = spectral.SpectralBuffer(grid, dtype)
    buf.forward(image)
    buf.multiply(multiplier.astype(buf.dtype))
    out = np.full((9, 8), np.nan, dtype=dtype)
    buf.inverse(out, *shift)
    full = full_inverse(image, grid, multiplier)
    rows = (np.arange(9) + shift[0]) % grid[0]
    cols = (np.arange(8) + shift[1]) % grid[1]
    np.testing.assert_allclose(out, full[np.ix_(rows, cols)], atol=ATOL[dtype] * 20)


@pytest.mark.parametrize("dtype", DTYPES)
def test_multiply_by_the_conjugate(rng, dtype):
    grid = (8, 9)
    image = rng.standard_normal((8, 9)).astype(dtype)
    multiplier = np.fft.rfft2(rng.random((3, 3)), s=grid)
    buf = spectral.SpectralBuffer(grid, dtype)
    buf.forward(image)
    buf.multiply(multiplier.astype(buf.dtype), conjugate=True)
    out = buf.inverse(np.empty_like(image))
    np.testing.assert_allclose(out, full_inverse(image, grid, np.conj(multiplier)), atol=ATOL[dtype] * 20)


@pytest.mark.parametrize("grid", [(13, 12), (40, 31), (7, 5)])
def test_kernel_spectrum_is_rfft2_of_the_padded_kernel_to_the_bit(rng, grid):
    kernel = rng.random((5, 4))
    assert np.array_equal(spectral.kernel_spectrum(kernel, grid), scipy.fft.rfft2(kernel, s=grid))


def test_padded_grid_is_fast_and_large_enough():
    def largest_prime_factor(n):
        p, largest = 2, 1
        while n > 1:
            while n % p == 0:
                n, largest = n // p, p
            p += 1
        return largest

    grid = spectral.padded_grid((4126, 1001), (31, 7))
    assert grid[0] >= 4157 and grid[1] >= 1008
    assert grid[0] < 4157 * 1.05 and grid[1] < 1008 * 1.05
    assert all(largest_prime_factor(n) <= 11 for n in grid)


def test_scale_by_inverse_power_matches_numpy(rng):
    spec = (rng.standard_normal((6, 4)) + 1j * rng.standard_normal((6, 4))).astype(np.complex64)
    k = (rng.standard_normal((6, 4)) + 1j * rng.standard_normal((6, 4))).astype(np.complex64)
    row, col = rng.random(6).astype(np.float32), rng.random(4).astype(np.float32)
    expected = spec / (np.abs(k) ** 2 + 0.3 * (row[:, None] + col[None, :]) + 1e-3)
    _kernels.scale_by_inverse_power(spec, k, 0.3, row, col, 1e-3)
    np.testing.assert_allclose(spec, expected, rtol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fft_engine_shares_its_buffer_and_spectrum_with_the_preconditioner(rng, dtype):
    """P formed on the fly from the engine's spectrum is the stored P, and the buffer is shared."""
    k = psf.disk(3)
    op = BlurOperator(k, (20, 17), "valid", dtype, engine="fft")
    shared = FourierPreconditioner(
        k, op.domain_shape, 0.05, dtype, buffer=op.spectral_buffer, kernel_spectrum=op.kernel_spectrum
    )
    alone = FourierPreconditioner(k, op.domain_shape, 0.05, dtype)
    assert shared.buffer is op.spectral_buffer and shared.spectrum is None
    assert alone.buffer is not op.spectral_buffer and alone.spectrum is not None
    g = rng.standard_normal(op.domain_shape).astype(dtype)
    np.testing.assert_allclose(shared.apply(g.copy(), np.empty_like(g)), alone.apply(g, np.empty_like(g)),
                               atol=ATOL[dtype] * 100 * np.abs(g).max())
    assert shared.bound >= alone.bound * (1 - 1e-6)
    # the engine still blurs correctly after the preconditioner used its buffer
    x = rng.standard_normal(op.domain_shape).astype(dtype)
    np.testing.assert_allclose(op.forward(x), naive.conv_valid(x, k), atol=ATOL[dtype] * 20)


def test_preconditioner_with_a_shared_spectrum_is_symmetric_positive_definite():
    k = psf.gaussian(1.0)
    op = BlurOperator(k, (9, 10), "valid", np.float64, engine="fft")
    pre = FourierPreconditioner(
        k, op.domain_shape, 0.16, np.float64, buffer=op.spectral_buffer, kernel_spectrum=op.kernel_spectrum
    )
    matrix = naive.dense_matrix(lambda e: pre.apply(e.copy(), np.empty_like(e)), op.domain_shape)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-10 * np.abs(matrix).max())
    eigenvalues = np.linalg.eigvalsh((matrix + matrix.T) / 2)
    assert eigenvalues.min() > 0 and eigenvalues.max() <= pre.bound * (1 + 1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_kept_spectrum_inverts_as_the_buffer_would_after_the_buffer_is_reused(rng, dtype):
    grid = (13, 12)
    image = rng.standard_normal((10, 7)).astype(dtype)
    multiplier = np.fft.rfft2(rng.random((3, 4)), s=grid).astype(np.result_type(dtype, np.complex64))
    buf = spectral.SpectralBuffer(grid, dtype)
    buf.forward(image)
    buf.multiply(multiplier)
    kept = buf.keep()
    assert kept is not buf.forward(rng.standard_normal((10, 7)).astype(dtype))  # the buffer goes on with another image
    out = np.full((9, 8), np.nan, dtype=dtype)
    buf.inverse(out, 2, -3, spectrum=kept)
    full = full_inverse(image, grid, multiplier)
    np.testing.assert_allclose(out, full[np.ix_((np.arange(9) + 2) % 13, (np.arange(8) - 3) % 12)],
                               atol=ATOL[dtype] * 20)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_preconditioned_direction_is_blurred_from_its_kept_spectrum(rng, dtype):
    """A (P g) from P g's spectrum before the crop to the domain: the 'valid' outputs read only the domain."""
    k = rng.random((5, 4))
    k /= k.sum()
    op = BlurOperator(k, (14, 11), "valid", dtype, engine="fft")
    pre = FourierPreconditioner(
        k, op.domain_shape, 0.05, dtype, buffer=op.spectral_buffer, kernel_spectrum=op.kernel_spectrum
    )
    g = rng.standard_normal(op.domain_shape).astype(dtype)
    d = np.empty_like(g)
    kept = pre.apply_keeping(g, d)
    np.testing.assert_allclose(d, pre.apply(g.copy(), np.empty_like(g)), atol=ATOL[dtype] * 10 * np.abs(d).max())
    blurred = op.forward_spectrum(kept, np.full(op.range_shape, np.nan, dtype=dtype))
    np.testing.assert_allclose(blurred, naive.conv_valid(d, k), atol=ATOL[dtype] * 20 * np.abs(d).max())
    taps = BlurOperator(k, (14, 11), "valid", dtype, engine="taps")
    assert op.blurs_spectra and not taps.blurs_spectra
    assert not BlurOperator(k, (14, 11), "reflect", dtype, engine="fft").blurs_spectra
    with pytest.raises(ValueError, match="FFT engine"):
        taps.forward_spectrum(kept, np.empty(op.range_shape, dtype=dtype))


@pytest.mark.parametrize("shapes", [((23, 17), (5, 7)), ((9, 9), (9, 9)), ((30, 12), (1, 3))])
def test_fft_convolve_is_the_direct_convolution(rng, shapes):
    image, kernel = rng.random(shapes[0]), rng.random(shapes[1])
    full = scipy.signal.convolve2d(image, kernel, "full")
    np.testing.assert_allclose(spectral.fft_convolve(image, kernel, "full"), full, atol=1e-12)
    np.testing.assert_allclose(spectral.fft_convolve(image, kernel, "valid"), naive.conv_valid(image, kernel), atol=1e-12)


def test_fft_convolve_refuses_what_it_cannot_give(rng):
    with pytest.raises(ValueError, match="at least the kernel"):
        spectral.fft_convolve(rng.random((4, 4)), rng.random((5, 3)), "valid")
    with pytest.raises(ValueError, match="'full' or 'valid'"):
        spectral.fft_convolve(rng.random((4, 4)), rng.random((3, 3)), "same")


def test_the_restore_checks_do_not_load_scipy_signal():
    """The blind package (imported by every blind restore) and its checks leave ``scipy.signal``
    unloaded: it is 0.7 s of start-up."""
    _, signal = run_fresh("import deblur.api, deblur.blind, deblur.blind.harm", ("scipy.signal",))
    assert signal == []
