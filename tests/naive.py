"""Slow, obvious twins of the engine's kernels and operators.

Every function here is written for clarity, with numpy/scipy only, so the
tests can assert that the Numba kernels in ``deblur._kernels`` and the
operators in ``deblur.operators`` agree with it. Nothing here imports the
engine.
"""

import numpy as np
import scipy.ndimage
import scipy.signal
import scipy.sparse

_NDIMAGE_MODE = {"reflect": "reflect", "periodic": "wrap"}


# --- convolution ---------------------------------------------------------------------


def conv_valid(x, k):
    """'Valid' convolution: ``out[i, j] = sum_ab k[a, b] x[i + kh-1 - a, j + kw-1 - b]``."""
    return scipy.signal.convolve2d(np.asarray(x, dtype=np.float64), np.asarray(k, dtype=np.float64), "valid")


def corr_full(r, k):
    """'Full' correlation, the adjoint of :func:`conv_valid`."""
    return scipy.signal.correlate2d(np.asarray(r, dtype=np.float64), np.asarray(k, dtype=np.float64), "full")


def conv_taps(x, rows, cols, weights, out_shape):
    """``out[i, j] = sum_t weights[t] * x[i + rows[t], j + cols[t]]`` by shifted slices."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(out_shape)
    n, m = out_shape
    for r, c, w in zip(rows, cols, weights):
        out += float(w) * x[r : r + n, c : c + m]
    return out


def corr_taps(r, rows, cols, weights, out_shape):
    """Adjoint of :func:`conv_taps`: scatter each tap's contribution back."""
    r = np.asarray(r, dtype=np.float64)
    out = np.zeros(out_shape)
    n, m = r.shape
    for a, b, w in zip(rows, cols, weights):
        out[a : a + n, b : b + m] += float(w) * r
    return out


def blur(x, k, boundary):
    """The blur of each boundary model by scipy: 'valid', 'reflect' or 'periodic' (wrap)."""
    x = np.asarray(x, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if boundary == "valid":
        return scipy.signal.convolve2d(x, k, "valid")
    return scipy.ndimage.convolve(x, k, mode=_NDIMAGE_MODE[boundary])


def domain_shape(frame_shape, k_shape, boundary):
    """Shape of the unknown image: the frame, grown by ``k - 1`` in 'valid' mode."""
    if boundary == "valid":
        return (frame_shape[0] + k_shape[0] - 1, frame_shape[1] + k_shape[1] - 1)
    return tuple(frame_shape)


def crop_to_frame(x, frame_shape, k_shape, boundary):
    """The frame part of a domain image (centre tap at ``(kh // 2, kw // 2)``)."""
    if boundary != "valid":
        return x
    top = k_shape[0] - 1 - k_shape[0] // 2
    left = k_shape[1] - 1 - k_shape[1] // 2
    return x[top : top + frame_shape[0], left : left + frame_shape[1]]


def dense_matrix(apply, in_shape):
    """The matrix of a linear map, column by column from unit vectors (tiny shapes only)."""
    n = int(np.prod(in_shape))
    columns = []
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1.0
        columns.append(np.ravel(apply(e.reshape(in_shape))))
    return np.stack(columns, axis=1)


def blur_matrix(k, frame_shape, boundary):
    """Dense matrix of the blur under ``boundary``, built from :func:`blur`."""
    shape = domain_shape(frame_shape, np.shape(k), boundary)
    return dense_matrix(lambda e: blur(e, k, boundary), shape)


# --- regularisers --------------------------------------------------------------------


def forward_differences(x):
    """``(gx, gy)``: forward differences along columns and rows, zero at the last column/row."""
    x = np.asarray(x, dtype=np.float64)
    gx = np.zeros_like(x)
    gy = np.zeros_like(x)
    gx[:, :-1] = x[:, 1:] - x[:, :-1]
    gy[:-1, :] = x[1:, :] - x[:-1, :]
    return gx, gy


def difference_matrix(shape):
    """Sparse ``D`` (stacked ``[Dx; Dy]``) with ``D x = forward_differences(x)`` raveled (C order)."""
    n, m = shape

    def diff_1d(size):
        d = scipy.sparse.diags([-np.ones(size), np.ones(size - 1)], [0, 1], shape=(size, size), format="lil")
        d[size - 1, :] = 0.0  # zero at the last sample
        return d.tocsr()

    dx = scipy.sparse.kron(scipy.sparse.identity(n), diff_1d(m))
    dy = scipy.sparse.kron(diff_1d(n), scipy.sparse.identity(m))
    return scipy.sparse.vstack([dx, dy]).tocsr()


def penalty(s, name, eps, p):
    """``rho(s)`` and ``rho'(s)`` on the squared gradient magnitude ``s``."""
    s = np.asarray(s, dtype=np.float64)
    if name == "none":
        return np.zeros_like(s), np.zeros_like(s)
    if name == "tikhonov":
        return s, np.ones_like(s)
    if name == "tv":
        root = np.sqrt(s + eps**2)
        return root - eps, 0.5 / root
    if name == "hyper-laplacian":
        base = s + eps**2
        return base ** (p / 2) - eps**p, 0.5 * p * base ** (p / 2 - 1)
    raise ValueError(name)


def regularizer_value(x, name, eps=0.0, p=0.8):
    """``R(x) = sum rho(gx^2 + gy^2)``."""
    gx, gy = forward_differences(x)
    rho, _ = penalty(gx**2 + gy**2, name, eps, p)
    return float(rho.sum())


def regularizer_grad(x, name, eps=0.0, p=0.8):
    """``grad R(x) = D^T (2 rho'(s) D x)`` by explicit adjoint differences."""
    gx, gy = forward_differences(x)
    _, drho = penalty(gx**2 + gy**2, name, eps, p)
    wx, wy = 2 * drho * gx, 2 * drho * gy
    wx[:, -1] = 0.0
    wy[-1, :] = 0.0
    g = np.zeros_like(wx)
    # Dx^T: (Dx^T w)[j] = w[j-1] - w[j]
    g -= wx
    g[:, 1:] += wx[:, :-1]
    g -= wy
    g[1:, :] += wy[:-1, :]
    return g


def numerical_gradient(f, x, h=1e-6):
    """Central finite differences of a scalar function (tiny arrays only)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        up = f(x)
        x[idx] = old - h
        down = f(x)
        x[idx] = old
        g[idx] = (up - down) / (2 * h)
    return g


# --- the solver's answer ----------------------------------------------------------------


def tikhonov_solution(k, y, weight, boundary):
    """Minimiser of ``0.5 |A x - y|^2 + weight * sum |D x|^2`` by the normal equations.

    ``(A^T A + 2 weight D^T D) x = A^T y`` solved densely; returns the domain image.
    """
    y = np.asarray(y, dtype=np.float64)
    shape = domain_shape(y.shape, np.shape(k), boundary)
    a = blur_matrix(k, y.shape, boundary)
    d = difference_matrix(shape).toarray()
    lhs = a.T @ a + 2.0 * weight * d.T @ d
    return np.linalg.solve(lhs, a.T @ y.ravel()).reshape(shape)


def cost(x, k, y, boundary, name, weight, eps=0.0, p=0.8):
    """``0.5 |A x - y|^2 + weight * R(x)`` on a domain image ``x``."""
    resid = blur(x, k, boundary) - np.asarray(y, dtype=np.float64)
    return 0.5 * float(np.sum(resid**2)) + weight * regularizer_value(x, name, eps, p)


# --- test data -----------------------------------------------------------------------------


def scene(shape=(24, 24), seed=0):
    """A piecewise-smooth test image in [0.1, 0.9]: a ramp, a bright disc and a dark square."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]] / max(shape)
    img = 0.3 + 0.3 * xx + 0.1 * yy
    img[(yy - 0.5) ** 2 + (xx - 0.4) ** 2 < 0.06] = 0.8
    img[shape[0] // 6 : shape[0] // 3, shape[1] // 2 : shape[1] // 2 + max(1, shape[1] // 5)] = 0.15
    return np.clip(img + 0.02 * rng.standard_normal(shape), 0.1, 0.9)


def observe(truth, k, boundary="reflect", noise=0.01, seed=1):
    """Blur ``truth`` by scipy under ``boundary`` and add Gaussian noise.

    For 'valid' the scene is first extended by edge replication so the
    observation keeps the frame's shape.
    """
    rng = np.random.default_rng(seed)
    kh, kw = np.shape(k)
    if boundary == "valid":
        pads = ((kh - 1 - kh // 2, kh // 2), (kw - 1 - kw // 2, kw // 2))
        y = blur(np.pad(truth, pads, mode="edge"), k, "valid")
    else:
        y = blur(truth, k, boundary)
    return y + noise * rng.standard_normal(y.shape)


# --- the coarse grid of the colour differences --------------------------------------


def upsample_linear(x, shape):
    """Fine pixel ``p`` at coarse position ``p / 2`` by linear interpolation, one axis after the other;
    positions beyond the last coarse pixel take its value."""
    out = np.asarray(x, dtype=np.float64)
    for axis, n in enumerate(shape):
        positions = np.arange(n) / 2.0
        low = np.minimum(np.floor(positions).astype(int), out.shape[axis] - 1)
        high = np.minimum(low + 1, out.shape[axis] - 1)
        frac = np.where(positions - low > 0, positions - low, 0.0)
        shape_f = [1] * out.ndim
        shape_f[axis] = n
        frac = frac.reshape(shape_f)
        out = np.take(out, low, axis=axis) * (1 - frac) + np.take(out, high, axis=axis) * frac
    return out


def unclipped(image, level):
    """No channel ``>= level`` anywhere in each pixel's 3 x 3 neighbourhood (a binary dilation, the frame's outside unclipped)."""
    hit = (np.asarray(image) >= level).any(axis=-1)
    return ~scipy.ndimage.binary_dilation(hit, structure=np.ones((3, 3)))
