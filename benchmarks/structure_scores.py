"""How far each benchmark photo stands out of noise: the blind path's featureless test, photo by photo.

The estimation refuses a photo whose edge-to-noise score
(:func:`deblur.blind.confidence.featureless_test`) is below twice what white
noise of the photo's own shape scores. This prints, per set, the photos
closest to that floor: their score, the noise's score, and the ratio the test
compares with 2. No estimation runs, so the whole survey takes a few minutes:

- ``levin``: Levin et al.'s 32 blurred images;
- ``sheet``: the 86 real photos of Lai et al. and Köhler et al.'s 36;
- ``scenes``: every case of ``benchmarks/blind_scenes.py``;
- ``noise``: seeded white noise of 48 px to 2000 px (what the floor is for).

    python benchmarks/structure_scores.py                  # all sets
    python benchmarks/structure_scores.py --sets scenes --lowest 20
"""

import argparse
import glob
import os
import sys

import numpy as np

import _blind_common as common
from deblur.blind import luminance
from deblur.blind.config import make_options
from deblur.blind.confidence import featureless_test
from deblur.blind.support import auto_size

SETS = ("levin", "sheet", "scenes", "noise")


def _photos(which, data_dir):
    """``(name, luminance)`` of every photo of a set (a generator: the photos are read one at a time)."""
    if which == "levin":
        for path in sorted(glob.glob(os.path.join(data_dir, "levin09", "blurred", "*.png"))):
            yield os.path.basename(path), common.load_gray(path)
    elif which == "sheet":
        from blind_sheet import kohler_photos, lai_photos

        for photo in lai_photos(data_dir) + kohler_photos(data_dir):
            yield photo["name"], luminance(common.load_rgb(photo["path"]), channel_axis=-1)
    elif which == "scenes":
        import blind_scenes

        for spec in blind_scenes.SPECS:
            built = blind_scenes.build_case(spec, data_dir)
            if built is not None:
                y = built[0]
                yield spec.name, luminance(y, channel_axis=-1 if y.ndim == 3 else None)
    else:
        for n in (48, 256, 1024, 2000):
            yield f"noise {n}x{n}", np.clip(0.5 + 0.02 * np.random.default_rng(n).standard_normal((n, n)), 0, 1)


def survey(which, data_dir):
    opts = make_options()
    rows = []
    for name, y in _photos(which, data_dir):
        score, floor = featureless_test(y, auto_size(y.shape, opts.max_size), opts)
        noise = floor / opts.min_structure
        rows.append(dict(set=which, photo=name, frame=f"{y.shape[1]}x{y.shape[0]}", score=score, noise=noise,
                         ratio=score / noise, refused=bool(score < floor)))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=common.default_data_dir(), help="folder holding levin09/, lai16-real/, kohler12/ and the kernels")
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    ap.add_argument("--lowest", type=int, default=8, help="photos to print per set, lowest ratio first")
    ap.add_argument("--json", default=None, help="write every row to this JSON file")
    args = ap.parse_args(argv)
    columns = [("photo", "photo", None), ("frame", "frame", None), ("score", "score", ".2f"),
               ("noise", "noise's", ".2f"), ("ratio", "ratio", ".2f"), ("refused", "refused", None)]
    everything = []
    for which in [s.strip() for s in args.sets.split(",") if s.strip()]:
        if which not in SETS:
            ap.error(f"unknown set {which!r}; choose from {', '.join(SETS)}")
        rows = sorted(survey(which, args.data), key=lambda r: r["ratio"])
        everything += rows
        if not rows:
            print(f"{which}: no photos under {args.data}", file=sys.stderr)
            continue
        print()
        common.print_table(rows[: args.lowest], columns,
                           title=f"{which}: {len(rows)} photos, {sum(r['refused'] for r in rows)} refused as featureless "
                                 f"(ratio = score / white noise's score; refused below 2); lowest first")
    if args.json:
        common.write_json(args.json, {"rows": everything})
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
