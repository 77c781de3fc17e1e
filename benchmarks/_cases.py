"""Shared pieces of the benchmark scripts: test images, kernels, blur model, PSNR.

Nothing here imports :mod:`deblur` at module level except for the PSF
builders, so the scikit-image baseline side can be exercised on its own.

Blur model
----------
The observed frame ``y`` (``H x W``) is the **valid** part of the true scene
``x`` (``H + kh - 1`` by ``W + kw - 1``) convolved with the kernel, so the
frame has the true scene beyond its edges, as a camera does::

    y = valid(k * x) + n,   then 8-bit quantised

and the reference for PSNR is the crop of ``x`` that lines up with ``y``.
No circular or zero-padded blur is involved.
"""

import math
import os
import sys
import time
import zlib
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

__all__ = [
    "REPO_ROOT",
    "default_data_dir",
    "IMAGES",
    "load_image",
    "camera_shake_kernel",
    "levin_kernels",
    "blur_valid",
    "reference_offset",
    "observe",
    "psnr",
    "psnr_best_shift",
    "jpeg_roundtrip",
    "Case",
    "make_case",
    "quality_cases",
    "mosaic",
    "format_table",
    "Timer",
]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # benchmark the checkout's deblur, installed or not
    sys.path.insert(0, REPO_ROOT)


def default_data_dir():
    """``<repo>/../shared/data``: the read-only data folder next to the checkout."""
    return os.path.normpath(os.path.join(REPO_ROOT, os.pardir, "shared", "data"))


# ----------------------------------------------------------------------------
# Images
# ----------------------------------------------------------------------------

# scikit-image's bundled images (no download needed); (name, colour?)
IMAGES = (
    ("camera", False),
    ("astronaut", True),
    ("moon", False),
    ("coffee", True),
    ("brick", False),
    ("chelsea", True),
    ("coins", False),
    ("grass", False),
)


def load_image(name):
    """A bundled scikit-image image as float64 in [0, 1] (gray 2-D or RGB ``(H, W, 3)``)."""
    from skimage import data

    image = np.asarray(getattr(data, name)())
    if image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., :3]
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float64) / 65535.0
    return image.astype(np.float64)


def to_gray(image):
    """Rec. 601 luma of an RGB image (a 2-D image is returned unchanged)."""
    if image.ndim == 2:
        return image
    return image[..., :3] @ np.array([0.299, 0.587, 0.114])


def centre_crop(image, shape):
    """The central ``shape`` crop of ``image`` (leading two axes)."""
    h, w = shape
    if image.shape[0] < h or image.shape[1] < w:
        raise ValueError(f"image of shape {image.shape[:2]} is smaller than the crop {shape}")
    r0 = (image.shape[0] - h) // 2
    c0 = (image.shape[1] - w) // 2
    return image[r0 : r0 + h, c0 : c0 + w]


def mosaic(size, names=("camera", "moon", "brick", "gravel", "grass", "coins", "astronaut", "coffee")):
    """A ``size x size`` gray image tiled from bundled images (for the speed and memory runs).

    Each tile is a 256 x 256 crop at native resolution (no resampling, so the
    texture statistics stay those of real photographs); tiles cycle through
    ``names`` and alternate flips so neighbouring tiles differ.
    """
    tile = 256
    sources = [centre_crop(to_gray(load_image(n)), (tile, tile)) for n in names]
    n = int(math.ceil(size / tile))
    rows = []
    k = 0
    for i in range(n):
        row = []
        for j in range(n):
            t = sources[k % len(sources)]
            if (i + j) % 2:
                t = t[:, ::-1]
            if i % 2:
                t = t[::-1, :]
            row.append(t)
            k += 1
        rows.append(np.concatenate(row, axis=1))
    return np.ascontiguousarray(np.concatenate(rows, axis=0)[:size, :size])


# ----------------------------------------------------------------------------
# Kernels
# ----------------------------------------------------------------------------


def psf_module():
    """``deblur.psf``; loaded from its file when the package as a whole does not import yet."""
    try:
        from deblur import psf

        return psf
    except ImportError:
        import importlib.util

        path = os.path.join(REPO_ROOT, "deblur", "psf.py")
        spec = importlib.util.spec_from_file_location("_deblur_psf", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


def _rasterise(points, size):
    """Bilinear splat of sub-pixel ``points`` (N x 2, row/col) into a ``size x size`` grid."""
    kernel = np.zeros((size, size))
    r, c = points[:, 0], points[:, 1]
    r0, c0 = np.floor(r).astype(int), np.floor(c).astype(int)
    fr, fc = r - r0, c - c0
    for dr, wr in ((0, 1 - fr), (1, fr)):
        for dc, wc in ((0, 1 - fc), (1, fc)):
            rr, cc = r0 + dr, c0 + dc
            ok = (rr >= 0) & (rr < size) & (cc >= 0) & (cc < size)
            np.add.at(kernel, (rr[ok], cc[ok]), (wr * wc)[ok])
    return kernel


def camera_shake_kernel(size, rng=None, *, extent=None, n_samples=2000, exposure=0.3):
    """A random camera-shake kernel: a rasterised random trajectory.

    The trajectory follows the model (and the parameter ranges) of Boracchi
    & Foi [1]_: a particle moving at constant speed in the image plane whose
    velocity is perturbed by Gaussian noise ("anxiety"), pulled back towards
    the origin (centripetal term) and, rarely, reversed by an abrupt jerk.
    The first ``exposure`` fraction of the path is kept, scaled so that its
    bounding box spans ``extent`` pixels (default ``size - 2``), centred in
    the ``size x size`` grid, splatted with bilinear weights and normalised
    to sum 1.

    Parameters
    ----------
    size : int
        Odd side length of the kernel support.
    rng : numpy.random.Generator or int, optional
        Random source (seed) for the trajectory.
    extent : float, optional
        Largest side of the trajectory's bounding box, in pixels.
    n_samples : int
        Samples along the whole trajectory.
    exposure : float
        Fraction (0, 1] of the trajectory the shutter sees.

    Returns
    -------
    ndarray
        ``(size, size)`` float64 kernel, non-negative, summing to 1,
        convolution orientation, centre tap ``(size // 2, size // 2)``.

    References
    ----------
    .. [1] G. Boracchi and A. Foi, "Modeling the performance of image
       restoration from motion blur", IEEE TIP 21(8), 2012.
    """
    if size % 2 != 1 or size < 3:
        raise ValueError(f"kernel size must be odd and >= 3, got {size}")
    rng = np.random.default_rng(rng)
    extent = float(size - 2 if extent is None else extent)
    total_length = 60.0  # the reference model's units; rescaled to ``extent`` below
    step = total_length / (n_samples - 1)
    anxiety = 0.1 * rng.uniform()
    centripetal = 0.7 * rng.uniform()
    gaussian_term = 10.0 * rng.uniform()
    big_shakes = 0.2 * rng.uniform()
    v = np.exp(1j * rng.uniform(0, 2 * np.pi)) * max(anxiety, 1e-3)
    x = np.zeros(n_samples, dtype=complex)
    for t in range(n_samples - 1):
        jerk = 2 * v * np.exp(1j * (np.pi + (rng.uniform() - 0.5))) if rng.uniform() < big_shakes * anxiety else 0.0
        noise = rng.standard_normal() + 1j * rng.standard_normal()
        v = v + jerk + anxiety * (gaussian_term * noise - centripetal * x[t]) * step
        v = v / max(abs(v), 1e-12) * step
        x[t + 1] = x[t] + v
    x = x[: max(2, int(round(exposure * n_samples)))]
    pts = np.stack([x.imag, x.real], axis=1)
    pts -= (pts.max(axis=0) + pts.min(axis=0)) / 2  # bounding box centred on 0
    span = (pts.max(axis=0) - pts.min(axis=0)).max()
    pts *= extent / max(span, 1e-12)
    pts += size // 2
    kernel = _rasterise(pts, size)
    return kernel / kernel.sum()


def levin_kernels(data_dir, indices=range(1, 9)):
    """The Levin et al. (2009) camera-shake kernels ``kernelN.npy`` from ``data_dir``.

    Returns a list of ``(name, kernel)``; empty (with a message on stderr)
    when the folder is absent, so the benchmarks still run without the data.
    """
    folder = os.path.join(data_dir, "levin09-kernels")
    if not os.path.isdir(folder):
        print(
            f"note: {folder} not found; skipping the Levin camera-shake kernels (pass --data DIR to use them)",
            file=sys.stderr,
        )
        return []
    out = []
    for i in indices:
        path = os.path.join(folder, f"kernel{i}.npy")
        if not os.path.isfile(path):
            print(f"note: {path} missing; skipped", file=sys.stderr)
            continue
        k = np.load(path, allow_pickle=False).astype(np.float64)
        out.append((f"levin{i}", k / k.sum()))
    return out


# ----------------------------------------------------------------------------
# Blur model
# ----------------------------------------------------------------------------


def reference_offset(kernel_shape):
    """Offset (rows, cols) of the reference crop inside the scene for a valid blur.

    With the centre tap at ``(kh // 2, kw // 2)``, output pixel ``i`` of
    ``valid(k * x)`` is centred on scene pixel ``i + kh - 1 - kh // 2``.
    """
    kh, kw = kernel_shape
    return kh - 1 - kh // 2, kw - 1 - kw // 2


def blur_valid(scene, kernel):
    """``valid(kernel * scene)``, per channel for a ``(H, W, C)`` scene."""
    if scene.ndim == 3:
        return np.stack([blur_valid(scene[..., c], kernel) for c in range(scene.shape[-1])], axis=-1)
    return signal.fftconvolve(scene, kernel, mode="valid")


def observe(scene, kernel, noise, rng, quantise=True):
    """Blur ``scene`` (valid), add Gaussian noise of std ``noise`` and quantise to 8 bits.

    Returns ``(observed, reference)``: the observed frame (float64 in [0, 1],
    multiples of 1/255 when ``quantise``) and the matching sharp crop.
    """
    kh, kw = kernel.shape
    h, w = scene.shape[0] - kh + 1, scene.shape[1] - kw + 1
    blurred = blur_valid(scene, kernel)
    noisy = blurred + noise * rng.standard_normal(blurred.shape)
    if quantise:
        noisy = np.round(np.clip(noisy, 0.0, 1.0) * 255.0) / 255.0
    r0, c0 = reference_offset(kernel.shape)
    reference = scene[r0 : r0 + h, c0 : c0 + w]
    return noisy, np.ascontiguousarray(reference)


def psnr(estimate, reference, data_range=1.0):
    """Peak signal-to-noise ratio in dB over all pixels (and channels); estimate clipped to [0, 1]."""
    estimate = np.clip(np.asarray(estimate, dtype=np.float64), 0.0, data_range)
    mse = np.mean((estimate - np.asarray(reference, dtype=np.float64)) ** 2)
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


def psnr_best_shift(estimate, reference, max_shift=8, border=16, data_range=1.0):
    """PSNR at the best integer shift ``|dy|, |dx| <= max_shift``, ``max(border, max_shift)`` px from the edges.

    A blindly estimated kernel is defined up to a translation, so its restore is a
    shifted copy of the scene: the reference's interior (``b = max(border,
    max_shift)`` px in from each edge) is compared with every window of the
    estimate shifted by up to ``max_shift`` px, and the best PSNR is kept. The
    estimate is clipped to ``[0, data_range]`` (as :func:`psnr`); colour
    ``(H, W, C)`` sums over channels. All shifts at once by FFT correlation.

    Returns ``(psnr_db, (dy, dx))``.
    """
    est = np.clip(np.asarray(estimate, dtype=np.float64), 0.0, data_range)
    ref = np.asarray(reference, dtype=np.float64)
    if est.shape != ref.shape:
        raise ValueError(f"estimate {est.shape} and reference {ref.shape} differ in shape")
    if est.ndim == 2:
        est, ref = est[..., None], ref[..., None]
    h, w = ref.shape[:2]
    s = int(max_shift)
    b = max(int(border), s)
    if h - 2 * b < 8 or w - 2 * b < 8:
        raise ValueError(f"a {h}x{w} image is too small for a {b} px border")
    inner = ref[b : h - b, b : w - b]
    window = est[b - s : h - b + s, b - s : w - b + s]
    ones = np.ones(inner.shape[:2])
    cross = 0.0
    energy = 0.0
    for c in range(ref.shape[2]):
        cross = cross + signal.fftconvolve(window[..., c], inner[::-1, ::-1, c], mode="valid")
        energy = energy + signal.fftconvolve(window[..., c] ** 2, ones, mode="valid")
    ssd = np.maximum(float(np.sum(inner**2)) + energy - 2.0 * cross, 0.0)  # (2s+1, 2s+1)
    i, j = np.unravel_index(int(np.argmin(ssd)), ssd.shape)
    mse = float(ssd[i, j]) / inner.size
    value = math.inf if mse <= 1e-20 else 10.0 * math.log10(data_range**2 / mse)
    return value, (int(i) - s, int(j) - s)


def jpeg_roundtrip(image, quality=90):
    """``image`` (float in [0, 1], gray or RGB) saved as a JPEG of ``quality`` and read back (4:2:0 for colour)."""
    import io

    from PIL import Image

    u8 = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im, dtype=np.float64) / 255.0


# ----------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------


@dataclass
class Case:
    """One quality benchmark case."""

    name: str  # e.g. "camera/levin3/1.0%"
    image: str
    kernel_name: str
    kernel: np.ndarray
    noise: float  # std of the Gaussian noise, [0, 1] range
    observed: np.ndarray  # float64, (H, W) or (H, W, 3)
    reference: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def colour(self):
        return self.observed.ndim == 3

    @property
    def channel_axis(self):
        return -1 if self.colour else None


def make_case(image_name, kernel_name, kernel, noise, size=256, seed=0):
    """Build a case: a centred crop of ``size + kernel - 1`` blurred (valid) to ``size x size``."""
    scene_full = load_image(image_name)
    kh, kw = kernel.shape
    scene = centre_crop(scene_full, (size + kh - 1, size + kw - 1))
    key = zlib.crc32(f"{image_name}/{kernel_name}/{noise:.6f}".encode())
    rng = np.random.default_rng([seed, key])
    observed, reference = observe(scene, kernel, noise, rng)
    return Case(
        name=f"{image_name}/{kernel_name}/{100 * noise:.1f}%",
        image=image_name,
        kernel_name=kernel_name,
        kernel=kernel,
        noise=noise,
        observed=observed,
        reference=reference,
    )


NOISE_LEVELS = (0.003, 0.01, 0.02, 0.005, 0.015)


def synthetic_kernels(seed=0):
    """Our own kernels: two random camera shakes, a Gaussian and a defocus disk (deblur.psf builders)."""
    psf = psf_module()
    return [
        ("shake21", camera_shake_kernel(21, rng=np.random.default_rng([seed, 21]))),
        ("shake31", camera_shake_kernel(31, rng=np.random.default_rng([seed, 31]))),
        ("gauss2", psf.gaussian(2.0)),
        ("disk4", psf.disk(4.0)),
    ]


def quality_cases(data_dir, quick=False, size=256, seed=0):
    """The quality benchmark set.

    Kernels: the 8 Levin camera-shake kernels (when present) and 4 synthetic
    ones (:func:`synthetic_kernels`). Full set: every kernel on two images
    (kernel ``j`` on images ``j`` and ``j + 3`` of :data:`IMAGES`, so each
    image meets several kernels), noise cycling through
    :data:`NOISE_LEVELS` (0.3-2 % of the [0, 1] range). ``quick``: every
    other kernel on one image. Deterministic given ``seed``.

    Returns a list of :class:`Case`.
    """
    kernels = levin_kernels(data_dir) + synthetic_kernels(seed)
    if quick:
        kernels = kernels[::2]
    pairs = []
    for j, (kname, k) in enumerate(kernels):
        images = [IMAGES[j % len(IMAGES)][0]]
        if not quick:
            images.append(IMAGES[(j + 3) % len(IMAGES)][0])
        for image in images:
            pairs.append((image, kname, k))
    cases = []
    for i, (image, kname, k) in enumerate(pairs):
        noise = NOISE_LEVELS[i % len(NOISE_LEVELS)]
        cases.append(make_case(image, kname, k, noise, size=size, seed=seed))
    return cases


# ----------------------------------------------------------------------------
# Output helpers
# ----------------------------------------------------------------------------


def format_table(header, rows, align=None):
    """Fixed-width text table; numbers right-aligned, text left-aligned by default."""
    cells = [[str(h) for h in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    if align is None:
        align = []
        for i in range(len(header)):
            col = [row[i] for row in rows]
            numeric = bool(col) and all(isinstance(v, (int, float, np.floating, np.integer)) for v in col)
            align.append(">" if numeric else "<")
    lines = []
    for j, r in enumerate(cells):
        lines.append("  ".join(f"{c:{a}{w}}" for c, a, w in zip(r, align, widths)).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self):
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t0
        return False


def load_warning():
    """A warning line when other processes load the machine (timings then are not clean), else ''."""
    try:
        load1 = os.getloadavg()[0]
    except OSError:
        return ""
    cores = os.cpu_count() or 1
    if load1 > 0.5 * cores:
        return (
            f"warning: load average {load1:.1f} on {cores} cores: other processes compete for the CPU, "
            "so wall times are inflated (deblur and scikit-image alternate, so their ratio is fairer)"
        )
    return ""


def machine_info():
    """A few facts about the machine for the JSON outputs."""
    import platform

    import scipy
    import skimage

    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-image": skimage.__version__,
    }
    try:
        import deblur

        info["deblur"] = deblur.__version__
    except Exception as exc:  # noqa: BLE001 - the engine may not be importable yet
        info["deblur"] = f"not importable: {exc}"
    try:
        import subprocess

        head = subprocess.run(["git", "-C", REPO_ROOT, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", REPO_ROOT, "status", "--porcelain", "--", "deblur"], capture_output=True,
                               text=True, timeout=10)
        if head.returncode == 0:
            info["git_commit"] = head.stdout.strip()
            info["deblur_modified_since_commit"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        info["loadavg"] = list(os.getloadavg())
    except OSError:
        pass
    try:
        import numba

        info["numba"] = numba.__version__
        info["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    except Exception:  # noqa: BLE001
        pass
    return info
