"""Memory benchmark: extra peak memory of a 4096 x 4096 float32 deblur.restore.

Target of the issue: the extra peak memory of the restore is at most 8x the
float32 image (64 MiB image -> <= 512 MiB extra).

Each kernel runs in a fresh subprocess, which

1. imports deblur and warms up (numba compilation) on a 64 x 64 image with
   the same kernel, so compiled code and thread pools are already resident;
2. loads the observed image (float32, written by the parent, so making it
   leaves no high-water mark in the child) and records the resident set
   size (RSS) as the baseline;
3. resets the kernel's high-water mark (``/proc/self/clear_refs``, where
   allowed), starts a psutil thread sampling RSS every 2 ms and tracemalloc
   (numpy reports its allocations to it), then runs ``deblur.restore``;
4. reports peak RSS - baseline (``VmHWM`` after the reset; else
   ``ru_maxrss`` when the baseline was the high-water mark so far; the
   sampled peak as a floor), and tracemalloc's peak of numpy allocations.

The output array of the restore counts as extra memory (it is new memory).

Run ``python benchmarks/memory.py --help``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cases  # noqa: E402

MIB = 2**20
LIMIT_FACTOR = 8


# ----------------------------------------------------------------------------
# Child side
# ----------------------------------------------------------------------------


def _status_kib(field):
    """A ``VmRSS``/``VmHWM`` figure from /proc/self/status, in bytes (None off Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_hwm():
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); True when it worked."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class _Sampler(threading.Thread):
    """Samples the process RSS every ``interval`` seconds; keeps the maximum.

    With ``where=True`` it also keeps a tracemalloc snapshot taken when the
    traced (numpy) memory reached its largest sampled value, to show which
    lines hold memory at the peak.
    """

    def __init__(self, interval=0.002, where=False):
        super().__init__(daemon=True)
        import psutil

        self._proc = psutil.Process()
        self.interval = interval
        self.where = where
        self.peak = 0
        self.samples = 0
        self.snapshot = None
        self.snapshot_traced = 0
        self._done = threading.Event()

    def run(self):
        import tracemalloc

        while not self._done.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self.samples += 1
            if self.where and tracemalloc.is_tracing():
                current = tracemalloc.get_traced_memory()[0]
                if current > self.snapshot_traced + MIB:
                    self.snapshot = tracemalloc.take_snapshot()
                    self.snapshot_traced = current
            time.sleep(self.interval)

    def stop(self):
        self._done.set()
        self.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def _where(snapshot, top):
    """The ``top`` deblur source lines holding the most traced memory in ``snapshot``."""
    package = os.sep + "deblur" + os.sep
    sizes = {}
    for stat in snapshot.statistics("traceback"):
        frames = list(stat.traceback)[::-1]  # tracemalloc lists the oldest frame first
        site = next((f for f in frames if package in f.filename), frames[0])
        key = f"{os.path.relpath(site.filename, _cases.REPO_ROOT)}:{site.lineno}"
        sizes[key] = sizes.get(key, 0) + stat.size
    return sorted(sizes.items(), key=lambda kv: -kv[1])[:top]


def child(args):
    """Measure one restore; write a JSON record to ``args.out``."""
    import gc
    import resource
    import tracemalloc

    import deblur

    options = {}
    if args.max_iter:
        options["max_num_iter"] = args.max_iter
    kernel = np.load(args.kernel_file)
    small = np.random.default_rng(0).uniform(size=(64, 64)).astype(np.float32)
    deblur.restore(small, kernel, **options)  # numba compilation, thread pool start
    del small
    gc.collect()

    image = np.load(args.child)
    rss0 = _status_kib("VmRSS")
    maxrss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    hwm_reset = _reset_hwm()
    sampler = _Sampler(where=bool(args.where))
    sampler.start()
    tracemalloc.start(16 if args.where else 1)
    tracemalloc.reset_peak()
    traced0 = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    restored = deblur.restore(image, kernel, **options)
    seconds = time.perf_counter() - t0
    traced_peak = tracemalloc.get_traced_memory()[1] - traced0
    tracemalloc.stop()
    sampler.stop()
    hwm = _status_kib("VmHWM") if hwm_reset else None
    maxrss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rss1 = _status_kib("VmRSS")

    where = _where(sampler.snapshot, args.where) if args.where and sampler.snapshot else None

    candidates = {"sampled": sampler.peak - rss0}
    if hwm is not None:
        candidates["vmhwm"] = hwm - rss0
        method = "VmHWM after reset"
    elif maxrss0 <= rss0 + MIB:  # the baseline was the high-water mark: ru_maxrss is exact
        candidates["ru_maxrss"] = maxrss1 - rss0
        method = "ru_maxrss"
    else:
        method = "psutil sampling only (a lower bound)"
    record = {
        "shape": list(image.shape),
        "dtype": str(image.dtype),
        "image_bytes": int(image.nbytes),
        "output_dtype": str(restored.dtype),
        "seconds": seconds,
        "rss_before": rss0,
        "rss_after": rss1,
        "maxrss_before": maxrss0,
        "maxrss_after": maxrss1,
        "vmhwm": hwm,
        "sampler_peak": sampler.peak,
        "sampler_samples": sampler.samples,
        "extra_peak_bytes": max(candidates.values()),
        "extra_peak_candidates": candidates,
        "method": method,
        "numpy_traced_peak_bytes": traced_peak,
        "options": options,
        "where": where,
        "where_traced_bytes": sampler.snapshot_traced if args.where else None,
    }
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=1)
    return 0


# ----------------------------------------------------------------------------
# Parent side
# ----------------------------------------------------------------------------


def run_one(size, label, kernel, workdir, max_iter=None, seed=0, where=0):
    """Write the input, run the child in a fresh interpreter, return its record."""
    from speed import make_input

    observed, _ = make_input(size, kernel, seed=seed)
    image_path = os.path.join(workdir, f"{label}-image.npy")
    kernel_path = os.path.join(workdir, f"{label}-kernel.npy")
    out_path = os.path.join(workdir, f"{label}-out.json")
    np.save(image_path, observed)
    np.save(kernel_path, kernel)
    del observed
    cmd = [sys.executable, os.path.abspath(__file__), "--child", image_path, "--kernel-file", kernel_path,
           "--out", out_path]
    if max_iter:
        cmd += ["--max-iter", str(max_iter)]
    if where:
        cmd += ["--where", str(where)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"child for {label} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    with open(out_path, encoding="utf-8") as fh:
        record = json.load(fh)
    record["kernel"] = label
    record["kernel_shape"] = list(kernel.shape)
    return record


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=4096, help="side of the square float32 image (default 4096)")
    p.add_argument("--kernels", nargs="+", default=["gauss2", "motion15@30", "shake31"],
                   help="kernel labels (from speed.py): motion15@30 gauss2 shake31 (default all three)")
    p.add_argument("--max-iter", type=int, default=None,
                   help="pass max_num_iter to shorten the run (default: deblur's default options)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--where", type=int, default=0, metavar="N",
                   help="also list the N deblur source lines holding most numpy memory at the traced peak "
                        "(slower: tracemalloc keeps tracebacks)")
    p.add_argument("--json", metavar="PATH", help="write all results as JSON")
    p.add_argument("--check", action="store_true", help="exit with status 1 when a case exceeds the limit")
    p.add_argument("--child", metavar="IMAGE.npy", help=argparse.SUPPRESS)
    p.add_argument("--kernel-file", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args)

    from speed import speed_kernels

    kernels = dict(speed_kernels(args.seed))
    unknown = set(args.kernels) - set(kernels)
    if unknown:
        p.error(f"unknown kernel label(s) {sorted(unknown)}; choose from {sorted(kernels)}")
    records = []
    with tempfile.TemporaryDirectory(prefix="deblur-memory-") as workdir:
        for label in args.kernels:
            print(f"{label}: restore of {args.size}x{args.size} float32 in a fresh process ...", file=sys.stderr,
                  flush=True)
            records.append(run_one(args.size, label, kernels[label], workdir, args.max_iter, args.seed, args.where))

    rows = []
    ok = True
    for r in records:
        limit = LIMIT_FACTOR * r["image_bytes"]
        ratio = r["extra_peak_bytes"] / r["image_bytes"]
        passed = r["extra_peak_bytes"] <= limit
        ok &= passed
        rows.append([
            f"{r['kernel']} {r['kernel_shape'][0]}x{r['kernel_shape'][1]}",
            f"{r['image_bytes'] / MIB:.0f}",
            f"{r['extra_peak_bytes'] / MIB:.0f}",
            f"{ratio:.2f}x",
            f"{limit / MIB:.0f}",
            "yes" if passed else "NO",
            f"{r['numpy_traced_peak_bytes'] / MIB:.0f}",
            f"{(r['rss_after'] - r['rss_before']) / MIB:.0f}",
            f"{r['seconds']:.1f}",
            r["method"],
        ])
    header = ["kernel", "image MiB", "extra peak MiB", "/image", "limit MiB", "within", "numpy peak MiB",
              "held after MiB", "s", "peak from"]
    print(f"\n{args.size}x{args.size} float32 deblur.restore"
          + (f" (max_num_iter={args.max_iter})" if args.max_iter else " (default options)"))
    print(_cases.format_table(header, rows, ["<"] + [">"] * 8 + ["<"]))
    for r in records:
        if r.get("where"):
            print(f"\n{r['kernel']}: numpy memory by deblur line at the sampled traced peak "
                  f"({r['where_traced_bytes'] / MIB:.0f} MiB)")
            print(_cases.format_table(["line", "MiB"], [[k, f"{v / MIB:.1f}"] for k, v in r["where"]], ["<", ">"]))
    print(f"\ntarget (extra peak <= {LIMIT_FACTOR}x the image): {'MET' if ok else 'NOT MET'}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"mode": "memory", "size": args.size, "limit_factor": LIMIT_FACTOR, "cases": records,
                       "target_met": bool(ok), "machine": _cases.machine_info()}, fh, indent=1)
        print(f"wrote {args.json}", file=sys.stderr)
    return 1 if (args.check and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
