"""Blind deblurring with ground truth on scenes of every kind: does the blind path ever do harm?

Each case: a scene built from shippable data only (scikit-image's bundled images,
plus a rendered text page, a synthetic night scene with lamps that clip at 1.0 and
a smooth scene), blurred with the scene beyond the frame (``_cases.observe``: valid
convolution, 1 % Gaussian noise, 8-bit quantisation), for some cases then saved as
a JPEG of quality 90 and read back. Kernels: Levin et al.'s 8 (13-27 px), random
camera shakes (``_cases.camera_shake_kernel``) of 15, 31 and 45 px, Lai et al.'s 4
real shakes (31-75 px) and a delta (no blur: a sharp photo must come out unharmed).

Per case, three PSNRs against the sharp scene, all at the best integer shift
(``|s| <= max(8, ksize // 2)``, ksize the larger of the true and the estimated
kernel) and ``max(16, |s|)`` px away from the border (``_cases.psnr_best_shift``):

- ``input``: the blurred frame itself;
- ``blind``: ``deblur.solve(y, 'estimate', channel_axis=-1 for colour)``, default
  options (``--option NAME=VALUE`` goes to the estimation, as in the other
  ``blind_*.py`` scripts);
- ``true``: ``deblur.solve(y, true_kernel)``, the same restore with the kernel known;

and the blind record's ``status``, ``confidence`` and ``reason`` (when the record
has them), the estimated kernel's size and the times. Summary: the number of
cases where the blind output is worse than its input (the key number: it must be
0), the median gap to the true-kernel restore (overall and on kernels >= 41 px:
target <= 3 dB), the share of cases within 3 dB of it, and the worst cases.

    python benchmarks/blind_scenes.py                      # 118 cases, ~20-25 min on 2 cores
    python benchmarks/blind_scenes.py --limit 4            # one case of each kernel family
    python benchmarks/blind_scenes.py --kinds text,night --kernels lai,delta
    python benchmarks/blind_scenes.py --json benchmarks/results/blind_scenes.json --option iterations=8
    python benchmarks/blind_scenes.py --base benchmarks/results/blind_scenes.json --only @256   # re-run some, summarise all
    python benchmarks/blind_scenes.py --estimates /tmp/est     # estimates written there; run again: restores only
"""

import argparse
import json
import math
import os
import sys
import time
import warnings
import zlib
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _blind_common as common  # noqa: E402
import _cases  # noqa: E402

NOISE = 0.01
JPEG_QUALITY = 90
LARGE = 41  # px: "large kernel" from here on (Lai's 51/55/75, the 45 px shake)

# ----------------------------------------------------------------------------
# Scenes (shippable data only)
# ----------------------------------------------------------------------------


def _gray(image):
    return _cases.to_gray(image)


def _document():
    """A rendered page of text (gray, 480 x 560): headline, body lines of several sizes, digits.

    Drawn at twice the size with Pillow's bundled font, then downsampled (anti-aliased
    glyphs, as a camera sees them). Falls back to scikit-image's ``text`` image
    tiled when the installed Pillow has no scalable default font.
    """
    from PIL import Image, ImageDraw, ImageFont

    h, w = 480, 560
    try:
        fonts = {s: ImageFont.load_default(size=s) for s in (56, 34, 26, 20)}
    except TypeError:  # Pillow < 10.1: no scalable default font
        t = _cases.load_image("text")
        return np.tile(t, (3, 2))[:h, :w]
    canvas = Image.new("L", (2 * w, 2 * h), 245)
    draw = ImageDraw.Draw(canvas)
    lines = [
        (56, "Deblurring, issue 11"),
        (34, "Do no harm: a sharp photo stays sharp."),
        (26, "The quick brown fox jumps over the lazy dog."),
        (26, "Pack my box with five dozen liquor jugs 0123456789."),
        (20, "Sphinx of black quartz, judge my vow. THE FIVE BOXING WIZARDS JUMP QUICKLY."),
        (20, "Invoice 2024-07-19  No. 48213   Total: 1,284.50 EUR   VAT 19 %   Page 3 of 7"),
        (34, "Blind estimation & restore"),
        (26, "abcdefghijklmnopqrstuvwxyz  ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        (20, "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor"),
        (20, "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud"),
        (26, "(){}[] <> +-*/= #%&@ ?! ;: 3.14159 2.71828"),
        (20, "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute"),
        (34, "Kernel 75 px, noise 1 %, JPEG 90"),
        (20, "irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla."),
    ]
    y, i = 24, 0
    while y + 60 < 2 * h:  # cycle through the lines until the page is full
        size, text = lines[i % len(lines)]
        draw.text((28, y), text, fill=20, font=fonts[size])
        y += int(size * 1.45)
        i += 1
    small = canvas.resize((w, h), Image.LANCZOS)
    return np.asarray(small, dtype=np.float64) / 255.0


def _night():
    """A night street: scikit-image's ``rocket`` darkened (gamma 1.8, x0.2) with 30 warm lamps of peak 3-10 (clip at 1)."""
    base = _cases.load_image("rocket")  # 427 x 640 RGB
    scene = 0.2 * base**1.8
    rng = np.random.default_rng(11)
    h, w = scene.shape[:2]
    rr, cc = np.mgrid[0:h, 0:w]
    colours = np.array([[1.0, 0.85, 0.55], [1.0, 0.95, 0.9], [1.0, 0.6, 0.3], [0.8, 0.9, 1.0]])
    for _ in range(30):
        r0, c0 = rng.uniform(20, h - 20), rng.uniform(20, w - 20)
        sigma = rng.uniform(0.7, 2.5)
        peak = rng.uniform(3.0, 10.0)
        spot = peak * np.exp(-((rr - r0) ** 2 + (cc - c0) ** 2) / (2 * sigma**2))
        scene += spot[..., None] * colours[rng.integers(len(colours))]
    return scene


def _stars():
    """scikit-image's ``hubble_deep_field`` (872 x 1000 RGB): the brightest stars boosted x5 so they clip."""
    img = _cases.load_image("hubble_deep_field")
    lum = _gray(img)
    return img * (1.0 + 4.0 * (lum > 0.6))[..., None]


def _smooth():
    """A smooth scene (gray 512): sky with soft clouds over a sharp skyline on the bottom fifth.

    Smooth by nature, not by blur: the clouds are low-pass noise, so no sharper
    scene explains them; the skyline's edges are sharp. (Until issue 11 this was
    ``astronaut`` smoothed by a Gaussian of sigma 6: a defocused photo, whose
    deblurred output scored as harm against its own blurred version; that
    scene is now ``defocus``.)
    """
    from scipy.ndimage import gaussian_filter

    h = w = 512
    rng = np.random.default_rng(7)
    clouds = gaussian_filter(rng.normal(size=(h, w)), 16.0)
    clouds *= 0.08 / clouds.std()
    sky = np.linspace(0.78, 0.5, h)[:, None] + clouds
    scene = np.array(sky)
    x = 0
    while x < w:  # buildings: dark blocks of random width and height, a few lit windows
        bw = int(rng.integers(18, 60))
        top = int(h - rng.integers(40, 110))
        scene[top:, x : x + bw] = rng.uniform(0.08, 0.22)
        for _ in range(int(rng.integers(0, 5))):
            r, c = int(rng.integers(top + 6, h - 8)), int(rng.integers(x + 3, max(x + 4, x + bw - 6)))
            scene[r : r + 5, c : c + 4] = 0.65
        x += bw
    return scene


def _page():
    """scikit-image's ``page`` (a scanned page of text, 191 x 384) enlarged 2.5 x (cubic): a sharp page of text, 478 x 960."""
    from scipy.ndimage import zoom

    return np.clip(zoom(_cases.load_image("page"), 2.5, order=3), 0.0, 1.0)


def _phantom():
    """The Shepp-Logan phantom (400 x 400): flat ellipses with sharp edges, a graphic with no texture."""
    from skimage.data import shepp_logan_phantom

    return np.asarray(shepp_logan_phantom(), dtype=np.float64)


def _horse():
    """scikit-image's ``horse`` (328 x 400): a black silhouette on white, lifted to 0.15-0.85."""
    return 0.15 + 0.7 * _cases.load_image("horse")


def _defocus():
    """A defocused photo's sharp scene (gray 512): ``astronaut`` over a diagonal ramp; blurred by ``gauss6``."""
    g = _gray(_cases.load_image("astronaut"))
    ramp = np.add.outer(np.linspace(0, 1, g.shape[0]), np.linspace(0, 1, g.shape[1])) / 2
    return 0.15 + 0.55 * g + 0.25 * ramp


def _motorcycle():
    """scikit-image's ``stereo_motorcycle`` left view (500 x 741 RGB): a man-made scene at a larger frame."""
    from skimage import data

    return np.asarray(data.stereo_motorcycle()[0], dtype=np.float64) / 255.0


def _enlarged(name, factor):
    """A bundled photo enlarged by ``factor`` (bicubic): a 0.5-0.8 MP frame, where Lai's 75 px shake is 10-14 % of the side.

    Softer than a real photo of that size (its finest detail is that of the
    original); what it tests is the blur's length against the frame, as in the
    0.7 MP photos users bring.
    """

    def build():
        from skimage.transform import rescale

        image = _cases.load_image(name)
        return np.clip(rescale(image, factor, order=3, channel_axis=-1 if image.ndim == 3 else None, anti_aliasing=False), 0.0, 1.0)

    return build


# name -> (kind, builder); colour when the builder returns (H, W, 3)
SCENES = {
    "camera": ("man-made", lambda: _cases.load_image("camera")),
    "astronaut": ("face", lambda: _cases.load_image("astronaut")),
    "coffee": ("objects", lambda: _cases.load_image("coffee")),
    "chelsea": ("animal", lambda: _cases.load_image("chelsea")),
    "coins": ("objects", lambda: _cases.load_image("coins")),
    "brick": ("texture", lambda: _cases.load_image("brick")),
    "gravel": ("texture", lambda: _cases.load_image("gravel")),
    "grass": ("texture", lambda: _cases.load_image("grass")),
    "moon": ("low-contrast", lambda: _cases.load_image("moon")),
    "document": ("text", _document),
    "night": ("night", _night),
    "stars": ("night", _stars),
    "smooth": ("smooth", _smooth),
    "defocus": ("defocus", _defocus),
    "motorcycle": ("man-made", _motorcycle),
    "rocket": ("man-made", lambda: _cases.load_image("rocket")),
    "page": ("text", _page),
    "phantom": ("graphic", _phantom),
    "logo": ("graphic", lambda: _cases.load_image("logo")),
    "horse": ("graphic", _horse),
    "ihc": ("microscopy", lambda: _cases.load_image("immunohistochemistry")),
    "coffee-big": ("objects", _enlarged("coffee", 1.6)),
    "chelsea-big": ("animal", _enlarged("chelsea", 2.0)),
    "astronaut-big": ("face", _enlarged("astronaut", 1.6)),
    "astronaut-xl": ("face", _enlarged("astronaut", 2.0)),
    "camera-xl": ("man-made", _enlarged("camera", 2.0)),
    "coffee-xl": ("objects", _enlarged("coffee", 2.4)),
    "chelsea-xl": ("animal", _enlarged("chelsea", 3.0)),
}

_scene_cache = {}


def scene(name):
    if name not in _scene_cache:
        _scene_cache[name] = np.ascontiguousarray(SCENES[name][1]())
    return _scene_cache[name]


# ----------------------------------------------------------------------------
# Kernels
# ----------------------------------------------------------------------------

LAI_SIZES = {"lai1": 31, "lai2": 51, "lai3": 55, "lai4": 75}


def family(kernel_name):
    for f in ("levin", "shake", "lai", "delta", "gauss"):
        if kernel_name.startswith(f):
            return f
    return kernel_name


def load_kernel(name, data_dir, scene_name):
    """The kernel called ``name`` (levinN, laiN, shakeN, delta), or None when its data is absent."""
    if name == "delta":
        return np.ones((1, 1))
    if name.startswith("gauss"):  # defocus-like: a Gaussian of sigma N px, 3 sigma each side
        sigma = float(name[len("gauss") :])
        r = int(math.ceil(3 * sigma))
        g = np.exp(-(np.arange(-r, r + 1) ** 2) / (2 * sigma**2))
        k = np.outer(g, g)
        return k / k.sum()
    if name.startswith("shake"):
        size = int(name[len("shake") :])
        seed = [2024, size, zlib.crc32(scene_name.encode())]  # a different trajectory on every scene
        return _cases.camera_shake_kernel(size, rng=np.random.default_rng(seed))
    if name.startswith("lai") and "x" in name:  # a real shake drawn twice as long (laiNx2: 61-151 px)
        base, factor = name.split("x")
        k = load_kernel(base, data_dir, scene_name)
        if k is None:
            return None
        from scipy.ndimage import zoom

        k = np.maximum(zoom(k, int(factor), order=1), 0.0)
        k = k[: k.shape[0] - 1 + k.shape[0] % 2, : k.shape[1] - 1 + k.shape[1] % 2]  # odd sides
        return k / k.sum()
    if name.startswith("levin"):
        path = os.path.join(data_dir, "levin09-kernels", f"kernel{name[len('levin'):]}.npy")
    elif name.startswith("lai"):
        path = os.path.join(data_dir, "lai16-kernels", f"kernel_0{name[len('lai'):]}.npy")
    else:
        raise ValueError(f"unknown kernel {name!r}")
    if not os.path.isfile(path):
        return None
    k = np.load(path, allow_pickle=False).astype(np.float64)
    return k / k.sum()


# ----------------------------------------------------------------------------
# The case list
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    scene: str
    kernel: str
    jpeg: bool = False
    frame: int = 0  # side of a centre-cropped square frame; 0 = the whole scene less the kernel

    @property
    def name(self):
        return self.scene + "/" + self.kernel + ("/jpeg" if self.jpeg else "") + (f"@{self.frame}" if self.frame else "")


def _specs():
    """The 118 cases, chosen so that every scene meets small, medium and large kernels.

    - delta (7): camera, astronaut, brick, document, night, smooth, moon -- and coffee as JPEG;
    - defocus (2): a Gaussian of sigma 6 (37 px) on the defocus scene, also as JPEG;
    - Levin's 8 kernels, 2 scenes each (16), two of them on a 256 px frame (the size of Levin's benchmark);
    - random shakes 15/31/45 px, 4 scenes each (12);
    - Lai's 31/51/55/75 px, 4 scenes each (16);
    - JPEG (quality 90) round-trips of 6 blurred cases + the sharp coffee (7);
    - larger frames (10): Lai's 51-75 px shakes on 0.3-0.8 MP scenes (two native, three enlarged
      photos), and a 15 and a 31 px kernel on them as controls;
    - long shakes (5): Lai's 55 and 75 px shakes drawn twice as long (111, 151 px) and a 121 px
      random shake on photos enlarged to 0.6-1.2 MP, beyond the automatic support's 75 px cap,
      and Lai's 51 px shake there as a control;
    - 256 px crops (24): Levin's kernels 1, 4 and 6 on eight scenes, at the size of Levin's benchmark;
    - unlike the others (11): a sharp scanned page of text (as it is, Levin's 3, a 31 px shake), the
      Shepp-Logan phantom, scikit-image's logo and horse (graphics), stained tissue under a
      microscope (as it is, Lai's 31 px shake), and the sharp rocket photo as it is (stop 25).
    """
    delta = [Spec(s, "delta") for s in ("camera", "astronaut", "brick", "document", "night", "smooth", "moon")]
    levin_pairs = {
        1: ("camera", "grass"),
        2: ("astronaut", "gravel"),
        3: ("coffee", "document"),
        4: ("chelsea", "night"),
        5: ("brick", "moon"),
        6: ("coins", "stars"),
        7: ("smooth", "camera@256"),
        8: ("document", "astronaut@256"),
    }
    levin = []
    for j, scenes in levin_pairs.items():
        for s in scenes:
            name, _, frame = s.partition("@")
            levin.append(Spec(name, f"levin{j}", frame=int(frame or 0)))
    shake_scenes = {
        15: ("camera", "chelsea", "coins", "night"),
        31: ("astronaut", "brick", "document", "moon"),
        45: ("coffee", "grass", "stars", "smooth"),
    }
    shakes = [Spec(s, f"shake{n}") for n, scenes in shake_scenes.items() for s in scenes]
    lai_scenes = {
        1: ("camera", "chelsea", "document", "gravel"),
        2: ("astronaut", "brick", "night", "coins"),
        3: ("coffee", "moon", "grass", "chelsea"),
        4: ("camera", "astronaut", "stars", "document"),
    }
    lai = [Spec(s, f"lai{j}") for j, scenes in lai_scenes.items() for s in scenes]
    jpeg = [
        Spec("coffee", "delta", jpeg=True),
        Spec("camera", "shake31", jpeg=True),
        Spec("astronaut", "levin4", jpeg=True),
        Spec("chelsea", "shake15", jpeg=True),
        Spec("document", "lai1", jpeg=True),
        Spec("night", "lai2", jpeg=True),
        Spec("brick", "levin2", jpeg=True),
    ]
    defocus = [Spec("defocus", "gauss6"), Spec("defocus", "gauss6", jpeg=True)]
    # tiny blurs (stop 28): 3-9 px, at the scale where a blur and a scene's own softness meet (the
    # sharp test's edge steepness reads blur of 2 px or less as sharp)
    tiny = [
        Spec("camera", "gauss1"),
        Spec("coffee", "gauss1.5"),
        Spec("ihc", "gauss1"),
        Spec("astronaut", "shake5"),
        Spec("chelsea", "shake7"),
        Spec("document", "shake7"),
        Spec("moon", "shake9"),
        Spec("night", "shake9"),
    ]
    # larger frames (0.3-0.8 MP), where the automatic support (12 % of the shorter side) is 51-75 px
    # and Lai's shakes are as long as it or longer; two small kernels as controls
    wide = [
        Spec("motorcycle", "lai4"),
        Spec("rocket", "lai3"),
        Spec("coffee-big", "lai4"),
        Spec("chelsea-big", "lai4"),
        Spec("astronaut-big", "lai4"),
        Spec("motorcycle", "lai3"),
        Spec("rocket", "lai4"),
        Spec("astronaut-big", "lai2"),
        Spec("motorcycle", "levin3"),
        Spec("coffee-big", "shake31"),
    ]
    # shakes longer than the automatic support's 75 px cap on 0.6-1.2 MP frames (Koehler et al.'s
    # shakes 8-10 are 120-150 px), and one within reach as a control
    long = [
        Spec("astronaut-xl", "lai4x2"),
        Spec("camera-xl", "lai3x2"),
        Spec("coffee-xl", "shake121"),
        Spec("chelsea-xl", "lai4x2"),
        Spec("astronaut-xl", "lai2"),
    ]
    # Levin's frame size (the protocol for scenes unlike Levin's photos: 255 x 255 crops,
    # Levin's kernels): where the automatic support is 31 px
    crops = [Spec(s, f"levin{j}", frame=256) for j in (1, 4, 6)
             for s in ("smooth", "brick", "moon", "camera", "astronaut", "coffee", "chelsea", "gravel")]
    # scenes added at stop 21, unlike any above (a scanned page of text, graphics, a microscope's
    # soft stained tissue), where the blind path first met failures the other cases did not show
    unlike = [
        Spec("page", "delta"),
        Spec("page", "levin3"),
        Spec("page", "shake31"),
        Spec("phantom", "levin3"),
        Spec("phantom", "lai3"),
        Spec("logo", "lai3"),
        Spec("logo", "shake31"),
        Spec("horse", "lai2"),
        Spec("ihc", "delta"),
        Spec("ihc", "lai1"),
        # stop 25: a sharp twilight photo of launch towers, its long straight verticals read as a
        # streak of blur (the first sharp input harmed that is not natively soft)
        Spec("rocket", "delta"),
    ]
    # round robin over the groups, so that --limit N samples every family
    groups = [delta, levin, shakes, lai, jpeg, defocus, wide, long, crops, unlike, tiny]
    out = []
    for i in range(max(len(g) for g in groups)):
        out.extend(g[i] for g in groups if i < len(g))
    return out


SPECS = _specs()


def build_case(spec, data_dir, noise=NOISE, seed=0):
    """``(observed, reference, kernel)`` of a spec, or None when its kernel's data is absent."""
    kernel = load_kernel(spec.kernel, data_dir, spec.scene)
    if kernel is None:
        return None
    full = scene(spec.scene)
    kh, kw = kernel.shape
    if spec.frame:
        full = _cases.centre_crop(full, (spec.frame + kh - 1, spec.frame + kw - 1))
    key = zlib.crc32(spec.name.encode())
    rng = np.random.default_rng([seed, key])
    observed, reference = _cases.observe(full, kernel, noise, rng)
    if spec.jpeg:
        observed = _cases.jpeg_roundtrip(observed, JPEG_QUALITY)
    return observed, np.clip(reference, 0.0, 1.0), kernel


# ----------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------


def warm_up():
    """Compile the numba kernels outside the timings."""
    k = _cases.camera_shake_kernel(9, rng=np.random.default_rng(0))
    y, _ = _cases.observe(_cases.centre_crop(_cases.load_image("camera"), (104, 104)), k, 0.01, np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        common.deblur.solve(y, "estimate")
        common.deblur.solve(np.stack([y] * 3, axis=-1), "estimate", channel_axis=-1)
        common.deblur.solve(y, k)


def run_case(spec, data_dir, options, noise=NOISE, estimates=None):
    built = build_case(spec, data_dir, noise)
    if built is None:
        return None
    y, ref, kernel = built
    axis = -1 if y.ndim == 3 else None
    cache = None
    if estimates:
        cache = os.path.join(estimates, f"{spec.name.replace('/', '__')}-noise{noise:g}.pkl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        blind, t_blind = common.blind_solve(y, channel_axis=axis, cache=cache, **options)
        t0 = time.perf_counter()
        true = common.deblur.solve(y, kernel, channel_axis=axis)
        t_true = time.perf_counter() - t0
    ksize = kernel.shape[0]
    est = blind.psf
    shift = max(8, max(ksize, est.shape[0]) // 2)
    p_in, _ = _cases.psnr_best_shift(y, ref, shift)
    p_blind, s_blind = _cases.psnr_best_shift(blind.image, ref, shift)
    p_true, _ = _cases.psnr_best_shift(true.image, ref, shift)
    rec = common.record_fields(blind.psf_estimation)
    return dict(
        case=spec.name,
        scene=spec.scene,
        kind=SCENES[spec.scene][0],
        kernel=spec.kernel,
        family=family(spec.kernel),
        ksize=int(ksize),
        jpeg=bool(spec.jpeg),
        colour=bool(y.ndim == 3),
        frame=f"{y.shape[1]}x{y.shape[0]}",
        input=p_in,
        blind=p_blind,
        true=p_true,
        gain=p_blind - p_in,
        gap=p_true - p_blind,
        shift=list(s_blind),
        est_size=int(est.shape[0]),
        status=rec["status"],
        confidence=rec["confidence"],
        reason=rec["reason"],
        message=rec["message"],
        time=t_blind,
        est_time=rec["est_elapsed"],
        support=rec["support"],
        touches=rec["touches"],
        starts=rec["starts"],
        flat_detail_gain=rec["flat_detail_gain"],
        fit_residual=rec["fit_residual"],
        true_time=t_true,
    )


def merged_with_base(rows, base_path):
    """The rows of the run in ``base_path`` (its ``--json``), each replaced by this run's row of the same case.

    Cases the base run did not have (added to the benchmark since) are appended:
    the summary then covers the base's cases and the new ones.
    """
    with open(base_path) as f:
        base = json.load(f)["rows"]
    fresh = {r["case"]: r for r in rows}
    known = {r["case"] for r in base}
    new = [r for r in rows if r["case"] not in known]
    if new:
        print(f"cases new since {base_path}, added to its rows: {', '.join(r['case'] for r in new)}")
    return [fresh.get(r["case"], r) for r in base] + new


def summarise(rows):
    if not rows:
        return {}
    finite = lambda v: v is not None and math.isfinite(v)  # noqa: E731
    harm = [r for r in rows if r["blind"] < r["input"]]
    gaps = [r["gap"] for r in rows if finite(r["gap"])]
    large = [r["gap"] for r in rows if r["ksize"] >= LARGE and finite(r["gap"])]
    small = [r["gap"] for r in rows if 1 < r["ksize"] < LARGE and finite(r["gap"])]
    deltas = [r for r in rows if r["family"] == "delta"]
    statuses = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    by_family = {}
    for f in ("delta", "levin", "shake", "lai"):
        sel = [r for r in rows if r["family"] == f]
        if sel:
            by_family[f] = dict(
                n=len(sel),
                harmed=sum(r["blind"] < r["input"] for r in sel),
                median_gap=float(np.median([r["gap"] for r in sel])),
                median_gain=float(np.median([r["gain"] for r in sel])),
            )
    worst_gap = max(rows, key=lambda r: r["gap"])
    worst_gain = min(rows, key=lambda r: r["gain"])
    return dict(
        n=len(rows),
        harmed=len(harm),
        harmed_cases=[r["case"] for r in harm],
        harmed_05=sum(r["blind"] < r["input"] - 0.5 for r in rows),
        median_gap=float(np.median(gaps)) if gaps else math.nan,
        median_gap_large=float(np.median(large)) if large else math.nan,
        n_large=len(large),
        median_gap_small=float(np.median(small)) if small else math.nan,
        within3=float(np.mean([g <= 3.0 for g in gaps])) if gaps else math.nan,
        mean_gain=float(np.mean([r["gain"] for r in rows])),
        summed_losses=float(sum(min(0.0, r["gain"]) for r in rows)),
        worst_gap=dict(case=worst_gap["case"], gap=worst_gap["gap"], status=worst_gap["status"]),
        worst_gain=dict(case=worst_gain["case"], gain=worst_gain["gain"], status=worst_gain["status"]),
        delta_min_gain=min((r["gain"] for r in deltas), default=math.nan),
        statuses=statuses,
        by_family=by_family,
        median_time=float(np.median([r["time"] for r in rows])),
        total_time=float(sum(r["time"] + r["true_time"] for r in rows)),
    )


def print_summary(s, file=None):
    file = file or sys.stdout
    if not s:
        print("no cases ran", file=file)
        return
    print(file=file)
    print(
        f"blind worse than its input: {s['harmed']} of {s['n']} cases (target 0)"
        + (": " + ", ".join(s["harmed_cases"]) if s["harmed_cases"] else ""),
        file=file,
    )
    print(f"  of which worse by more than 0.5 dB: {s['harmed_05']}", file=file)
    print(
        f"median gap to the true-kernel restore: {s['median_gap']:.2f} dB overall, "
        f"{s['median_gap_large']:.2f} dB on the {s['n_large']} kernels >= {LARGE} px (target <= 3), "
        f"{s['median_gap_small']:.2f} dB on smaller blurs",
        file=file,
    )
    print(f"within 3 dB of the true-kernel restore: {s['within3']:.0%} of the cases", file=file)
    print(f"mean change from the input {s['mean_gain']:+.3f} dB; summed losses {s['summed_losses']:+.2f} dB", file=file)
    print(
        f"worst gap: {s['worst_gap']['case']} {s['worst_gap']['gap']:.2f} dB ({s['worst_gap']['status']}); "
        f"worst change from the input: {s['worst_gain']['case']} {s['worst_gain']['gain']:+.2f} dB ({s['worst_gain']['status']})",
        file=file,
    )
    if math.isfinite(s["delta_min_gain"]):
        print(f"sharp inputs (delta): worst change {s['delta_min_gain']:+.2f} dB", file=file)
    print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items())), file=file)
    print(
        "by kernel family: "
        + "; ".join(
            f"{f} n={v['n']} harmed {v['harmed']} median gain {v['median_gain']:+.2f} gap {v['median_gap']:.2f}"
            for f, v in s["by_family"].items()
        ),
        file=file,
    )
    print(f"median blind time {s['median_time']:.1f} s; all solves {s['total_time'] / 60:.1f} min", file=file)
    file.flush()


COLUMNS = [
    ("case", "case", None),
    ("kind", "kind", None),
    ("frame", "frame", None),
    ("ksize", "k px", "d"),
    ("input", "input dB", ".2f"),
    ("blind", "blind dB", ".2f"),
    ("true", "true-k dB", ".2f"),
    ("gain", "blind-in", "+.2f"),
    ("gap", "true-blind", ".2f"),
    ("status", "status", None),
    ("conf", "conf.", None),
    ("reason", "reason", None),
    ("est_size", "est px", "d"),
    ("time", "blind s", ".1f"),
]


def _select(args):
    specs = list(SPECS)
    if args.kinds:
        want = {w.strip() for w in args.kinds.split(",") if w.strip()}
        specs = [s for s in specs if SCENES[s.scene][0] in want or s.scene in want]
    if args.kernels:
        want = {w.strip() for w in args.kernels.split(",") if w.strip()}
        specs = [s for s in specs if s.kernel in want or family(s.kernel) in want or ("jpeg" in want and s.jpeg)]
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        specs = [s for s in specs if any(w in s.name for w in wanted)]
    if args.limit:
        specs = specs[: args.limit]
    return specs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=common.default_data_dir(), help="folder holding levin09-kernels/ and lai16-kernels/")
    ap.add_argument("--limit", type=int, default=0, help="run the first N cases only (they cycle through the kernel families)")
    ap.add_argument("--kinds", default="", help="scene kinds or names, comma-separated: " + ", ".join(sorted({k for k, _ in SCENES.values()})))
    ap.add_argument("--kernels", default="", help="kernel families or names, comma-separated: delta, levin, shake, lai, levin4, lai4, shake45, jpeg...")
    ap.add_argument("--only", default="", help="keep the cases whose name contains this text (or any of several, comma-separated)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--noise", type=float, default=NOISE)
    ap.add_argument("--json", default=None, help="write every row and the summary to this JSON file")
    ap.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="estimation option (repeatable), e.g. iterations=8")
    ap.add_argument("--base", default=None, metavar="JSON",
                    help="an earlier run's --json: the cases selected here are run again and replace its rows, and the "
                         "summary covers all its cases (a change that can reach only some cases, measured against a full run)")
    ap.add_argument("--estimates", default=None, metavar="DIR",
                    help="a folder of estimates: a case's estimate is read from it when there (only the restores run: "
                         "for changes on the restore side, in the tree that wrote it; the blind time is then the restore's), else computed and written there")
    args = ap.parse_args(argv)
    options = common.parse_options(args.option)
    specs = _select(args)
    if args.list:
        for s in specs:
            print(f"{s.name:28s} {SCENES[s.scene][0]}")
        print(f"{len(specs)} cases")
        return 0
    if not specs:
        print("no case selected", file=sys.stderr)
        return 2

    if args.estimates:
        os.makedirs(args.estimates, exist_ok=True)
    warn = _cases.load_warning()
    if warn:
        print(warn, file=sys.stderr)
    warm_up()
    rows, skipped = [], []
    t_start = time.perf_counter()
    for spec in specs:
        row = run_case(spec, args.data, options, args.noise, args.estimates)
        if row is None:
            skipped.append(spec.name)
            print(f"{spec.name}: kernel data not found under {args.data}; skipped", file=sys.stderr)
            continue
        row["conf"] = "-" if row["confidence"] is None else (f"{row['confidence']:.2f}" if isinstance(row["confidence"], float) else str(row["confidence"]))
        rows.append(row)
        print(
            f"{row['case']:28s} {row['frame']:>8s} k {row['ksize']:2d} -> est {row['est_size']:2d} {row['status']:9s} "
            f"input {row['input']:6.2f}  blind {row['blind']:6.2f} ({row['gain']:+6.2f})  true {row['true']:6.2f}  "
            f"{row['time']:5.1f} s" + (f"  [{row['reason']}]" if row["reason"] else ""),
            flush=True,
        )
    print()
    common.print_table(
        rows,
        COLUMNS,
        title=f"Blind deblurring on scenes, {args.noise:.0%} noise, 8-bit (+ JPEG {JPEG_QUALITY} where marked); "
        f"PSNR at the best shift; options {options or 'default'}",
    )
    if args.base:
        rows = merged_with_base(rows, args.base)
        print(f"\nsummary of all {len(rows)} cases of {args.base}, the {len(specs)} selected run again:")
    summary = summarise(rows)
    print_summary(summary)
    print(f"wall time {(time.perf_counter() - t_start) / 60:.1f} min")
    if args.json:
        common.write_json(
            args.json,
            {"rows": rows, "summary": summary, "options": options, "noise": args.noise, "skipped": skipped, "machine": _cases.machine_info()},
        )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
