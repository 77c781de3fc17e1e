"""Speed benchmark: default deblur.restore vs scikit-image richardson_lucy(num_iter=30).

A 2048 x 2048 gray mosaic of bundled scikit-image photographs, blurred (valid,
true scene beyond the frame) by three kernels -- 15-px linear motion at 30
degrees, a Gaussian of sigma 2, and a seeded 31-px random camera shake --
with 1 % Gaussian noise, 8-bit quantised, passed as float32.

For each kernel, in one run: the wall time of ``deblur.restore`` (default
options) and of ``skimage.restoration.richardson_lucy(num_iter=30)`` on the
same input, median of ``--repeat`` runs; the numba compilation is excluded
(a warm-up on a small image comes first). One extra ``deblur.solve`` gives
the iteration count, so the time per iteration per megapixel can be set
against the memory-bandwidth bound of the machine: ``--passes`` array passes
of float32 per iteration (default 12, see README) divided by the measured
STREAM-like bandwidth of numpy copy/add on large arrays.

Run ``python benchmarks/speed.py --help``.
"""

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cases  # noqa: E402

DEFAULT_PASSES = 12


# ----------------------------------------------------------------------------
# Memory bandwidth
# ----------------------------------------------------------------------------


def _chunks(n, parts):
    bounds = np.linspace(0, n, parts + 1).astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def measure_bandwidth(mib=256, repeat=5, threads=None):
    """STREAM-like memory bandwidth with numpy, in bytes per second.

    Two kernels on float64 arrays of ``mib`` MiB each (far beyond cache):
    *copy* ``b[:] = a`` (2 arrays moved) and *add* ``c = a + b`` (3 arrays
    moved, STREAM's "add"; numpy has no single-pass triad). Each runs on one
    thread and on ``threads`` threads (numpy releases the GIL, each thread
    takes its own slice). Best of ``repeat``; write-allocate traffic is not
    counted, as in STREAM.

    Returns a dict ``{"copy_1": Bps, "add_1": Bps, "copy_N": ..., "add_N": ..., "best": Bps, "threads": N}``.
    """
    threads = threads or os.cpu_count() or 1
    n = mib * 2**20 // 8
    a = np.full(n, 1.0)
    b = np.full(n, 2.0)
    c = np.full(n, 0.0)

    def copy(s):
        np.copyto(b[s], a[s])

    def add(s):
        np.add(a[s], b[s], out=c[s])

    out = {"array_mib": mib, "threads": threads}
    for label, fn, arrays in (("copy", copy, 2), ("add", add, 3)):
        for nt in sorted({1, threads}):
            parts = _chunks(n, nt)
            best = float("inf")
            with ThreadPoolExecutor(nt) as pool:
                for _ in range(repeat + 1):  # the first pass also faults pages in
                    t0 = time.perf_counter()
                    list(pool.map(fn, parts))
                    best = min(best, time.perf_counter() - t0)
            out[f"{label}_{nt}"] = arrays * a.nbytes / best
    out["best"] = max(v for k, v in out.items() if k.startswith(("copy_", "add_")))
    return out


# ----------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------


@contextlib.contextmanager
def counting_transforms():
    """Count the solver's 2-D transforms (``deblur.spectral.SpectralBuffer``'s forward and inverse) while inside."""
    from deblur import spectral

    counts = {"forward": 0, "inverse": 0}
    originals = {name: getattr(spectral.SpectralBuffer, name) for name in counts}

    def counted(name):
        def wrapper(self, *args, **kwargs):
            counts[name] += 1
            return originals[name](self, *args, **kwargs)

        return wrapper

    for name in counts:
        setattr(spectral.SpectralBuffer, name, counted(name))
    try:
        yield counts
    finally:
        for name, function in originals.items():
            setattr(spectral.SpectralBuffer, name, function)


def speed_kernels(seed=0):
    """``[(label, kernel)]``: the three kernels of the issue."""
    psf = _cases.psf_module()
    return [
        ("motion15@30", psf.motion(15, 30)),
        ("gauss2", psf.gaussian(2.0)),
        ("shake31", _cases.camera_shake_kernel(31, rng=np.random.default_rng([seed, 2031]))),
    ]


def make_input(size, kernel, noise=0.01, seed=0):
    """``(observed float32, reference)`` for a ``size x size`` frame of the mosaic, valid blur."""
    kh, kw = kernel.shape
    scene = _cases.mosaic(size + max(kh, kw) - 1)[: size + kh - 1, : size + kw - 1]
    observed, reference = _cases.observe(scene, kernel, noise, np.random.default_rng([seed, kh, kw]))
    return observed.astype(np.float32), reference


def warm_up(kernels):
    """Compile deblur's kernels (and let scipy plan its FFTs) on a small image; not timed."""
    import deblur
    from skimage import restoration

    small = np.random.default_rng(0).uniform(size=(96, 96)).astype(np.float32)
    for _, k in kernels:
        deblur.solve(small, k)
        deblur.restore(small, k)
        restoration.richardson_lucy(small, k, num_iter=2)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=2048, help="side of the square test image (default 2048)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per method; the median is reported (default 3)")
    p.add_argument("--passes", type=float, default=DEFAULT_PASSES,
                   help=f"float32 array passes per iteration for the bandwidth bound (default {DEFAULT_PASSES})")
    p.add_argument("--rl-iter", type=int, default=30, help="richardson_lucy iterations (default 30)")
    p.add_argument("--kernels", nargs="+", default=None, help="subset of kernel labels: motion15@30 gauss2 shake31")
    p.add_argument("--no-skimage", action="store_true", help="time deblur only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="write all results as JSON")
    args = p.parse_args(argv)

    import deblur
    from skimage import restoration

    kernels = speed_kernels(args.seed)
    if args.kernels:
        unknown = set(args.kernels) - {k for k, _ in kernels}
        if unknown:
            p.error(f"unknown kernel label(s) {sorted(unknown)}; choose from {[k for k, _ in kernels]}")
        kernels = [(k, v) for k, v in kernels if k in args.kernels]

    load = _cases.load_warning()
    if load:
        print(load, file=sys.stderr)
    print("measuring memory bandwidth ...", file=sys.stderr, flush=True)
    bw = measure_bandwidth()
    bandwidth = bw["best"]
    with _cases.Timer() as t:
        warm_up(kernels)
    print(f"warm-up (numba compilation, not timed): {t.seconds:.1f} s", file=sys.stderr, flush=True)

    mpix = args.size * args.size / 1e6
    bound_per_iter = args.passes * 4 * args.size * args.size / bandwidth  # seconds
    records = []
    for label, k in kernels:
        observed, reference = make_input(args.size, k, seed=args.seed)
        rec = {"kernel": label, "kernel_shape": list(k.shape), "size": args.size}
        # deblur and scikit-image alternate, so both see the same machine load
        deblur_times, rl_times = [], []
        restored = rl = None
        for i in range(args.repeat):
            print(f"{label}: run {i + 1}/{args.repeat}: deblur.restore ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            restored = deblur.restore(observed, k)
            deblur_times.append(time.perf_counter() - t0)
            if not args.no_skimage:
                print(f"{label}: run {i + 1}/{args.repeat}: richardson_lucy({args.rl_iter}) ...", file=sys.stderr,
                      flush=True)
                t0 = time.perf_counter()
                rl = restoration.richardson_lucy(observed, k, num_iter=args.rl_iter)
                rl_times.append(time.perf_counter() - t0)
        rec["deblur_seconds"] = statistics.median(deblur_times)
        rec["deblur_times"] = deblur_times
        rec["deblur_psnr"] = _cases.psnr(restored, reference)
        with counting_transforms() as transforms:
            t0 = time.perf_counter()
            result = deblur.solve(observed, k)
            rec["solve_seconds"] = time.perf_counter() - t0
        rec["transforms"] = dict(transforms)
        elapsed = result.history["elapsed"]
        iters = max(int(result.iterations), 1)
        rec["iterations"] = int(result.iterations)
        rec["stop_reason"] = result.stop_reason
        rec["weight"] = float(np.ravel(result.weight)[0]) if result.weight is not None else None
        # the solver's own clock when it kept one, else the wall time of the solve call
        solver_time = float(elapsed[-1]) if len(elapsed) and np.isfinite(elapsed[-1]) else rec["solve_seconds"]
        rec["solver_seconds"] = solver_time
        rec["per_iter_seconds"] = solver_time / iters
        rec["per_iter_ms_per_mpix"] = 1e3 * rec["per_iter_seconds"] / mpix
        rec["bound_ms_per_mpix"] = 1e3 * bound_per_iter / mpix
        rec["effective_passes"] = rec["per_iter_seconds"] * bandwidth / (4 * args.size * args.size)
        rec["setup_seconds"] = rec["solve_seconds"] - solver_time
        rec["transforms_per_iter"] = {name: n / iters for name, n in transforms.items()}
        if not args.no_skimage:
            rec["rl_seconds"] = statistics.median(rl_times)
            rec["rl_times"] = rl_times
            rec["rl_psnr"] = _cases.psnr(rl, reference)
            rec["rl_per_iter_ms_per_mpix"] = 1e3 * rec["rl_seconds"] / args.rl_iter / mpix
            rec["speedup"] = rec["rl_seconds"] / rec["deblur_seconds"]
        records.append(rec)

    header = ["kernel", "deblur s", "(min)", "iters", "stop", "FFTs/iter", "ms/iter/MP", "bound ms/iter/MP",
              "eff. passes", "PSNR"]
    if not args.no_skimage:
        header += [f"RL({args.rl_iter}) s", "(min)", "RL ms/iter/MP", "RL PSNR", "RL/deblur time"]
    rows = []
    for r in records:
        row = [
            f"{r['kernel']} {r['kernel_shape'][0]}x{r['kernel_shape'][1]}",
            f"{r['deblur_seconds']:.2f}",
            f"{min(r['deblur_times']):.2f}",
            str(r["iterations"]),
            r["stop_reason"],
            "{forward:.1f}+{inverse:.1f}".format(**r["transforms_per_iter"]),
            f"{r['per_iter_ms_per_mpix']:.2f}",
            f"{r['bound_ms_per_mpix']:.2f}",
            f"{r['effective_passes']:.1f}",
            f"{r['deblur_psnr']:.2f}",
        ]
        if not args.no_skimage:
            row += [f"{r['rl_seconds']:.2f}", f"{min(r['rl_times']):.2f}", f"{r['rl_per_iter_ms_per_mpix']:.2f}",
                    f"{r['rl_psnr']:.2f}",
                    f"{r['speedup']:.2f}x"]
        rows.append(row)
    print(f"\n{args.size}x{args.size} gray float32, 1% noise, median (and min) of {args.repeat}; "
          f"numba threads: {_cases.machine_info().get('numba_threads')}")
    print(_cases.format_table(header, rows, ["<"] + [">"] * (len(header) - 1)))
    print(
        f"\nmemory bandwidth (numpy, best of copy/add on {bw['threads']} thread(s)): {bandwidth / 1e9:.1f} GB/s "
        f"[copy 1 thread {bw['copy_1'] / 1e9:.1f}, add 1 thread {bw['add_1'] / 1e9:.1f}"
        + (f", copy {bw['threads']} threads {bw['copy_' + str(bw['threads'])] / 1e9:.1f}, "
           f"add {bw['threads']} threads {bw['add_' + str(bw['threads'])] / 1e9:.1f}" if bw["threads"] > 1 else "")
        + " GB/s]"
    )
    load = _cases.load_warning()
    if load:
        print(load)
    print(
        f"bandwidth bound: {args.passes:g} float32 passes per iteration x {mpix:.2f} MP x 4 B / bandwidth "
        f"= {1e3 * bound_per_iter:.1f} ms per iteration; 'eff. passes' = measured iteration time x bandwidth / "
        "(4 B x pixels); 'FFTs/iter': the solve's forward + inverse 2-D transforms (set-up included) per iteration"
    )
    if args.json:
        out = {
            "mode": "speed",
            "size": args.size,
            "repeat": args.repeat,
            "passes_assumed": args.passes,
            "bandwidth": bw,
            "bound_seconds_per_iter": bound_per_iter,
            "cases": records,
            "machine": _cases.machine_info(),
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
