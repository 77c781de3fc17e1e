"""Point-spread functions: builders, the spec-string parser, kernel files read and written.

Every kernel returned here is a 2-D float64 array, non-negative and summing
to 1, in the orientation for **convolution** (``scipy.ndimage.convolve``).

Centre convention: the centre of a ``(kh, kw)`` kernel is the tap
``(kh // 2, kw // 2)``. For odd sizes that is the middle tap; for even sizes
it is the lower-right of the four middle taps (as in ``scipy.ndimage``).
A kernel with a single 1 at its centre leaves an image unchanged.
"""

import math
import os

import numpy as np

from .errors import ArgumentError, ArgumentTypeError

__all__ = [
    "gaussian", "disk", "motion", "box", "load", "save", "parse", "validate", "is_estimate", "KINDS",
    "KERNEL_EXTENSIONS", "ESTIMATE",
]

# The forms a spec string may take, for error messages and --help.
KINDS = {
    "gaussian": "gaussian:sigma=2  (optional size=N)",
    "disk": "disk:radius=3",
    "motion": "motion:length=15,angle=30  (degrees, counter-clockwise)",
    "box": "box:size=5",
}
# The word that asks for the kernel to be estimated from the image (deblur.blind parses its options).
ESTIMATE = "estimate"
KERNEL_EXTENSIONS = (".png", ".tif", ".tiff", ".npy", ".csv")
SPEC_FORMS = ", ".join(v.split("  ")[0] for v in KINDS.values()) + ", or a kernel file (.npy, .png, .tif, .csv)"


# No image deblur handles needs a kernel wider than this; the check runs
# before a kernel is allocated, so a typo (sigma=3000) fails at once.
MAX_SIZE = 4097


def _normalised(kernel):
    kernel = np.asarray(kernel, dtype=np.float64)
    kernel[kernel < 0] = 0.0
    return kernel / kernel.sum()


def _check_size(size, what):
    if size > MAX_SIZE:
        raise ArgumentError(
            f"a {what} needs a {size}x{size} kernel, larger than the image could be (limit {MAX_SIZE} px); "
            "PSF parameters are in pixels"
        )
    return size


def _positive(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ArgumentError(f"PSF {name} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ArgumentError(f"PSF {name} must be a positive finite number, got {value!r}")
    return value


def _odd_size(size, name="size"):
    size = _positive(name, size)
    if size != int(size):
        raise ArgumentError(f"PSF {name} must be a whole number of pixels, got {size!r}")
    return int(size)


def gaussian(sigma, size=None):
    """Isotropic Gaussian kernel.

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels (> 0).
    size : int, optional
        Side length; default ``2 * ceil(3 * sigma) + 1``.

    Returns
    -------
    ndarray
        ``(size, size)`` kernel summing to 1.

    Examples
    --------
    >>> from deblur import psf
    >>> k = psf.gaussian(1.5)
    >>> k.shape, round(float(k.sum()), 6)
    ((11, 11), 1.0)
    """
    sigma = _positive("sigma", sigma)
    size = _check_size(2 * int(math.ceil(min(3 * sigma, MAX_SIZE))) + 1 if size is None else _odd_size(size), f"Gaussian of sigma {sigma:g}")
    c = size // 2
    r = np.arange(size) - c
    with np.errstate(over="ignore", under="ignore"):  # a tiny sigma gives a delta
        g = np.exp(-0.5 * (r / sigma) ** 2)
    return _normalised(np.outer(g, g))


def disk(radius):
    """Uniform disk (defocus) kernel with anti-aliased rim.

    Parameters
    ----------
    radius : float
        Radius in pixels (> 0).
    """
    radius = _positive("radius", radius)
    half = int(math.ceil(min(radius, MAX_SIZE)))
    size = _check_size(2 * half + 1, f"disk of radius {radius:g}")
    # 8x8 supersampling of each pixel gives the covered fraction at the rim.
    s = 8
    sub = (np.arange(size * s) + 0.5) / s - half - 0.5
    yy, xx = np.meshgrid(sub, sub, indexing="ij")
    inside = (yy**2 + xx**2 <= radius**2).astype(np.float64)
    cover = inside.reshape(size, s, size, s).mean(axis=(1, 3))
    if cover.sum() == 0:  # radius far below a pixel: a delta
        cover[half, half] = 1.0
    return _normalised(cover)


def motion(length, angle=0.0):
    """Linear motion blur of a given length along a direction.

    Parameters
    ----------
    length : float
        Length of the path in pixels (>= 1).
    angle : float
        Direction in degrees, counter-clockwise from the +x (column) axis.

    Notes
    -----
    The path is a centred segment, rasterised with bilinear weights at
    sub-pixel samples, so non-axis angles give smooth kernels.
    """
    length = _positive("length", length)
    try:
        angle = float(angle)
    except (TypeError, ValueError):
        raise ArgumentError(f"PSF angle must be a number of degrees, got {angle!r}") from None
    if not math.isfinite(angle):
        raise ArgumentError(f"PSF angle must be finite, got {angle!r}")
    half = int(math.ceil(min(length, 2 * MAX_SIZE) / 2))
    size = _check_size(2 * half + 1, f"motion of length {length:g}")
    kernel = np.zeros((size, size))
    theta = math.radians(angle)
    dx, dy = math.cos(theta), -math.sin(theta)  # rows grow downwards
    n = max(2, int(math.ceil(length * 4)) + 1)
    for t in np.linspace(-(length - 1) / 2, (length - 1) / 2, n) if length > 1 else [0.0]:
        r, c = half + t * dy, half + t * dx
        r0, c0 = int(math.floor(r)), int(math.floor(c))
        fr, fc = r - r0, c - c0
        for rr, wr in ((r0, 1 - fr), (r0 + 1, fr)):
            for cc, wc in ((c0, 1 - fc), (c0 + 1, fc)):
                if 0 <= rr < size and 0 <= cc < size:
                    kernel[rr, cc] += wr * wc
    kernel[kernel < 1e-3 * kernel.max()] = 0.0  # keep the taps sparse
    return _normalised(kernel)


def box(size):
    """Uniform square kernel of side ``size`` (even sizes allowed)."""
    size = _odd_size(size)
    _check_size(size, f"box of size {size}")
    return _normalised(np.ones((size, size)))


def load(path):
    """Load a kernel from ``.npy``, ``.csv``/``.txt`` or an image file.

    The kernel is normalised to sum 1. An image file (PNG, TIFF, ...) is
    read as gray levels (a colour image as its luminance); an array file must
    hold a 2-D kernel.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ArgumentError(f"PSF file not found: {path!r}")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".npy":
            kernel = np.load(path, allow_pickle=False)
        elif ext in (".csv", ".txt"):
            kernel = np.loadtxt(path, delimiter="," if ext == ".csv" else None, ndmin=2)
        else:
            from PIL import Image

            with Image.open(path) as im:
                kernel = np.asarray(im.convert("F") if im.mode not in ("I;16", "I") else im, dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
        raise ArgumentError(f"could not read PSF file {path!r}: {exc}") from None
    return validate(kernel, name=f"PSF file {path!r}")


def validate(kernel, name="psf"):
    """Check a kernel array and return it as float64 summing to 1.

    Raises
    ------
    TypeError
        If it is not a real numeric 2-D array.
    ValueError
        If it is empty, has NaN/Inf, negative taps or no positive sum.
    """
    try:
        kernel = np.asarray(kernel)
    except Exception:  # noqa: BLE001
        raise ArgumentTypeError(f"{name} must be a 2-D array of numbers") from None
    if kernel.dtype.kind not in "fiub":
        raise ArgumentTypeError(f"{name} must be a real numeric array, got dtype {kernel.dtype}")
    kernel = kernel.astype(np.float64)
    if kernel.ndim != 2:
        raise ArgumentError(
            f"{name} must be 2-D, got {kernel.ndim}-D with shape {kernel.shape}; "
            "a blur kernel is one plane of taps (for a stack, pass one plane, e.g. kernel[..., 0])"
        )
    if kernel.size == 0:
        raise ArgumentError(f"{name} is empty")
    if not np.all(np.isfinite(kernel)):
        raise ArgumentError(f"{name} contains NaN or Inf values; remove them before deblurring")
    if np.any(kernel < 0):
        raise ArgumentError(f"{name} has negative values; a blur kernel must be non-negative")
    peak = kernel.max()
    if peak <= 0:
        raise ArgumentError(f"{name} sums to 0; a blur kernel needs a positive sum (is it all zeros?)")
    kernel = kernel / peak  # first by the peak, so huge finite taps cannot overflow the sum
    return kernel / kernel.sum()


def is_estimate(spec):
    """True when ``spec`` asks for the kernel to be estimated: ``'estimate'`` or ``'estimate:size=N'``.

    The one place the word is recognised (any case, spaces around it allowed);
    :func:`deblur.blind.parse_spec` reads its options.

    >>> is_estimate("estimate:size=9"), is_estimate("gaussian:sigma=1")
    (True, False)
    """
    return isinstance(spec, str) and spec.strip().partition(":")[0].strip().lower() == ESTIMATE


def _parse_params(kind, text):
    params = {}
    if not text:
        return params
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise ArgumentError(
                f"malformed PSF spec parameter {item!r} in {kind!r}: write key=value, e.g. {KINDS[kind].split()[0]}"
            )
        params[key] = value.strip()
    return params


def parse(spec):
    """Build a kernel from a spec string or a file path.

    Parameters
    ----------
    spec : str or path-like
        ``gaussian:sigma=2``, ``disk:radius=3``, ``motion:length=15,angle=30``,
        ``box:size=5``, or the path of a kernel file (see :func:`load`).

    Examples
    --------
    >>> from deblur import psf
    >>> psf.parse("box:size=3").shape
    (3, 3)
    """
    if is_estimate(spec):
        raise ArgumentError(
            f"{spec!r} asks for the kernel to be estimated from an image, which needs the image: "
            f"pass it to deblur.solve, or give a kernel ({SPEC_FORMS})"
        )
    if not isinstance(spec, (str, os.PathLike)):
        raise ArgumentTypeError(f"PSF spec must be a string or a path, got {type(spec).__name__}")
    text = os.fspath(spec).strip()
    kind, _, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        looks_like_kind = bool(rest) and kind.replace("-", "").replace("_", "").isalnum() and len(kind) > 1
        if os.path.exists(text) or (not looks_like_kind and (os.path.splitext(text)[1] or os.path.sep in text)):
            return load(text)
        raise ArgumentError(f"unknown PSF kind {kind!r}; use one of: {SPEC_FORMS}")
    params = _parse_params(kind, rest)
    builders = {
        "gaussian": (gaussian, {"sigma"}, {"size"}),
        "disk": (disk, {"radius"}, set()),
        "motion": (motion, {"length"}, {"angle"}),
        "box": (box, {"size"}, set()),
    }
    builder, required, optional = builders[kind]
    unknown = set(params) - required - optional
    missing = required - set(params)
    if unknown or missing:
        what = f"unknown parameter(s) {sorted(unknown)}" if unknown else f"missing parameter(s) {sorted(missing)}"
        raise ArgumentError(f"PSF spec {text!r}: {what}; write it as {KINDS[kind]}")
    return builder(**params)


def save(path, kernel, *, overwrite=False):
    """Write a kernel file atomically, in the format its extension names.

    ``.npy`` and ``.csv`` keep the taps exactly; ``.png`` is 16-bit gray
    with the peak white (proportions survive the round trip through
    :func:`load`), ``.tif`` float32.

    Raises
    ------
    ArgumentError
        For another extension.
    OutputExistsError
        When ``path`` exists and not ``overwrite``.
    """
    import io

    from .atomic import atomic_write

    path = os.fspath(path)
    kernel = np.asarray(kernel, dtype=np.float64)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        buf = io.BytesIO()
        np.save(buf, kernel, allow_pickle=False)
        blob = buf.getvalue()
    elif ext == ".csv":
        blob = ("\n".join(",".join(repr(float(v)) for v in row) for row in kernel) + "\n").encode()
    elif ext in (".png", ".tif", ".tiff"):
        from PIL import Image

        from .images import to_integer

        if ext == ".png":
            picture, options = Image.fromarray(to_integer(kernel / kernel.max(), np.uint16)), {}
        else:
            picture, options = Image.fromarray(kernel.astype(np.float32)), {"compression": "tiff_adobe_deflate"}
        atomic_write(path, lambda fh: picture.save(fh, format="PNG" if ext == ".png" else "TIFF", **options),
                     overwrite=overwrite)
        return
    else:
        raise ArgumentError(f"a kernel file needs one of {', '.join(KERNEL_EXTENSIONS)}, not {path!r}")
    atomic_write(path, lambda fh: fh.write(blob), overwrite=overwrite)
