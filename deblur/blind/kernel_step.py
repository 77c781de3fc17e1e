"""Kernel step: projected accelerated gradient descent on the kernel.

With the latent ``x`` fixed, the kernel minimises, in the gradient domain
(Cho and Lee, SIGGRAPH Asia 2009; Xu, Zheng and Jia, CVPR 2013),

    0.5 sum_{d in (x, y)} ||W_d (M (k (*) D_d x) - D_d y)||^2 + 0.5 gamma ||k||^2

over ``{k >= 0, sum k = 1}`` on a compact support, using only the strongest
edges of the latent image (Cho and Lee 2009): below a threshold its gradients
are set to zero. The quadratic term's
Hessian is the autocorrelation of the latent gradients (computed once per step
by FFT, restricted to the pixels the observation sees), so each gradient
iteration costs two FFTs of about twice the kernel's size, not of the image.
Iterations: FISTA (Beck and Teboulle, 2009), step ``1 / L`` with ``L`` the
largest eigenvalue of the Hessian (the peak of its spectrum), projected onto
the non-negative kernels (or onto the simplex, Duchi et al., ICML 2008), then
normalised to unit sum.
"""

import numpy as np
import scipy.fft as sfft
from scipy.ndimage import uniform_filter

from .fourier import grad

__all__ = ["kernel_moments", "project_simplex", "kernel_descent"]


def edge_threshold(y, ksize, per_bin=20, floor=10):
    """Squared-gradient threshold that keeps the strongest edges in every direction.

    The largest ``t`` such that each of four orientation bins holds at least
    ``max(floor, per_bin * ksize)`` pixels with ``|grad y|^2 >= t`` (Cho and Lee 2009;
    the rule of Pan et al.'s released code).
    """
    gx = y[:-1, 1:] - y[:-1, :-1]
    gy = y[1:, :-1] - y[:-1, :-1]
    pm = (gx * gx + gy * gy).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        pd = np.arctan(gy / gx).ravel()
    need = max(floor, int(round(per_bin * ksize)))
    edges = (-np.pi / 2, -np.pi / 4, 0.0, np.pi / 4, np.pi / 2 + 1e-9)
    t = np.inf
    for lo, hi in zip(edges[:-1], edges[1:]):
        v = np.sort(pm[(pd >= lo) & (pd < hi)])[::-1]
        t = min(t, float(v[min(need, v.size) - 1]) if v.size else 0.0)
    return t


# Xu and Jia's window for the usefulness of an edge (px, at every pyramid level): a window as large as
# the level's kernel left textures no edge at all (measured at stop 27, docs/blind.md).
USEFULNESS_WINDOW = 5


def usefulness(y, window=USEFULNESS_WINDOW):
    """How consistently the gradients of ``y`` point one way in each ``window`` x ``window`` neighbourhood.

    ``r = |sum grad y| / (sum |grad y| + eps)`` over the window (Xu and Jia, ECCV
    2010): near 1 along an edge wider apart from others than the window, small
    where gradients of opposite signs meet in it -- a texture or a thin stroke
    finer than the blur, which blurring mixes with its neighbours and so tells
    little about the kernel. ``eps`` is a thousandth of the largest window sum,
    so that flat areas read 0.
    """
    gx = np.zeros_like(y)
    gy = np.zeros_like(y)
    gx[:, :-1] = y[:, 1:] - y[:, :-1]
    gy[:-1, :] = y[1:, :] - y[:-1, :]
    sx = uniform_filter(gx, window, mode="constant")
    sy = uniform_filter(gy, window, mode="constant")
    total = uniform_filter(np.hypot(gx, gy), window, mode="constant")
    eps = 1e-3 * float(total.max()) + 1e-12
    return np.hypot(sx, sy) / (total + eps)


def select_edges(gx, gy, threshold):
    """Zero the latent gradients with ``gx^2 + gy^2 < threshold`` (lowering it if none would remain)."""
    pm = gx * gx + gy * gy
    if not np.any(pm > 0):
        return gx, gy
    while threshold > 0 and not np.any(pm >= threshold):
        threshold *= 0.81
    keep = pm >= threshold
    return gx * keep, gy * keep


def kernel_moments(dom, x, y_grid, mask, threshold=0.0, useful=None):
    """Autocorrelation ``R`` (lags ``|s| < k``) of the latent gradients and right-hand side ``b``.

    Returns
    -------
    R : ndarray, shape (2 kh - 1, 2 kw - 1)
        ``R[kh-1+s, kw-1+t] = sum_n u[n] u[n + (s, t)]`` summed over both gradient
        directions, ``u`` the latent gradient on the pixels the observation sees.
    b : ndarray, shape (kh, kw)
        ``b[m] = sum_n W_d[n] D_d y[n] D_d x[n - m]``.
    """
    kh, kw = dom.ksize
    c = (kh // 2, kw // 2)
    r_acc = 0.0
    b_acc = 0.0
    xg = grad(x)
    if useful is not None:  # 0/1 on the latent grid: only edges of a scale the blur does not mix
        xg = (xg[0] * useful, xg[1] * useful)
    if threshold > 0:
        xg = select_edges(*xg, threshold)
    yg = grad(y_grid)
    for axis, (gx, gy) in enumerate(zip(xg, yg)):
        md = mask * np.roll(mask, -1, axis=1 - axis)  # both ends of the difference observed and unclipped
        xf = dom.rfft(gx)
        b_acc = b_acc + dom.irfft(dom.rfft(md * gy) * np.conj(xf))[:kh, :kw]
        u = gx * np.roll(md, (-c[0], -c[1]), axis=(0, 1))
        uf = dom.rfft(u)
        r_acc = r_acc + dom.irfft(uf.real**2 + uf.imag**2)
    rows = np.r_[np.arange(-(kh - 1), 0), np.arange(kh)]
    cols = np.r_[np.arange(-(kw - 1), 0), np.arange(kw)]
    R = r_acc[np.ix_(rows % dom.shape[0], cols % dom.shape[1])]
    return R, b_acc


def project_simplex(v):
    """Euclidean projection of ``v`` (any shape) onto ``{p >= 0, sum p = 1}``."""
    flat = v.ravel()
    u = np.sort(flat)[::-1]
    css = np.cumsum(u) - 1.0
    idx = np.arange(1, u.size + 1)
    rho = np.nonzero(u - css / idx > 0)[0][-1]
    theta = css[rho] / (rho + 1.0)
    return np.maximum(v - theta, 0.0)


def kernel_descent(R, b, k0, gamma, steps, projection="nonneg"):
    """Accelerated projected gradient descent (FISTA) on the kernel.

    Minimises ``0.5 k^T H k - b^T k + 0.5 gamma ||k||^2`` where ``H k`` is the
    correlation of ``k`` with ``R`` (a Toeplitz operator), applied by FFT on a
    grid of ``2 k - 1`` per side; the support is the array's extent. Each step
    is ``k <- P(z - grad / L)`` with ``L`` the peak of the spectrum of ``R``
    plus ``gamma``, and

    - ``projection='nonneg'``: ``P`` clips negative taps; unit sum is imposed
      after the last step (the scale is fixed by the latent image anyway, and
      a few steps from a flat start act as the early-stopped Tikhonov solution
      of Pan et al.'s code);
    - ``projection='simplex'``: ``P`` is the projection onto
      ``{k >= 0, sum k = 1}`` (sparser kernels).

    Returns ``(k, objective)`` with ``k >= 0`` summing to 1.
    """
    kh, kw = k0.shape
    Q = (sfft.next_fast_len(2 * kh - 1, real=True), sfft.next_fast_len(2 * kw - 1, real=True))
    rq = np.zeros(Q)
    rows = np.r_[np.arange(-(kh - 1), 0), np.arange(kh)] % Q[0]
    cols = np.r_[np.arange(-(kw - 1), 0), np.arange(kw)] % Q[1]
    rq[np.ix_(rows, cols)] = R
    rf = sfft.rfft2(rq)
    lip = float(np.max(np.abs(rf))) + gamma

    def hess(k):
        return sfft.irfft2(sfft.rfft2(k, s=Q) * rf, s=Q)[:kh, :kw]

    if projection == "simplex":
        project = project_simplex
    elif projection == "nonneg":

        def project(v):
            return np.maximum(v, 0.0)

    else:
        raise ValueError(f"unknown kernel projection {projection!r}; choose 'nonneg' or 'simplex'")

    k = project(np.asarray(k0, dtype=np.float64))
    z = k.copy()
    t = 1.0
    for _ in range(steps):
        g = hess(z) - b + gamma * z
        k_new = project(z - g / lip)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        z = k_new + ((t - 1.0) / t_new) * (k_new - k)
        k, t = k_new, t_new
    total = k.sum()
    k = k / total if total > 0 else np.full_like(k, 1.0 / k.size)
    obj = 0.5 * float(np.sum(k * hess(k))) - float(np.sum(b * k)) + 0.5 * gamma * float(np.sum(k * k))
    return k, obj
