"""Batch throughput: ``deblur batch`` on this machine against a Dask cluster.

Target of the Dask issue: 32 images, local ``--jobs 1`` against a 2-worker
cluster: throughput and overhead per image, and the same output bytes.

The images: ``--count`` (32) gray 8-bit frames of ``--size`` (384) px,
crops of ``_cases.mosaic`` photographs, blurred 'valid' by a 2-px Gaussian,
1 % noise. Each run is the real command line in a fresh process
(``python -m deblur batch IN OUT --psf gaussian:sigma=2 ...``), timed from
start to exit; numba's cache is warmed by an untimed run first. Runs:

- ``--jobs 1``: one file after the other in this process;
- ``--jobs 2``: deblur's own process pool;
- ``--scheduler local --jobs 2``: a LocalCluster of 2 worker processes
  (started and stopped by the command: included in its time);
- ``--scheduler ADDRESS``: a cluster already running, 2 worker processes
  that this script starts beforehand (the steady state of a shared
  cluster: no start-up in the time; the workers have run one warm-up
  batch), or the scheduler of ``--address``.

Reported per run: wall seconds, images per second, the mean solve time per
image (the summary's ``seconds`` column: read, restore, write), and the
overhead per image: ``(wall x workers - sum of per-image seconds) / images``,
the worker time not spent on images (start-up, scheduling, transfer, idle
tail), plus whether every output is byte-identical to the ``--jobs 1`` run.

Run ``python benchmarks/dask_batch.py --help``.
"""

import argparse
import contextlib
import csv
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _cases  # noqa: E402

REPO = os.path.dirname(HERE)
PSF = "gaussian:sigma=2"


def make_images(folder, count, size, seed=0):
    from PIL import Image

    psf = _cases.psf_module()
    kernel = psf.gaussian(2.0)
    kh, kw = kernel.shape
    big = _cases.mosaic(2048)
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        r, c = rng.integers(0, 2048 - size - kh, size=2)
        scene = big[r : r + size + kh - 1, c : c + size + kw - 1]
        observed, _ = _cases.observe(scene, kernel, 0.01, rng)
        Image.fromarray(np.round(observed * 255).astype(np.uint8)).save(os.path.join(folder, f"img{i:03d}.png"))


def _start_cluster(stack, workers):
    """A LocalCluster in this process for the 'running cluster' run; its address."""
    import distributed

    cluster = stack.enter_context(distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                                           processes=True, dashboard_address=None,
                                                           silence_logs=logging.CRITICAL))
    return cluster.scheduler_address


def run_batch(src, out, extra, env):
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "deblur", "batch", src, out, "--psf", PSF, "-q", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    with open(os.path.join(out, "deblur-summary.csv"), encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return wall, rows


def same_bytes(a, b, names):
    for name in names:
        with open(os.path.join(a, name), "rb") as fa, open(os.path.join(b, name), "rb") as fb:
            if fa.read() != fb.read():
                return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=32, help="images in the batch")
    parser.add_argument("--size", type=int, default=384, help="image side, pixels")
    parser.add_argument("--workers", type=int, default=2, help="processes of the pool and the local cluster")
    parser.add_argument("--address", default=None,
                        help="a running Dask scheduler to use for the last run (default: start a local one)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each configuration (the fastest is kept)")
    parser.add_argument("--json", default=None, help="write the records here")
    args = parser.parse_args(argv)

    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    configs = [("--jobs 1", ["--jobs", "1"], 1),
               (f"--jobs {args.workers} (process pool)", ["--jobs", str(args.workers)], args.workers),
               (f"--scheduler local --jobs {args.workers}", ["--scheduler", "local", "--jobs", str(args.workers)],
                args.workers)]
    with contextlib.ExitStack() as stack:
        address = args.address or _start_cluster(stack, args.workers)
        running = f"--scheduler ADDRESS ({'running' if args.address else 'running local'} cluster)"
        configs.append((running, ["--scheduler", address], None if args.address else args.workers))
        work = stack.enter_context(tempfile.TemporaryDirectory())
        src = os.path.join(work, "in")
        make_images(src, args.count, args.size)
        names = sorted(os.listdir(src))
        run_batch(src, os.path.join(work, "warm"), ["--jobs", "1"], env)  # numba cache, file cache
        run_batch(src, os.path.join(work, "warm2"), ["--scheduler", address], env)  # the cluster's workers
        results, records = [], []
        baseline = None
        for label, extra, workers in configs:
            out = os.path.join(work, "out-" + str(len(results)))
            best = None
            for _ in range(args.repeat):
                wall, rows = run_batch(src, out, extra, env)
                if best is None or wall < best[0]:
                    best = (wall, rows)
            wall, rows = best
            if workers is None:
                workers = args.workers  # a remote cluster: assume --workers processes
            solve = [float(r["seconds"]) for r in rows if r["status"] == "ok"]
            n = len(rows)
            overhead = (wall * workers - sum(solve)) / n
            if baseline is None:
                baseline = out
                identical = "(reference)"
            else:
                identical = "yes" if same_bytes(baseline, out, names) else "NO"
            results.append([label, workers, f"{wall:.1f}", f"{n / wall:.2f}", f"{np.mean(solve):.3f}",
                            f"{overhead:.3f}", identical])
            records.append({"run": label, "workers": workers, "wall_s": wall, "images_per_s": n / wall,
                            "mean_image_s": float(np.mean(solve)), "overhead_per_image_s": overhead,
                            "identical": identical, "ok": len(solve), "images": n})
            print(f"{label}: {wall:.1f} s", flush=True)
    print()
    print(f"{args.count} images of {args.size}x{args.size} px, --psf {PSF}, library defaults; "
          f"{os.cpu_count()} cores")
    print(_cases.format_table(["run", "workers", "wall s", "images/s", "s per image (in worker)",
                               "overhead s/image", "bytes = --jobs 1"], results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"count": args.count, "size": args.size, "records": records,
                       "machine": _cases.machine_info()}, fh, indent=1)
    return 0 if all(r["identical"] in ("yes", "(reference)") for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
