"""Blind PSF estimation on the real benchmark of Levin et al. (2009), side by side
with the kernels five published methods estimated from the same 32 images.

For every blurred image (4 sharp images x 8 real camera-shake kernels, ~1 % noise):

    error ratio = SSD(restore with the kernel, sharp) / SSD(restore with the true kernel, sharp)

SSD at the best integer shift (|shift| <= 15 px) and 20 px away from the border.
Every kernel -- ours and each published one -- goes through the same restore
(``deblur.restore``, ``boundary='valid'``) in the same run, so the table compares
kernels, not restores. Two restores (``--restore``, one table each):

- ``l2``: gradient-L2 (``regularizer='tikhonov', weight=0.01``), the simple restore
  behind the issue's reference numbers (Pan 2016: 100 % at <= 3, median 1.21);
- ``default``: the engine's defaults (hyper-Laplacian, automatic weight). It restores
  much better with the true kernel, so every method's ratio grows;
- ``path``: the whole blind path, ``deblur.restore(y, psf='estimate')`` (defaults, clipped
  highlights censored) against ``deblur.restore(y, true_kernel)`` (issue 11's protocol; the
  published kernels go through the same restore as ours). Our estimate uses ``size=None``
(automatic support) unless ``--size`` is given.

Targets (issue 7): >= 95 % of the 32 at ratio <= 3; median no worse than Sun 2013;
estimation <= 5 s per 255x255 image on 2 cores.

    python benchmarks/blind_levin09.py                      # full table (~2-4 min)
    python benchmarks/blind_levin09.py --only im1 --per-image
    python benchmarks/blind_levin09.py --json benchmarks/results/blind_levin09.json --check
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _blind_common as common  # noqa: E402

METHODS = (
    ("fergus_2006", "Fergus 2006"),
    ("cho_lee_2009", "Cho & Lee 2009"),
    ("levin_2011", "Levin 2011"),
    ("sun_2013", "Sun 2013"),
    ("pan_2016", "Pan 2016"),
)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=common.default_data_dir(), help="folder holding levin09/ (default: <repo>/../shared/data)")
    ap.add_argument("--size", type=int, default=None, help="kernel size for our estimate (default: automatic)")
    ap.add_argument("--only", default="", help="keep the images whose name contains this text (e.g. im2, kernel4)")
    ap.add_argument("--restore", default="l2,path", help="restore protocol(s), comma-separated: l2, default, path")
    ap.add_argument("--per-image", action="store_true", help="also print the ratio of every image")
    ap.add_argument("--json", default=None, help="write all numbers to this JSON file")
    ap.add_argument("--check", action="store_true", help="exit 1 if a target of the issue is missed")
    ap.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="estimation option (repeatable)")
    args = ap.parse_args(argv)

    root = os.path.join(args.data, "levin09")
    if not os.path.isdir(root):
        print(f"no Levin data under {root}; pass --data DIR", file=sys.stderr)
        return 2
    options = common.parse_options(args.option)

    names = [f"im{i}_kernel{j}" for i in range(1, 5) for j in range(1, 9)]
    names = [n for n in names if args.only in n]
    methods = [m for m, _ in METHODS]
    protocols = [p.strip() for p in args.restore.split(",") if p.strip()]
    for p in protocols:
        if p not in common.RESTORES:
            ap.error(f"unknown restore {p!r}; choose from {', '.join(common.RESTORES)}")
    ratios = {p: {m: [] for m in ["ours"] + methods} for p in protocols}
    per_image = []
    times, cpu_times = [], []
    t_start = time.perf_counter()
    for name in names:
        i, j = name[2], name.split("kernel")[1]
        sharp = common.load_gray(os.path.join(root, "sharp", f"im{i}.png"))
        blurred = common.load_gray(os.path.join(root, "blurred", f"{name}.png"))
        true_k = np.load(os.path.join(root, "kernels", f"kernel{j}.npy"))
        kernel, record, wall, cpu = common.timed_estimate(blurred, size=args.size, **options)
        times.append(wall)
        cpu_times.append(cpu)
        row = {"image": name, "time": wall, "cpu": cpu, "size": kernel.shape[0], "status": record.status}
        published = {}
        for m in methods:
            path = os.path.join(root, "estimated_kernels", m, f"{name}.npy")
            published[m] = np.load(path) if os.path.exists(path) else None
        for p in protocols:
            ssd_true = common.ssd_best_shift(common.restore(blurred, true_k, "default" if p == "path" else p), sharp)
            if p == "path":  # the path itself: estimation, its checks, the weight it sets (--option not applied)
                ours = common.deblur.restore(blurred, "estimate", boundary="valid")
            else:
                ours = common.restore(blurred, kernel, p)
            r_ours = common.ssd_best_shift(ours, sharp) / ssd_true
            ratios[p]["ours"].append(r_ours)
            row[f"{p}:ours"] = r_ours
            for m in methods:
                if published[m] is None:
                    r = np.inf  # the method released no kernel for this image: counted as a failure
                else:
                    r = common.ssd_best_shift(common.restore(blurred, published[m], p), sharp) / ssd_true
                ratios[p][m].append(r)
                row[f"{p}:{m}"] = r
            if args.per_image:
                print(
                    f"{name:14s} [{p}] ours {r_ours:6.2f}  "
                    + "  ".join(f"{m.split('_')[0]} {row[f'{p}:{m}']:6.2f}" for m in methods)
                    + f"  | {wall:.2f} s, {kernel.shape[0]} px, {record.status}",
                    flush=True,
                )
        per_image.append(row)

    summary = {}
    checks = {}
    for p in protocols:
        rows = []
        for key, label in [("ours", "deblur (this run)")] + list(METHODS):
            st = common.ratio_stats(ratios[p][key])
            st["method"] = label
            st["n"] = f"{st['n']}/{len(names)}"
            if key == "ours":
                st["time"] = float(np.mean(times))
                st["cpu"] = float(np.mean(cpu_times))
            rows.append(st)
        summary[p] = rows
        print()
        _print_rows(rows, p, len(names))
        ours = rows[0]
        sun = next(r for r in rows if r["method"] == "Sun 2013")
        if p == "path":  # issue 11
            checks["[path] >=90% at ratio<=3"] = ours["le3"] >= 0.90
            checks["[path] median <= 1.8"] = ours["median"] <= 1.8
        else:
            checks[f"[{p}] >=95% at ratio<=3"] = ours["le3"] >= 0.95
            checks[f"[{p}] median <= Sun 2013"] = ours["median"] <= sun["median"]
    checks["<=5 s per image"] = float(np.mean(times)) <= 5.0
    print(f"\n(total run {time.perf_counter() - t_start:.0f} s; estimation wall time max {max(times):.2f} s)")
    for what, ok in checks.items():
        print(f"  target {what}: {'met' if ok else 'MISSED'}")
    if args.json:
        common.write_json(args.json, {"per_image": per_image, "summary": summary, "checks": checks, "options": options})
    if args.check and not all(checks.values()):
        return 1
    return 0


def _print_rows(rows, protocol, n):
    what = {
        "l2": "gradient-L2 restore (tikhonov, weight 0.01)",
        "default": "deblur.restore defaults",
        "path": "the blind path (restore(y, 'estimate') against restore(y, true kernel))",
    }[protocol]
    common.print_table(
        rows,
        [
            ("method", "method", None),
            ("n", "kernels", None),
            ("le2", "<=2", ".0%"),
            ("le3", "<=3", ".0%"),
            ("le5", "<=5", ".0%"),
            ("median", "median", ".2f"),
            ("worst", "worst", ".2f"),
            ("time", "est. s/image", ".2f"),
            ("cpu", "CPU s/image", ".2f"),
        ],
        title=f"Levin et al. 2009 real benchmark, {n} images: error ratio through {what}, valid boundary",
    )


if __name__ == "__main__":
    sys.exit(main())
