"""Quality benchmark: deblur.restore (default options) vs oracle-tuned scikit-image.

Each case is a crop of a bundled scikit-image photograph blurred with the
true scene beyond the frame (valid convolution), by a real camera-shake
kernel (Levin et al. 2009) or one of ours (random shake, Gaussian, disk),
with Gaussian noise of 0.3-2 % and 8-bit quantisation (see ``_cases.py``).

The baseline is the best PSNR per case over scikit-image's
``richardson_lucy`` (10/30/50 iterations), ``wiener`` (a grid of balances)
and ``unsupervised_wiener``, each run on the frame as is and on the frame
reflect-padded by the kernel size (then cropped back): an oracle that knows
the sharp image picks the best. ``deblur`` gets one run with default options
and no per-image tuning. Target of the issue: mean gain >= 2 dB and a win on
every case.

``--weights`` instead compares ``weight='auto'`` with a grid of fixed
lambdas over the same cases.

Run ``python benchmarks/quality.py --help``.
"""

import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cases  # noqa: E402

WIENER_BALANCES = tuple(float(b) for b in np.logspace(-4, 1, 11))
RL_ITERS = (10, 30, 50)
DEFAULT_LAMBDAS = tuple(float(v) for v in np.logspace(-5, -1, 9))
CACHE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "skimage_baseline_cache.json")


# ----------------------------------------------------------------------------
# scikit-image baseline
# ----------------------------------------------------------------------------


def _per_channel(fn, image):
    """Apply a 2-D restoration to each channel (scikit-image's are 2-D here)."""
    if image.ndim == 2:
        return fn(image)
    return np.stack([fn(image[..., c]) for c in range(image.shape[-1])], axis=-1)


def _padded(fn, kernel, pad):
    """Wrap a 2-D restoration to run on the frame reflect-padded by the kernel size, then crop."""
    if pad == "none":
        return fn
    ph, pw = kernel.shape

    def run(image):
        big = np.pad(image, ((ph, ph), (pw, pw)), mode="reflect")
        return fn(big)[ph : ph + image.shape[0], pw : pw + image.shape[1]]

    return run


def baseline_methods(kernel, pads=("none", "reflect"), seed=0):
    """``[(label, fn2d)]``: every scikit-image configuration the oracle chooses from."""
    from skimage import restoration

    methods = []
    for pad in pads:
        suffix = "" if pad == "none" else ",pad"
        for n in RL_ITERS:
            methods.append(
                (
                    f"rl({n}{suffix})",
                    _padded(lambda im, n=n: restoration.richardson_lucy(im, kernel, num_iter=n), kernel, pad),
                )
            )
        for b in WIENER_BALANCES:
            methods.append(
                (f"wiener({b:.0e}{suffix})", _padded(lambda im, b=b: restoration.wiener(im, kernel, b), kernel, pad))
            )
        methods.append(
            (
                f"uwiener({suffix.lstrip(',')})" if suffix else "uwiener",
                _padded(
                    lambda im: restoration.unsupervised_wiener(im, kernel, rng=np.random.default_rng(seed))[0],
                    kernel,
                    pad,
                ),
            )
        )
    return methods


def _cache_key(case, pads, seed):
    import skimage

    h = hashlib.sha1()
    h.update(np.ascontiguousarray(case.observed).tobytes())
    h.update(np.ascontiguousarray(case.reference).tobytes())
    h.update(np.ascontiguousarray(case.kernel).tobytes())
    h.update(repr((skimage.__version__, RL_ITERS, WIENER_BALANCES, tuple(pads), seed)).encode())
    return h.hexdigest()


def _load_cache(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def _save_cache(path, cache):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(cache, fh)
    os.replace(tmp, path)


def run_baseline(case, pads=("none", "reflect"), seed=0, cache=None):
    """PSNR of every scikit-image configuration on ``case``; the best one is the oracle's pick.

    Returns a dict with ``psnr`` (label -> dB), ``best``, ``best_psnr``,
    ``seconds`` (all configurations together) and ``cached``.
    """
    key = _cache_key(case, pads, seed)
    if cache is not None and key in cache:
        out = dict(cache[key])
        out["cached"] = True
        return out
    scores = {}
    t0 = time.perf_counter()
    for label, fn in baseline_methods(case.kernel, pads, seed):
        est = _per_channel(fn, case.observed)
        scores[label] = _cases.psnr(est, case.reference)
    seconds = time.perf_counter() - t0
    best = max(scores, key=scores.get)
    out = {
        "psnr": scores,
        "best": best,
        "best_psnr": scores[best],
        "observed_psnr": _cases.psnr(case.observed, case.reference),
        "seconds": seconds,
    }
    if cache is not None:
        cache[key] = out
    return dict(out, cached=False)


# ----------------------------------------------------------------------------
# deblur
# ----------------------------------------------------------------------------


def warm_up():
    """Compile deblur's kernels on small gray and colour images (not timed); check restore == solve."""
    import deblur

    rng = np.random.default_rng(0)
    k = deblur.psf.gaussian(1.0)
    gray = rng.uniform(size=(48, 48)).astype(np.float32)
    colour = rng.uniform(size=(48, 48, 3)).astype(np.float32)
    deblur.solve(colour, k, channel_axis=-1)
    result = deblur.solve(gray, k)
    restored = deblur.restore(gray, k)
    if not np.allclose(result.image, restored, atol=1e-6, equal_nan=True):
        print("warning: deblur.restore and deblur.solve(...).image differ on the warm-up image", file=sys.stderr)


def _scalar(value):
    """A float, a list of floats (per channel) or None, for JSON."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        values = [_scalar(v) for v in value]
        return None if all(v is None for v in values) else values
    return float(value)


def run_deblur(case, **options):
    """One ``deblur.solve`` with default options (plus ``options``); PSNR, seconds and solver facts."""
    import deblur

    observed = case.observed.astype(np.float32)
    t0 = time.perf_counter()
    result = deblur.solve(observed, case.kernel, channel_axis=case.channel_axis, **options)
    seconds = time.perf_counter() - t0
    return {
        "psnr": _cases.psnr(result.image, case.reference),
        "seconds": seconds,
        "iterations": int(result.iterations),
        "stop_reason": result.stop_reason,
        "weight": _scalar(result.weight),
        "noise_sigma": _scalar(result.noise_sigma),
        "backoffs": len(result.events),
    }


# ----------------------------------------------------------------------------
# Modes
# ----------------------------------------------------------------------------


def _fmt_weight(w):
    if w is None:
        return "-"
    if isinstance(w, list):
        w = [v for v in w if v is not None]
        return "/".join(f"{v:.1e}" for v in w) if len(set(w)) > 1 else f"{w[0]:.1e}"
    return f"{w:.1e}"


def compare(cases, args):
    """The main mode: oracle scikit-image vs default deblur, per case."""
    pads = {"both": ("none", "reflect"), "none": ("none",), "reflect": ("reflect",)}[args.baseline_pad]
    cache = None if args.no_cache else _load_cache(args.cache)
    if not args.skip_deblur:
        with _cases.Timer() as t:
            warm_up()
        print(f"warm-up (numba compilation, not timed): {t.seconds:.1f} s", file=sys.stderr)
    records = []
    for i, case in enumerate(cases, 1):
        base = run_baseline(case, pads, args.seed, cache)
        if cache is not None and not base["cached"]:
            _save_cache(args.cache, cache)
        rec = {
            "case": case.name,
            "image": case.image,
            "kernel": case.kernel_name,
            "kernel_shape": list(case.kernel.shape),
            "noise": case.noise,
            "colour": case.colour,
            "shape": list(case.observed.shape),
            "skimage": base,
        }
        msg = f"[{i}/{len(cases)}] {case.name}: skimage best {base['best']} {base['best_psnr']:.2f} dB"
        msg += " (cached)" if base["cached"] else f" ({base['seconds']:.1f} s for {len(base['psnr'])} configs)"
        if not args.skip_deblur:
            rec["deblur"] = run_deblur(case, color_space=args.color_space)
            rec["gain"] = rec["deblur"]["psnr"] - base["best_psnr"]
            d = rec["deblur"]
            msg += f"; deblur {d['psnr']:.2f} dB in {d['seconds']:.1f} s, gain {rec['gain']:+.2f}"
        print(msg, file=sys.stderr, flush=True)
        records.append(rec)

    header = ["case", "kernel", "noise", "blurred", "best skimage", "PSNR"]
    if not args.skip_deblur:
        header += ["deblur", "gain", "s", "iters", "stop", "lambda"]
    rows = []
    for r in records:
        row = [
            r["image"] + (" (rgb)" if r["colour"] else ""),
            f"{r['kernel']} {r['kernel_shape'][0]}x{r['kernel_shape'][1]}",
            f"{100 * r['noise']:.1f}%",
            f"{r['skimage']['observed_psnr']:.2f}",
            r["skimage"]["best"],
            f"{r['skimage']['best_psnr']:.2f}",
        ]
        if not args.skip_deblur:
            d = r["deblur"]
            row += [
                f"{d['psnr']:.2f}",
                f"{r['gain']:+.2f}",
                f"{d['seconds']:.2f}",
                str(d["iterations"]),
                d["stop_reason"],
                _fmt_weight(d["weight"]),
            ]
        rows.append(row)
    align = ["<", "<", ">", ">", "<", ">"] + [">", ">", ">", ">", "<", ">"][: len(header) - 6]
    print(_cases.format_table(header, rows, align))

    summary = {
        "cases": len(records),
        "mean_skimage_psnr": float(np.mean([r["skimage"]["best_psnr"] for r in records])) if records else math.nan,
        "skimage_seconds_total": float(sum(r["skimage"]["seconds"] for r in records)),
    }
    picks = {}
    for r in records:
        family = r["skimage"]["best"].split("(")[0]
        picks[family] = picks.get(family, 0) + 1
    summary["skimage_best_family_counts"] = picks
    print()
    print(
        f"scikit-image oracle: mean best PSNR {summary['mean_skimage_psnr']:.2f} dB; picks {picks}; "
        f"{summary['skimage_seconds_total']:.0f} s for all configurations"
    )
    ok = True
    if not args.skip_deblur and records:
        gains = np.array([r["gain"] for r in records])
        summary.update(
            mean_deblur_psnr=float(np.mean([r["deblur"]["psnr"] for r in records])),
            mean_gain=float(gains.mean()),
            min_gain=float(gains.min()),
            min_gain_case=records[int(gains.argmin())]["case"],
            cases_won=int((gains > 0).sum()),
            deblur_seconds_total=float(sum(r["deblur"]["seconds"] for r in records)),
            target="mean gain >= 2 dB and gain > 0 on every case",
        )
        ok = summary["mean_gain"] >= 2.0 and summary["cases_won"] == len(records)
        summary["target_met"] = bool(ok)
        print(
            f"deblur: mean PSNR {summary['mean_deblur_psnr']:.2f} dB; mean gain {summary['mean_gain']:+.2f} dB; "
            f"min gain {summary['min_gain']:+.2f} dB ({summary['min_gain_case']}); "
            f"won {summary['cases_won']}/{len(records)}; {summary['deblur_seconds_total']:.0f} s in deblur"
        )
        print(f"target (mean gain >= 2 dB, every case won): {'MET' if ok else 'NOT MET'}")
    return {"mode": "compare", "summary": summary, "cases": records}, ok


def weights(cases, args):
    """``--weights``: weight='auto' against a grid of fixed lambdas, mean PSNR over the cases."""
    lambdas = tuple(args.lambdas) if args.lambdas else DEFAULT_LAMBDAS
    with _cases.Timer() as t:
        warm_up()
    print(f"warm-up (numba compilation, not timed): {t.seconds:.1f} s", file=sys.stderr)
    records = []
    for i, case in enumerate(cases, 1):
        auto = run_deblur(case)
        fixed = {}
        for lam in lambdas:
            fixed[lam] = run_deblur(case, weight=lam)
        best_lam = max(fixed, key=lambda v: fixed[v]["psnr"])
        rec = {
            "case": case.name,
            "auto": auto,
            "fixed": {f"{lam:.3g}": fixed[lam] for lam in lambdas},
            "best_fixed_lambda": best_lam,
            "best_fixed_psnr": fixed[best_lam]["psnr"],
        }
        records.append(rec)
        print(
            f"[{i}/{len(cases)}] {case.name}: auto {auto['psnr']:.2f} dB (lambda {_fmt_weight(auto['weight'])}); "
            f"best fixed {best_lam:.1e} -> {fixed[best_lam]['psnr']:.2f} dB",
            file=sys.stderr,
            flush=True,
        )

    rows = []
    for r in records:
        rows.append(
            [r["case"], f"{r['auto']['psnr']:.2f}", _fmt_weight(r["auto"]["weight"]), f"{r['best_fixed_psnr']:.2f}",
             f"{r['best_fixed_lambda']:.1e}", f"{r['auto']['psnr'] - r['best_fixed_psnr']:+.2f}"]
        )
    print(_cases.format_table(["case", "auto", "auto lambda", "oracle fixed", "its lambda", "auto - oracle"], rows,
                              ["<", ">", ">", ">", ">", ">"]))
    print()
    auto_mean = float(np.mean([r["auto"]["psnr"] for r in records]))
    per_lambda = {}
    for lam in lambdas:
        per_lambda[lam] = float(np.mean([r["fixed"][f"{lam:.3g}"]["psnr"] for r in records]))
    rows = [[f"{lam:.1e}", f"{v:.2f}", f"{auto_mean - v:+.2f}"] for lam, v in per_lambda.items()]
    rows.append(["auto", f"{auto_mean:.2f}", ""])
    print(_cases.format_table(["lambda", "mean PSNR", "auto - this"], rows, ["<", ">", ">"]))
    best_fixed = max(per_lambda, key=per_lambda.get)
    oracle_mean = float(np.mean([r["best_fixed_psnr"] for r in records]))
    ok = auto_mean > per_lambda[best_fixed]
    print(
        f"\nauto mean {auto_mean:.2f} dB vs best single fixed lambda {best_fixed:.1e}: {per_lambda[best_fixed]:.2f} dB "
        f"({auto_mean - per_lambda[best_fixed]:+.2f}); per-case oracle lambda: {oracle_mean:.2f} dB"
    )
    print(f"target (auto beats every fixed lambda on the mean): {'MET' if ok else 'NOT MET'}")
    summary = {
        "cases": len(records),
        "lambdas": list(lambdas),
        "auto_mean_psnr": auto_mean,
        "fixed_mean_psnr": {f"{k:.3g}": v for k, v in per_lambda.items()},
        "best_fixed_lambda": best_fixed,
        "best_fixed_mean_psnr": per_lambda[best_fixed],
        "per_case_oracle_mean_psnr": oracle_mean,
        "target_met": bool(ok),
    }
    return {"mode": "weights", "summary": summary, "cases": records}, ok


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a small case set (6 cases, about 2 minutes)")
    p.add_argument("--size", type=int, default=256, help="side of the observed frames (default 256)")
    p.add_argument("--data", default=_cases.default_data_dir(),
                   help="folder holding levin09-kernels/ (default <repo>/../shared/data); kernels skipped if absent")
    p.add_argument("--seed", type=int, default=0, help="seed of noise, random kernels and unsupervised_wiener")
    p.add_argument("--only", default=None, help="run only cases whose name contains this text")
    p.add_argument("--weights", action="store_true", help="compare weight='auto' with fixed lambdas instead")
    p.add_argument("--lambdas", type=float, nargs="+", default=None,
                   help="fixed lambdas for --weights (default logspace(-5, -1, 9))")
    p.add_argument("--baseline-pad", choices=("both", "none", "reflect"), default="both",
                   help="run scikit-image on the frame as is, reflect-padded, or both (default both; oracle picks)")
    p.add_argument("--color-space", choices=("opponent", "rgb"), default="opponent",
                   help="deblur's color_space for the colour cases (default: the library default, opponent)")
    p.add_argument("--skip-deblur", action="store_true", help="only the scikit-image baseline")
    p.add_argument("--no-cache", action="store_true", help="recompute the scikit-image baseline")
    p.add_argument("--cache", default=CACHE_PATH, help=argparse.SUPPRESS)
    p.add_argument("--json", metavar="PATH", help="write all results as JSON")
    p.add_argument("--check", action="store_true", help="exit with status 1 when the target is not met")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    with _cases.Timer() as t:
        cases = _cases.quality_cases(args.data, quick=args.quick, size=args.size, seed=args.seed)
    if args.only:
        cases = [c for c in cases if args.only in c.name]
    if not cases:
        print("no cases selected", file=sys.stderr)
        return 2
    print(f"{len(cases)} cases of {args.size}x{args.size} built in {t.seconds:.1f} s", file=sys.stderr)
    with _cases.Timer() as total:
        out, ok = (weights if args.weights else compare)(cases, args)
    print(f"total {total.seconds:.0f} s", file=sys.stderr)
    if args.json:
        out["machine"] = _cases.machine_info()
        out["args"] = {k: v for k, v in vars(args).items() if k != "cache"}
        out["seconds"] = total.seconds
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1, default=str)
        print(f"wrote {args.json}", file=sys.stderr)
    return 1 if (args.check and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
