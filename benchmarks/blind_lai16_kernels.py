"""Large camera-shake kernels (Lai et al. 2016: 31, 51, 55, 75 px) on scikit-image's bundled images.

Each case: a bundled photograph (gray), blurred with the scene beyond the frame
(valid convolution), 1 % Gaussian noise, 8-bit quantisation. Our estimate is
restored, and so is the true kernel, through the same restore; the error ratio
is that of Levin et al. (2009): SSD at the best integer shift, away from the
border (see blind_levin09.py). The support given to the estimator is the true
kernel's size (``--size true``, as published evaluations do) or automatic
(``--size auto``: 12 % of the shorter side, capped at 75 px, which is below the
two largest kernels on these 438-481 px frames).

    python benchmarks/blind_lai16_kernels.py                 # 4 kernels x 3 images (~2-4 min)
    python benchmarks/blind_lai16_kernels.py --size auto --images camera
"""

import argparse
import os
import sys

import numpy as np
from scipy.signal import fftconvolve

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _blind_common as common  # noqa: E402

IMAGES = {
    "camera": lambda d: d.camera() / 255.0,
    "astronaut": lambda d: _gray(d.astronaut()),
    "coffee": lambda d: _gray(d.coffee()),
    "chelsea": lambda d: _gray(d.chelsea()),
}


def _gray(rgb):
    from deblur.blind import luminance

    return luminance(rgb, channel_axis=-1)


def observe(sharp, kernel, noise, rng):
    y = fftconvolve(sharp, kernel, mode="valid")
    y = np.clip(y + noise * rng.standard_normal(y.shape), 0.0, 1.0)
    y = np.round(y * 255.0) / 255.0
    kh, kw = kernel.shape
    # the sharp pixel under observed pixel (0, 0) for a kernel centred at (kh//2, kw//2)
    ref = sharp[kh - 1 - kh // 2 : kh - 1 - kh // 2 + y.shape[0], kw - 1 - kw // 2 : kw - 1 - kw // 2 + y.shape[1]]
    return y, ref


def main(argv=None):
    from skimage import data as skdata

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=common.default_data_dir(), help="folder holding lai16-kernels/")
    ap.add_argument("--images", default="camera,astronaut,coffee", help=f"comma-separated, from {', '.join(IMAGES)}")
    ap.add_argument("--size", default="true", help="'true' (the kernel's size), 'auto', or a number")
    ap.add_argument("--noise", type=float, default=0.01)
    ap.add_argument("--restore", default="l2,default", help="restore protocol(s): l2, default")
    ap.add_argument("--json", default=None)
    ap.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="estimation option (repeatable), e.g. starts=horizontal")
    ap.add_argument("--figure", default=None, metavar="PNG", help="only draw the documentation figure (shippable data) to PNG")
    args = ap.parse_args(argv)
    options = common.parse_options(args.option)
    if args.figure:
        return figure(args.figure)

    root = os.path.join(args.data, "lai16-kernels")
    if not os.path.isdir(root):
        print(f"no kernels under {root}; pass --data DIR", file=sys.stderr)
        return 2
    protocols = [p.strip() for p in args.restore.split(",") if p.strip()]
    rng = np.random.default_rng(2016)
    rows = []
    for kname in ("kernel_01", "kernel_02", "kernel_03", "kernel_04"):
        kernel = np.load(os.path.join(root, f"{kname}.npy"))
        for iname in [s.strip() for s in args.images.split(",") if s.strip()]:
            sharp = IMAGES[iname](skdata)
            y, ref = observe(sharp, kernel, args.noise, rng)
            size = {"true": kernel.shape[0], "auto": None}.get(args.size, None if args.size == "auto" else None)
            if args.size not in ("true", "auto"):
                size = int(args.size)
            est, record, wall, cpu = common.timed_estimate(y, size=size, **options)
            row = dict(case=f"{kname} ({kernel.shape[0]} px) on {iname}", frame=f"{y.shape[1]}x{y.shape[0]}", est_size=est.shape[0], status=record.status, time=wall, cpu=cpu)
            row["ncc"] = common.peak_ncc(est, kernel)[0]
            for p in protocols:
                ssd_true = common.ssd_best_shift(common.restore(y, kernel, p), ref, border=40)
                row[p] = common.ssd_best_shift(common.restore(y, est, p), ref, border=40) / ssd_true
            rows.append(row)
            print(
                f"{row['case']:32s} {row['frame']}  est {est.shape[0]} px ({record.status}), "
                + ", ".join(f"ratio[{p}] {row[p]:.2f}" for p in protocols)
                + f", NCC {row['ncc']:.2f}, {wall:.1f} s",
                flush=True,
            )
    print()
    cols = [("case", "case", None), ("frame", "frame", None), ("est_size", "est. px", "d"), ("ncc", "NCC", ".2f")]
    cols += [(p, f"ratio [{p}]", ".2f") for p in protocols]
    cols += [("time", "est. s", ".1f"), ("cpu", "CPU s", ".1f")]
    common.print_table(rows, cols, title=f"Lai et al. 2016 large kernels, {args.noise:.0%} noise, support {args.size}")
    for p in protocols:
        st = common.ratio_stats([r[p] for r in rows])
        print(f"[{p}] ratio <=2 {st['le2']:.0%}, <=3 {st['le3']:.0%}, <=5 {st['le5']:.0%}, median {st['median']:.2f}, worst {st['worst']:.2f}")
    if args.json:
        common.write_json(args.json, {"rows": rows, "options": options})
    return 0


def figure(path):
    """docs/figures/blind_example.png from shippable data only: scikit-image's camera and
    astronaut, blurred by random camera-shake kernels (benchmarks/_cases.py), 1 % noise;
    per row: blurred | blind restore | true kernel | estimated kernel."""
    from PIL import Image
    from skimage import data as skdata

    import _cases

    rows = []
    for iname, seed, ksize in (("camera", 3, 31), ("astronaut", 7, 41)):
        sharp = IMAGES[iname](skdata)[:384, 64:448]
        kernel = _cases.camera_shake_kernel(ksize, seed)
        y, _ = observe(sharp, kernel, 0.01, np.random.default_rng(seed))
        est, record = common.estimate(y)
        restored = common.deblur.restore(y, est, boundary="valid")
        n = max(kernel.shape[0], est.shape[0]) | 1

        def tile(k):
            from deblur.blind.support import fit_support

            k = fit_support(k, n)
            img = Image.fromarray((255 * k / k.max()).astype(np.uint8)).resize((y.shape[0] // 2, y.shape[0] // 2), Image.NEAREST)
            return np.asarray(img, dtype=np.float64) / 255.0

        kcol = np.concatenate([tile(kernel), tile(est)], axis=0)
        kcol = np.pad(kcol, ((0, y.shape[0] - kcol.shape[0]), (0, 0)), constant_values=1.0)
        gap = np.ones((y.shape[0], 6))
        rows.append(np.concatenate([y, gap, np.clip(restored, 0, 1), gap, kcol], axis=1))
        print(f"{iname}: true {kernel.shape[0]} px, estimated {est.shape[0]} px, peak NCC {common.peak_ncc(est, kernel)[0]:.2f}")
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 6), (0, width - r.shape[1])), constant_values=1.0) for r in rows]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    Image.fromarray((np.concatenate(rows, axis=0) * 255).astype(np.uint8)).save(path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
