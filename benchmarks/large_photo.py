"""Large-photo benchmark: a 12 MP colour JPEG through the ``deblur restore`` command, known kernel and blind.

The scene is a 2 x 2 mosaic of scikit-image's colour photographs (astronaut,
coffee, chelsea, and astronaut mirrored), each upscaled (bilinear) to a
quarter of 4096 x 2720 plus the kernel's reach, blurred (valid: the true
scene lies beyond the frame) by a seeded 41-px camera shake from
``_cases.camera_shake_kernel``, with 1 % Gaussian noise, written as an 8-bit
JPEG (quality 95, pillow) into a temporary folder together with the kernel
as ``k.npy``. Only shippable data: nothing is downloaded.

Rows, each a fresh process (``python -m deblur restore``), so the wall time
includes start-up, JPEG decoding and encoding, and the peak memory is the
process's own maximum resident set (``os.wait4``, from a small launcher started
before the scene exists: a child inherits its parent's peak):

- ``known kernel``: ``restore big.jpg --psf k.npy``;
- ``blind``: ``restore big.jpg`` with the kernel estimated (``--psf estimate``).

PSNR is measured on the written PNG against the sharp scene's crop. The
Numba compilation is excluded by a warm-up run on a small image first (the
on-disk cache then serves the timed runs).

Run ``python benchmarks/large_photo.py --help``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cases  # noqa: E402

WIDTH, HEIGHT = 4096, 2720
KERNEL_SIZE = 41
NOISE = 0.01
TILES = ("astronaut", "coffee", "chelsea", "astronaut")


def make_scene(height, width, kernel_shape):
    """``(height + kh - 1, width + kw - 1, 3)`` float64 colour mosaic in [0, 1]."""
    from skimage.transform import resize

    kh, kw = kernel_shape
    full_h, full_w = height + kh - 1, width + kw - 1
    th, tw = -(-full_h // 2), -(-full_w // 2)
    tiles = []
    for i, name in enumerate(TILES):
        image = _cases.load_image(name)
        tile = resize(image, (th, tw, 3), order=1, anti_aliasing=False)
        tiles.append(tile[:, ::-1] if i == 3 else tile)
    scene = np.concatenate([np.concatenate(tiles[:2], axis=1), np.concatenate(tiles[2:], axis=1)], axis=0)
    return np.ascontiguousarray(np.clip(scene[:full_h, :full_w], 0.0, 1.0))


def make_input(folder, height=HEIGHT, width=WIDTH, seed=0):
    """Write ``big.jpg`` and ``k.npy`` into ``folder``; returns (jpeg path, kernel path, reference)."""
    from PIL import Image

    kernel = _cases.camera_shake_kernel(KERNEL_SIZE, rng=np.random.default_rng([seed, 4100 + KERNEL_SIZE]))
    scene = make_scene(height, width, kernel.shape)
    observed, reference = _cases.observe(scene, kernel, NOISE, np.random.default_rng([seed, 12]))
    jpeg = os.path.join(folder, "big.jpg")
    Image.fromarray(np.round(observed * 255).astype(np.uint8)).save(jpeg, quality=95)
    kpath = os.path.join(folder, "k.npy")
    np.save(kpath, kernel)
    return jpeg, kpath, reference.astype(np.float32)


# A child inherits its parent's peak RSS (Linux copies the high-water mark at fork), so a
# restore started from this process, which holds the float64 scene, could not report less
# than this process's own peak. The restores are started by a small launcher made before the
# scene exists; its own peak is a few MB.
_LAUNCHER_SOURCE = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    job = json.loads(line)
    t0 = time.perf_counter()
    proc = subprocess.Popen(job["cmd"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=job["cwd"])
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    print(json.dumps({"wall": time.perf_counter() - t0, "rss": usage.ru_maxrss * 1024,
                      "rc": os.waitstatus_to_exitcode(status), "stderr": err}), flush=True)
"""
_launcher = None


def start_launcher():
    """Start the launcher (call before any large array exists)."""
    global _launcher
    _launcher = subprocess.Popen([sys.executable, "-c", _LAUNCHER_SOURCE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def run_restore(args):
    """Run ``python -m deblur restore ARGS``; returns (wall seconds, peak RSS bytes, return code, stderr)."""
    if _launcher is None:
        start_launcher()
    cmd = [sys.executable, "-m", "deblur", "restore", *args]
    _launcher.stdin.write(json.dumps({"cmd": cmd, "cwd": _cases.REPO_ROOT}) + "\n")
    _launcher.stdin.flush()
    result = json.loads(_launcher.stdout.readline())
    return result["wall"], result["rss"], result["rc"], result["stderr"]


def read_png(path):
    from PIL import Image

    return np.asarray(Image.open(path), dtype=np.float32) / 255.0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=1, help="timed runs per row; the median is reported (default 1)")
    p.add_argument("--rows", nargs="+", choices=("known", "blind"), default=["known", "blind"])
    p.add_argument("--size", type=int, nargs=2, default=(HEIGHT, WIDTH), metavar=("H", "W"),
                   help="frame size (default 2720 4096)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                   help="further restore options for every row (after everything else)")
    p.add_argument("--json", metavar="PATH", help="write all results as JSON")
    args = p.parse_args(argv)

    start_launcher()  # before the scene: see _LAUNCHER_SOURCE
    load = _cases.load_warning()
    if load:
        print(load, file=sys.stderr)
    records = []
    with tempfile.TemporaryDirectory(prefix="deblur-large-") as folder:
        print("making the input ...", file=sys.stderr, flush=True)
        jpeg, kpath, reference = make_input(folder, *args.size, seed=args.seed)
        small = os.path.join(folder, "small.jpg")
        from PIL import Image

        Image.open(jpeg).crop((0, 0, 256, 256)).save(small, quality=95)
        print("warm-up (numba compilation, not timed) ...", file=sys.stderr, flush=True)
        run_restore([small, "--psf", kpath, "-o", os.path.join(folder, "w.png")])
        if "blind" in args.rows:
            run_restore([small, "-o", os.path.join(folder, "w2.png")])
        for row in args.rows:
            out = os.path.join(folder, f"{row}.png")
            psf_args = ["--psf", kpath] if row == "known" else []
            walls, peaks = [], []
            for i in range(args.repeat):
                print(f"{row}: run {i + 1}/{args.repeat} ...", file=sys.stderr, flush=True)
                if os.path.exists(out):
                    os.remove(out)
                wall, peak, rc, stderr = run_restore([jpeg, *psf_args, "-o", out, *args.extra])
                if rc != 0:
                    print(stderr, file=sys.stderr)
                    raise SystemExit(f"restore failed ({row}, exit {rc})")
                walls.append(wall)
                peaks.append(peak)
            records.append({
                "row": row,
                "wall_seconds": statistics.median(walls),
                "wall_times": walls,
                "peak_bytes": max(peaks),
                "psnr": _cases.psnr(read_png(out), reference),
                "lr_warning": "smaller --lr" in stderr,  # the back-off report
                "stderr": stderr.strip()[-2000:],
            })
        observed_psnr = _cases.psnr(read_png(jpeg), reference)

    h, w = args.size
    header = ["row", "wall s", "peak MB", "PSNR dB", "input PSNR", "--lr warning"]
    rows = [[r["row"], f"{r['wall_seconds']:.1f}", f"{r['peak_bytes'] / 1e6:.0f}", f"{r['psnr']:.2f}",
             f"{observed_psnr:.2f}", "yes" if r["lr_warning"] else "no"] for r in records]
    print(f"\n{w}x{h} colour JPEG, {KERNEL_SIZE}-px camera shake, {NOISE:.0%} noise; whole process, "
          f"median of {args.repeat}; numba threads: {_cases.machine_info().get('numba_threads')}")
    print(_cases.format_table(header, rows, ["<"] + [">"] * (len(header) - 1)))
    start_launcher()  # before the scene: see _LAUNCHER_SOURCE
    load = _cases.load_warning()
    if load:
        print(load)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"mode": "large_photo", "size": [h, w], "rows": records, "input_psnr": observed_psnr,
                       "machine": _cases.machine_info()}, fh, indent=1)
    return 0




if __name__ == "__main__":
    sys.exit(main())
