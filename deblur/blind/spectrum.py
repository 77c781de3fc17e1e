"""Does the photo's power spectrum support the estimated kernel at all?

The estimation picks its kernel by an L0 latent cost, which, like every MAP
cost, favours some blur over none on photos that have none (Levin et al.,
CVPR 2009): a sharp night scene's lamps, a smooth scene. The power spectrum
gives an independent check. Natural images have power falling as
``|w|^-alpha`` (alpha near 2; Field, JOSA A 1987; van der Schaaf and van
Hateren, Vision Research 1996); a blur multiplies it by ``|K(w)|^2``, white
noise adds ``sigma^2``. The Whittle (Gaussian) likelihood of the photo's
averaged periodogram under

    v(w) = c |K(w)|^2 |w|^-alpha + sigma^2,

maximised over the scene's ``c`` and ``alpha``, scores a kernel by how well
its magnitude spectrum explains the photo's fall-off (:func:`evidence`, per
frequency, over no blur). A kernel that explains it worse than no blur at all
is not used. Only the sign is trusted: the power law is a rough model of any
one scene, and comparing sizes of one estimate by it (tried: resampling the
estimate to 0.3-0.85x and keeping the best) chose on 1-2 % margins, shrank
correct kernels on one of Levin's four scenes and lost 13 points at ratio
<= 3 there.

The periodogram is Bartlett's average over half-overlapping tiles, each made
periodic first (Moisan, JMIV 2011) so its edges add no cross to the spectrum.
"""

import math

import numpy as np


__all__ = ["periodic_component", "periodogram", "evidence", "ORIENTATION_SECTORS"]

ALPHAS = np.linspace(1.0, 3.0, 9)
LOG_C = np.linspace(-16.0, 2.0, 49)
ORIENTATION_SECTORS = 8  # 22.5 degrees each


def periodic_component(u):
    """The periodic part of ``u`` (Moisan 2011): ``u`` minus the smooth image its borders imply."""
    m, n = u.shape
    v = np.zeros_like(u)
    v[0, :] += u[-1, :] - u[0, :]
    v[-1, :] += u[0, :] - u[-1, :]
    v[:, 0] += u[:, -1] - u[:, 0]
    v[:, -1] += u[:, 0] - u[:, -1]
    den = 2.0 * np.cos(2 * np.pi * np.arange(m) / m)[:, None] + 2.0 * np.cos(2 * np.pi * np.arange(n) / n)[None, :] - 4.0
    den[0, 0] = 1.0
    smooth = np.fft.fft2(v) / den
    smooth[0, 0] = 0.0
    return u - np.real(np.fft.ifft2(smooth))


def tile_side(kernel_side, shape):
    """Tiles at least twice the kernel (its blur is then mostly inside), 64 px or more, powers of two."""
    side = 64
    while side < 2 * kernel_side:
        side *= 2
    return int(min(side, min(shape)))


def periodogram(y, side, weights=None, min_tiles=4):
    """Average power spectrum of ``side`` x ``side`` tiles (half-overlapping), white noise -> ``sigma^2``.

    Tiles holding a pixel of zero ``weight`` (a clipped highlight, where the blur
    model does not hold: a clipped light's disc would pass for blur) are left
    out, unless fewer than ``min_tiles`` would remain.
    """
    h, w = y.shape
    step = max(1, side // 2)
    corners = [(i, j) for i in range(0, h - side + 1, step) for j in range(0, w - side + 1, step)]
    if weights is not None:
        clean = [(i, j) for i, j in corners if weights[i : i + side, j : j + side].min() > 0]
        corners = clean if len(clean) >= min_tiles else corners
    acc = np.zeros((side, side))
    count = 0
    for i, j in corners:
        t = y[i : i + side, j : j + side]
        t = periodic_component(t - t.mean())
        acc += np.abs(np.fft.fft2(t)) ** 2 / t.size
        count += 1
    return acc / max(count, 1)


def _frequencies(side):
    f = np.fft.fftfreq(side)
    w2 = f[:, None] ** 2 + f[None, :] ** 2
    return w2 >= (2.0 / side) ** 2, w2  # the lowest rings hold the scene's layout, not its statistics


def _orientations(side, keep, count):
    """Each kept frequency's orientation sector: ``count`` equal sectors of the half-plane (a spectrum is symmetric)."""
    fy, fx = np.meshgrid(np.fft.fftfreq(side), np.fft.fftfreq(side), indexing="ij")
    theta = np.mod(np.arctan2(fy, fx), np.pi)[keep]
    sector = np.minimum((theta * (count / np.pi)).astype(int), count - 1)
    return np.eye(count)[sector]  # one-hot, frequencies x sectors


def _neg_log_likelihood(power, k2, w2, sigma2, sectors=None):
    """Mean Whittle negative log-likelihood per frequency, minimised over ``c`` and ``alpha``.

    With ``sectors`` (one-hot, frequencies x sectors) the scene's level ``c`` is
    fitted in each sector on its own, ``alpha`` shared.
    """
    best = math.inf
    cs = np.exp(LOG_C)[:, None]
    for alpha in ALPHAS:
        v = cs * (k2 * w2 ** (-alpha / 2.0))[None, :] + sigma2
        terms = power[None, :] / v + np.log(v)
        if sectors is None:
            nll = float(np.mean(terms, axis=1).min())
        else:
            nll = float((terms @ sectors).min(axis=0).sum()) / power.size
        best = min(best, nll)
    return best


def evidence(y, kernels, sigma, weights=None, orientations=1):
    """Per-frequency log-likelihood gain of each kernel over no blur (higher: better supported).

    ``kernels`` is a list of 2-D kernels (sum 1); ``sigma`` the noise level of ``y``;
    ``weights`` marks clipped pixels with 0 (see :func:`periodogram`). With
    ``orientations`` > 1 the scene's level is fitted in that many orientation
    sectors apart (see :func:`~deblur.blind.spectrum` on scenes of straight edges).
    """
    side = tile_side(max(k.shape[0] for k in kernels), y.shape)
    power = periodogram(np.asarray(y, dtype=np.float64), side, weights)
    keep, w2 = _frequencies(side)
    p, w2 = power[keep], w2[keep]
    sigma2 = max(float(sigma), 1e-4) ** 2
    sectors = _orientations(side, keep, orientations) if orientations > 1 else None
    none = _neg_log_likelihood(p, np.ones_like(p), w2, sigma2, sectors)
    out = []
    for k in kernels:
        k2 = np.abs(np.fft.fft2(k, (side, side)))[keep] ** 2
        out.append(none - _neg_log_likelihood(p, k2, w2, sigma2, sectors))
    return out
