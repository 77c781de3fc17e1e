"""Contact sheets of blind deblurring on real shaky photos (Lai et al. 2016: 86, Köhler et al. 2012: 36).

No ground truth: these are for looking, and for finding the outputs the blind
path damaged. Per photo: ``deblur.solve(photo, 'estimate', channel_axis=-1)``
with default options (``--option NAME=VALUE`` goes to the estimation), then one
row of a sheet:

    blurred | deblurred | PMP (Köhler only) | 1:1 detail, blurred over deblurred | kernels | caption

``kernels``: ours on top (enlarged, brightest tap white), below it the reference
when one exists (PMP's for Köhler, the published one for the 18 Lai photos that
have one). ``caption``: name and tags, status / confidence / reason of the blind
record, estimated kernel size, time, and the damage figures.

No-reference damage figures (on the luminance; input = the blurred photo):

- ``hf_flat``: how much high-frequency energy (image minus its Gaussian blur of
  sigma 1) the output has on the flat half of the input (local standard
  deviation over 9 x 9 px below its median) relative to its strongest-edge
  tenth (local std in the top 10 %), divided by the same ratio of the input.
  Deblurring sharpens edges and texture alike (~0.5-1.3); ringing halos and
  amplified noise land in the flat parts and push it up (a wrong kernel: 1.7-2.5).
- ``clip_added``: fraction of pixels clipped (a channel at 0 or 255) in the
  output less that in the input.
- ``damage = max(hf_flat / 1.5, clip_added / 0.01)``: sort by it; > 1 is flagged
  (``DAMAGE?`` in red on the sheet). The figures are recomputed from the cached
  outputs when their definition changes (``DAMAGE_VERSION``).

Resumable: every photo's output (full-resolution PNG, kernel, figures) is cached
in ``benchmarks/results/cache/blind_sheet/<tag>/<set>/``; a cached photo is not
computed again unless ``--fresh``. ``<tag>`` is ``--tag`` or, by default, the
estimation options plus a hash of the ``deblur/`` sources, so a run after a code
change never reuses outputs of the code before it. Sheets, ``figures.csv`` and
``figures.json`` go to ``benchmarks/results/blind_sheet/<tag>/`` (git-ignored:
the photos may not be redistributed).

    python benchmarks/blind_sheet.py --set lai --limit 3          # a quick look
    nohup python benchmarks/blind_sheet.py --set both > benchmarks/results/blind_sheet.txt 2>&1 &
    python benchmarks/blind_sheet.py --set both --sheets-only --sort damage   # re-draw from the cache
"""

import argparse
import csv
import glob
import hashlib
import json
import os
import sys
import textwrap
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _blind_common as common  # noqa: E402

THUMB = 300  # px: the box (THUMB x THUMB * 4/3) each photo is fitted into
DETAIL = THUMB // 2  # px: side of the 1:1 detail crops
KERNEL = THUMB // 2  # px: side of each kernel tile
CAPTION = 360  # px: width of the caption panel
ROWS_PER_PAGE = 12
GAP = 6
HF_FLAG, CLIP_FLAG = 1.5, 0.01
DAMAGE_VERSION = 2  # bump when damage_figures changes: cached figures are then recomputed


# ----------------------------------------------------------------------------
# The photos
# ----------------------------------------------------------------------------




def lai_photos(data_dir):
    root = os.path.join(data_dir, "lai16-real")
    attrs = common.lai_attributes(root)
    out = []
    for path in sorted(glob.glob(os.path.join(root, "photos", "*.jpg"))):
        name = os.path.splitext(os.path.basename(path))[0]
        refs = sorted(glob.glob(os.path.join(root, "reference_kernels", f"{name}_*_psf.png")))
        ref_method = os.path.basename(refs[0])[len(name) + 1 : -len("_psf.png")] if refs else ""
        out.append(dict(set="lai", name=name, path=path, tags=attrs.get(name, ""), pmp=None,
                        ref_kernel=refs[0] if refs else None, ref_method=ref_method))
    return out


def kohler_photos(data_dir):
    root = os.path.join(data_dir, "kohler12")
    out = []
    found = glob.glob(os.path.join(root, "blurry", "Blurry*_*.png"))

    def key(path):
        scene, shake = os.path.basename(path)[len("Blurry") : -len(".png")].split("_")
        return int(scene), int(shake)

    for path in sorted(found, key=key):
        scene, shake = key(path)
        pmp = os.path.join(root, "pmp_wen2021", f"tvmpr_{scene}_{shake}.png")
        pmp_k = os.path.join(root, "pmp_wen2021", f"tvmpr_{scene}_{shake}_kernel.png")
        out.append(dict(set="kohler", name=f"kohler{scene}_{shake}", path=path, tags=f"scene {scene}, shake {shake}",
                        pmp=pmp if os.path.isfile(pmp) else None,
                        ref_kernel=pmp_k if os.path.isfile(pmp_k) else None, ref_method="PMP" if os.path.isfile(pmp_k) else ""))
    return out


# ----------------------------------------------------------------------------
# Cache key, damage figures
# ----------------------------------------------------------------------------


def code_hash():
    """A short hash of every ``deblur/**/*.py`` of the checkout (what the outputs depend on)."""
    h = hashlib.sha1()
    root = os.path.join(common.REPO_ROOT, "deblur")
    for path in sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True)):
        h.update(os.path.relpath(path, root).encode())
        with open(path, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:10]


def luma(rgb):
    return rgb[..., :3] @ np.array([0.2989, 0.5870, 0.1140]) if rgb.ndim == 3 else rgb


def damage_figures(blurred, restored):
    """No-reference damage figures of ``restored`` against its input ``blurred`` (both float RGB in [0, 1])."""
    from deblur.blind.harm import flat_detail_gain

    hf_flat = flat_detail_gain(luma(blurred), luma(np.clip(restored, 0, 1)))  # the library's own check

    def clipped(img):
        img = img if img.ndim == 3 else img[..., None]
        return float(np.mean(((img <= 0.5 / 255) | (img >= 1 - 0.5 / 255)).any(axis=-1)))

    clip_in, clip_out = clipped(blurred), clipped(np.clip(restored, 0, 1))
    clip_added = clip_out - clip_in
    rms_change = float(np.sqrt(np.mean((np.clip(restored, 0, 1) - blurred) ** 2)))
    damage = max(hf_flat / HF_FLAG, clip_added / CLIP_FLAG)
    flag = []
    if hf_flat > HF_FLAG:
        flag.append(f"HF x{hf_flat:.1f}")
    if clip_added > CLIP_FLAG:
        flag.append(f"clip +{100 * clip_added:.1f}%")
    return dict(damage_version=DAMAGE_VERSION, hf_flat=hf_flat, clip_in=clip_in, clip_out=clip_out, clip_added=clip_added,
                rms_change=rms_change, damage=damage, flag=", ".join(flag))


def detail_window(gray, side=DETAIL):
    """Top-left corner of the ``side`` x ``side`` window with the most gradient energy (where sharpening shows)."""
    from scipy.ndimage import uniform_filter

    h, w = gray.shape
    side = min(side, h, w)
    gy, gx = np.gradient(gray)
    energy = uniform_filter(gy * gy + gx * gx, side)
    half = side // 2
    inner = energy[half : h - side + half + 1, half : w - side + half + 1]
    r, c = np.unravel_index(int(np.argmax(inner)), inner.shape)
    return int(r), int(c), side


# ----------------------------------------------------------------------------
# One photo (cached)
# ----------------------------------------------------------------------------


def _save_png(path, img):
    from PIL import Image

    Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)).save(path)


def process(photo, options, cache_dir, fresh=False):
    """The figures of one photo: from the cache, or computed (and cached). Returns (figures, computed?)."""
    folder = os.path.join(cache_dir, photo["set"])
    os.makedirs(folder, exist_ok=True)
    stem = os.path.join(folder, photo["name"])
    if not fresh and os.path.isfile(stem + ".json") and os.path.isfile(stem + ".png"):
        with open(stem + ".json", encoding="utf-8") as fh:
            return json.load(fh), False
    img = common.load_rgb(photo["path"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result, seconds = common.blind_solve(img, channel_axis=-1, **options)
    restored = np.clip(np.asarray(result.image, dtype=np.float64), 0, 1)
    rec = common.record_fields(result.psf_estimation)
    record = result.psf_estimation
    figures = dict(
        set=photo["set"],
        name=photo["name"],
        tags=photo["tags"],
        size=f"{img.shape[1]}x{img.shape[0]}",
        megapixels=img.shape[0] * img.shape[1] / 1e6,
        status=rec["status"],
        confidence=rec["confidence"],
        reason=rec["reason"],
        message=rec["message"],
        est_size=int(result.psf.shape[0]),
        flat_detail_gain=rec["flat_detail_gain"],
        fit_residual=rec["fit_residual"],
        spectrum_gain=rec["spectrum_gain"],
        spectrum_gain_oriented=rec["spectrum_gain_oriented"],
        crop=getattr(record, "crop", None),
        time=seconds,
        est_time=rec["est_elapsed"],
        support=rec["support"],
        touches=rec["touches"],
        ref_method=photo["ref_method"],
        options=options,
        # deblur.clipped: the kept model's misfit round the clipped pixels, and how many were censored
        clipped_misfit=result.settings.get("clipped_misfit"),
        clipped_censored=result.settings.get("clipped_pixels_ignored"),
    )
    if photo["ref_kernel"]:
        ref = common.load_gray(photo["ref_kernel"])
        figures["ref_size"] = int(max(ref.shape))
        if ref.sum() > 0:
            figures["ref_ncc"] = common.peak_ncc(result.psf, ref / ref.sum())[0]
    figures.update(damage_figures(img, restored))
    _save_png(stem + ".png", restored)
    np.save(stem + ".kernel.npy", np.asarray(result.psf, dtype=np.float64))
    tmp = stem + ".json.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(figures, fh, indent=1, default=float)
    os.replace(tmp, stem + ".json")  # written last: a photo counts as cached only when complete
    return figures, True


def refresh_damage(photo, fig, cache_dir):
    """Recompute the damage figures of a cached photo (after ``damage_figures`` changed) and store them."""
    stem = os.path.join(cache_dir, photo["set"], photo["name"])
    fig = dict(fig)
    fig.update(damage_figures(common.load_rgb(photo["path"]), common.load_rgb(stem + ".png")))
    tmp = stem + ".json.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(fig, fh, indent=1, default=float)
    os.replace(tmp, stem + ".json")
    return fig


# ----------------------------------------------------------------------------
# Sheets
# ----------------------------------------------------------------------------


def _font(size):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _fit(img, box_w, box_h):
    """``img`` (float RGB) downscaled to fit ``box_w x box_h``, centred on a white box."""
    from PIL import Image

    h, w = img.shape[:2]
    scale = min(box_w / w, box_h / h, 1.0)
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    pil = Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)).resize((nw, nh), Image.LANCZOS)
    box = np.ones((box_h, box_w, 3))
    r0, c0 = (box_h - nh) // 2, (box_w - nw) // 2
    box[r0 : r0 + nh, c0 : c0 + nw] = np.asarray(pil, dtype=np.float64) / 255.0
    return box


def _kernel_tile(k, size=KERNEL, label=""):
    from PIL import Image, ImageDraw

    if k is None or not np.any(k > 0):
        tile = Image.new("RGB", (size, size), (235, 235, 235))
    else:
        k = np.maximum(np.asarray(k, dtype=np.float64), 0)
        n = max(k.shape)
        pad = np.zeros((n, n))
        pad[(n - k.shape[0]) // 2 : (n - k.shape[0]) // 2 + k.shape[0], (n - k.shape[1]) // 2 : (n - k.shape[1]) // 2 + k.shape[1]] = k
        tile = Image.fromarray((255 * pad / pad.max()).astype(np.uint8)).resize((size, size), Image.NEAREST).convert("RGB")
    if label:
        ImageDraw.Draw(tile).text((4, 2), label, fill=(255, 200, 0), font=_font(13))
    return np.asarray(tile, dtype=np.float64) / 255.0


def _caption(fig, height, width=CAPTION):
    from PIL import Image, ImageDraw

    panel = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(panel)
    big, small = _font(18), _font(14)
    y = 6
    draw.text((8, y), fig["name"], fill=(0, 0, 0), font=big)
    y += 24
    lines = []
    if fig.get("tags"):
        lines.append((fig["tags"], (90, 90, 90)))
    lines.append((f"{fig['size']} px, {fig['time']:.1f} s (estimate {fig.get('est_time') or 0:.1f} s)", (0, 0, 0)))
    conf = fig.get("confidence")
    conf_text = "-" if conf is None else (f"{conf:.2f}" if isinstance(conf, (int, float)) else str(conf))
    colour = (0, 110, 0) if fig["status"] == "estimated" else (0, 70, 170)
    lines.append((f"status {fig['status']}, confidence {conf_text}", colour))
    lines.append((f"kernel {fig['est_size']} px" + (f"; {fig['ref_method']} {fig['ref_size']} px" if fig.get("ref_size") else "")
                  + (f", NCC {fig['ref_ncc']:.2f}" if fig.get("ref_ncc") is not None else ""), (0, 0, 0)))
    why = fig.get("reason") or ("" if fig["status"] == "estimated" else fig.get("message", ""))
    for part in textwrap.wrap(f"reason: {why}" if why else "", 46)[:3]:
        lines.append((part, (90, 90, 90)))
    lines.append((f"HF flat/edge x{fig['hf_flat']:.2f}, clipped {100 * fig['clip_out']:.1f}% ({100 * fig['clip_added']:+.1f})", (0, 0, 0)))
    lines.append((f"damage {fig['damage']:.2f}", (0, 0, 0)))
    if fig.get("clipped_misfit") is not None:  # deblur.clipped's choice for the clipped highlights
        model = "censored" if fig.get("clipped_censored") else "kept"
        lines.append((f"clipped pixels {model} (kept model's misfit {fig['clipped_misfit']:.1f})", (90, 90, 90)))
    for text, col in lines:
        draw.text((8, y), text, fill=col, font=small)
        y += 19
    if fig.get("flag"):
        draw.text((8, y + 2), "DAMAGE? " + fig["flag"], fill=(200, 0, 0), font=big)
    return np.asarray(panel, dtype=np.float64) / 255.0


def sheet_row(photo, fig, cache_dir, with_pmp):
    """One row of a sheet, from the cached output."""
    stem = os.path.join(cache_dir, photo["set"], photo["name"])
    blurred = common.load_rgb(photo["path"])
    restored = common.load_rgb(stem + ".png")
    kernel = np.load(stem + ".kernel.npy")
    box_w = THUMB * 4 // 3
    cells = [_fit(blurred, box_w, THUMB), _fit(restored, box_w, THUMB)]
    if with_pmp:
        pmp = common.load_rgb(photo["pmp"]) if photo.get("pmp") else np.full((THUMB, box_w, 3), 0.9)
        cells.append(_fit(pmp, box_w, THUMB))
    r, c, side = detail_window(luma(blurred))
    detail = np.ones((THUMB, DETAIL, 3))
    detail[:side, :side] = blurred[r : r + side, c : c + side]
    detail[THUMB - side :, :side] = restored[r : r + side, c : c + side]
    cells.append(detail)
    ref = common.load_gray(photo["ref_kernel"]) if photo.get("ref_kernel") else None
    cells.append(np.concatenate([_kernel_tile(kernel, label="ours"), _kernel_tile(ref, label=photo.get("ref_method") or "")], axis=0))
    cells.append(_caption(fig, THUMB))
    gap = np.ones((THUMB, GAP, 3))
    out = []
    for cell in cells:
        out += [cell, gap]
    return np.concatenate(out[:-1], axis=1)


def _header(labels, widths, height=26):
    from PIL import Image, ImageDraw

    total = sum(widths) + GAP * (len(widths) - 1)
    img = Image.new("RGB", (total, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    x = 0
    for text, w in zip(labels, widths):
        draw.text((x + 6, 4), text, fill=(0, 0, 0), font=_font(16))
        x += w + GAP
    return np.asarray(img, dtype=np.float64) / 255.0


def write_sheets(items, cache_dir, out_dir, set_name, title):
    """Pages of ``ROWS_PER_PAGE`` rows for the (photo, figures) ``items``; returns the paths written."""
    from PIL import Image

    with_pmp = set_name == "kohler"
    box_w = THUMB * 4 // 3
    labels = ["blurred", "deblur (blind, default)"] + (["PMP (Wen et al. 2021)"] if with_pmp else []) + ["1:1 in / out", "kernels", title]
    widths = [box_w, box_w] + ([box_w] if with_pmp else []) + [DETAIL, KERNEL, CAPTION]
    paths = []
    for p0 in range(0, len(items), ROWS_PER_PAGE):
        chunk = items[p0 : p0 + ROWS_PER_PAGE]
        rows = [_header(labels, widths)]
        for photo, fig in chunk:
            rows += [sheet_row(photo, fig, cache_dir, with_pmp), np.full((GAP, rows[0].shape[1], 3), 0.75)]
        page = np.concatenate(rows, axis=0)
        path = os.path.join(out_dir, f"{set_name}_page{p0 // ROWS_PER_PAGE + 1:02d}.png")
        Image.fromarray(np.round(page * 255).astype(np.uint8)).save(path, optimize=True)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------

CSV_FIELDS = ("set", "name", "tags", "size", "status", "confidence", "reason", "est_size", "ref_method", "ref_size", "ref_ncc",
              "time", "est_time", "hf_flat", "clip_in", "clip_out", "clip_added", "rms_change", "damage", "flag", "message")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=common.default_data_dir(), help="folder holding lai16-real/ and kohler12/")
    ap.add_argument("--set", default="both", choices=("lai", "kohler", "both"))
    ap.add_argument("--limit", type=int, default=0, help="the first N photos of each set only")
    ap.add_argument("--names", default="", help="comma-separated photo names (or parts of names) to keep, e.g. night3,kohler1_8")
    ap.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", help="estimation option (repeatable)")
    ap.add_argument("--tag", default="", help="cache and output folder name (default: options + hash of deblur/)")
    ap.add_argument("--fresh", action="store_true", help="recompute photos even when cached")
    ap.add_argument("--sheets-only", action="store_true", help="compute nothing: draw the sheets of the cached photos")
    ap.add_argument("--sort", default="name", choices=("name", "damage"), help="row order on the sheets and in the table")
    ap.add_argument("--results", default=os.path.join(common.REPO_ROOT, "benchmarks", "results"), help="results folder (git-ignored)")
    ap.add_argument("--json", default=None, help="also write the per-photo figures to this JSON file")
    args = ap.parse_args(argv)
    options = common.parse_options(args.option)

    photos = []
    if args.set in ("lai", "both"):
        photos += lai_photos(args.data)[: args.limit or None] if not args.names else lai_photos(args.data)
    if args.set in ("kohler", "both"):
        photos += kohler_photos(args.data)[: args.limit or None] if not args.names else kohler_photos(args.data)
    if args.names:
        want = [w.strip() for w in args.names.split(",") if w.strip()]
        photos = [p for p in photos if any(w == p["name"] or w in p["name"] for w in want)]
        if args.limit:
            photos = photos[: args.limit]
    if not photos:
        print(f"no photos under {args.data} (lai16-real/photos, kohler12/blurry); pass --data DIR", file=sys.stderr)
        return 2

    tag = args.tag or f"{common.options_key(options)}-{code_hash()}"
    cache_dir = os.path.join(args.results, "cache", "blind_sheet", tag)
    out_dir = os.path.join(args.results, "blind_sheet", tag)
    os.makedirs(out_dir, exist_ok=True)
    print(f"cache {cache_dir}\noutput {out_dir}", flush=True)

    items, computed, missing = [], 0, []
    t_start = time.perf_counter()
    for i, photo in enumerate(photos, 1):
        stem = os.path.join(cache_dir, photo["set"], photo["name"])
        if args.sheets_only:
            if not os.path.isfile(stem + ".json"):
                missing.append(photo["name"])
                continue
            with open(stem + ".json", encoding="utf-8") as fh:
                fig = json.load(fh)
            new = False
        else:
            try:
                fig, new = process(photo, options, cache_dir, args.fresh)
            except Exception as exc:  # noqa: BLE001 - one failing photo must not stop a long run
                print(f"[{i}/{len(photos)}] {photo['name']}: FAILED {type(exc).__name__}: {exc}", flush=True)
                missing.append(photo["name"])
                continue
        if fig.get("damage_version") != DAMAGE_VERSION:
            fig = refresh_damage(photo, fig, cache_dir)
        computed += new
        items.append((photo, fig))
        print(
            f"[{i}/{len(photos)}] {photo['set']:6s} {photo['name']:16s} {fig['size']:>9s} {fig['status']:9s} "
            f"k {fig['est_size']:3d}  {fig['time']:5.1f} s  HF x{fig['hf_flat']:5.2f}  clip {100 * fig['clip_added']:+5.1f}%"
            + ("" if new else "  (cached)") + (f"  DAMAGE? {fig['flag']}" if fig.get("flag") else ""),
            flush=True,
        )
    if not items:
        print("nothing to draw", file=sys.stderr)
        return 1

    if args.sort == "damage":
        items.sort(key=lambda it: -it[1]["damage"])
    paths = []
    for set_name in ("lai", "kohler"):
        sel = [it for it in items if it[0]["set"] == set_name]
        if sel:
            title = f"options {options or 'default'}, {tag}"
            paths += write_sheets(sel, cache_dir, out_dir, set_name, title)
    figures = [fig for _, fig in items]
    with open(os.path.join(out_dir, "figures.csv"), "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for fig in figures:
            writer.writerow({k: ("" if fig.get(k) is None else fig.get(k)) for k in CSV_FIELDS})
    doc = {"tag": tag, "options": options, "photos": figures}
    common.write_json(os.path.join(out_dir, "figures.json"), doc)
    if args.json:
        common.write_json(args.json, doc)

    print()
    common.print_table(
        [dict(f, conf="-" if f.get("confidence") is None else f"{f['confidence']}") for f in figures],
        [("set", "set", None), ("name", "photo", None), ("size", "size", None), ("status", "status", None), ("conf", "conf.", None),
         ("est_size", "k px", "d"), ("time", "s", ".1f"), ("hf_flat", "HF flat", ".2f"), ("clip_added", "clip +", ".3f"),
         ("damage", "damage", ".2f"), ("flag", "flag", None)],
        title=f"blind deblurring of real photos ({tag}); rows sorted by {args.sort}",
    )
    flagged = [f["name"] for f in figures if f.get("flag")]
    statuses = {}
    for f in figures:
        statuses[f["status"]] = statuses.get(f["status"], 0) + 1
    print(f"\n{len(figures)} photos ({computed} computed now, {len(figures) - computed} from the cache); "
          + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    print(f"flagged as possibly damaged (damage > 1): {len(flagged)}" + (": " + ", ".join(flagged) if flagged else ""))
    times = [f["time"] for f in figures]
    print(f"time per photo: median {np.median(times):.1f} s, worst {max(times):.1f} s; this run {(time.perf_counter() - t_start) / 60:.1f} min")
    if missing:
        print(f"not drawn ({'not cached' if args.sheets_only else 'failed'}): {', '.join(missing)}")
    print("sheets: " + ", ".join(paths))
    print(f"figures: {os.path.join(out_dir, 'figures.csv')}, {os.path.join(out_dir, 'figures.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
