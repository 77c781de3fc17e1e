"""The report page itself: rows in, one self-contained HTML document out (see :mod:`deblur.report`).

Style and script are inline; pictures are relative links into the side
folder, ``loading="lazy"`` past the first cards, and each card has
``content-visibility: auto``, so a page of 500 photos opens at once. A
Content-Security-Policy forbids any fetch but local pictures.
"""

import html
import os
import urllib.parse

__all__ = ["render", "page_status"]

EAGER_CARDS = 4  # pictures of the first cards load at once; the rest when scrolled near


def page_status(row):
    """``(status, reason)`` on the page: restored, left alone, failed or interrupted."""
    entry = row.report or {}
    if row.status == "ok":
        return ("left alone", entry["left_alone"]) if entry.get("left_alone") else ("restored", "")
    if row.status == "skipped":
        return "left alone", row.error or "skipped"
    if row.status == "interrupted":
        return "interrupted", row.error or "interrupted"
    return "failed", row.error or "failed"


def _e(text):
    return html.escape(str(text), quote=True)


def _href(path, page_dir):
    """A relative URL from the page to ``path`` (absolute when on another drive)."""
    try:
        rel = os.path.relpath(path, page_dir)
    except ValueError:  # Windows, another drive
        return "file:///" + urllib.parse.quote(os.path.abspath(path).replace(os.sep, "/").lstrip("/"))
    return urllib.parse.quote(rel.replace(os.sep, "/"))


def _fmt(value, digits=3):
    if value is None:
        return "n/a"
    if isinstance(value, list):
        return " / ".join(_fmt(v, digits) for v in value)
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _figures(entry):
    """The ``<dl>`` of one restored file: what ran, how it ended, how good it is."""
    est = entry["estimation"]
    kh, kw = entry["kernel_shape"]
    items = [("size", f"{entry['width']} x {entry['height']} px")]
    if est["kind"] == "given":
        items.append(("kernel", f"given: {est['spec']} ({kw} x {kh})"))
    else:
        words = {"estimated": "estimated from the image", "sharp": "no blur detected: a delta",
                 "fallback": "not estimated: a delta"}.get(est["status"], est["status"])
        items.append(("kernel", f"{words} ({kw} x {kh})"))
        if est.get("confidence") is not None:
            items.append(("confidence", f"{est['confidence']:.2f}"))
        if est.get("reason") or est.get("message"):
            items.append(("estimate", est.get("reason") or est.get("message")))
    items += [
        ("iterations", entry["iterations"]),
        ("stopped", entry["stop_words"]),
        ("time", f"{entry['seconds']:.2f} s"),
        ("weight", _fmt(entry["weight"])),
        ("noise σ", _fmt(entry["noise_sigma"])),
        ("final cost", _fmt(entry["final_cost"], 5)),
        ("back-offs", entry["backoffs"]),
    ]
    if entry.get("sharpness") is not None:
        items.append(("sharpness", f"x{entry['sharpness']:.2f} (edge contrast after / before)"))
    if entry.get("psnr"):
        a, b = entry["psnr"]
        items.append(("PSNR", f"{a:.2f} → {b:.2f} dB ({b - a:+.2f})"))
    if entry.get("ssim"):
        a, b = entry["ssim"]
        items.append(("SSIM", f"{a:.3f} → {b:.3f} ({b - a:+.3f})"))
    cells = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    return f'<dl class="figs">{cells}</dl>'


def _img(src, alt, lazy, cls="", size=None):
    load = ' loading="lazy"' if lazy else ""
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    klass = f' class="{cls}"' if cls else ""
    return f'<img src="{src}" alt="{_e(alt)}"{klass}{dims}{load} decoding="async">'


def _card(i, row, page_dir):
    status, reason = page_status(row)
    entry = row.report
    lazy = i >= EAGER_CARDS
    seconds = row.seconds if row.seconds is not None else (entry or {}).get("seconds", 0) or 0
    gain = ""
    if entry and entry.get("psnr"):
        gain = f"{entry['psnr'][1] - entry['psnr'][0]:.4f}"
    attrs = (f'data-status="{_e(status)}" data-name="{_e(row.file)}" data-seconds="{float(seconds):.4f}" '
             f'data-gain="{gain}" data-sharp="{(entry or {}).get("sharpness") or ""}"')
    head = (f'<header><h2 title="{_e(row.file)}">{_e(row.file)}</h2>'
            f'<span class="badge {status.replace(" ", "-")}">{_e(status)}</span></header>')
    parts = [f'<article class="card" id="f{i}" {attrs}>', head]
    if reason and status != "failed":  # a failure's error comes below, in full
        parts.append(f'<p class="reason">{_e(reason)}</p>')
    if entry and entry.get("thumb_before"):
        tw, th = entry["thumb_size"]
        name = _e(row.file)
        parts += [
            f'<div class="cmp" style="aspect-ratio:{tw}/{th}">',
            _img(_href(entry["thumb_before"], page_dir), f"{row.file}, blurred", lazy, "before", (tw, th)),
            _img(_href(entry["thumb_after"], page_dir), f"{row.file}, restored", lazy, "after", (tw, th)),
            '<span class="tag l">blurred</span><span class="tag r">restored</span></div>',
            f'<div class="ctl"><input type="range" min="0" max="100" value="50" class="slider" '
            f'aria-label="before / after of {name}">'
            '<button type="button" class="flip" aria-pressed="false">blurred ⇄ restored</button></div>',
            f'<p class="links">full size: <a href="{_href(entry["full_before"], page_dir)}">blurred</a> · '
            f'<a href="{_href(entry["full_after"], page_dir)}">restored</a>',
        ]
        if entry.get("plot"):
            parts.append(f' · <a href="{_href(entry["plot"], page_dir)}">convergence plot</a>')
        parts.append("</p>")
    if entry:
        side = []
        if entry.get("kernel"):
            kh, kw = entry["kernel_shape"]
            side.append(f'<figure class="kernel">{_img(_href(entry["kernel"], page_dir), "kernel", lazy)}'
                        f'<figcaption>kernel {kw} x {kh}</figcaption></figure>')
        if entry.get("curve"):
            side.append(f'<figure class="curve">{_img(_href(entry["curve"], page_dir), "convergence", lazy)}'
                        f'<figcaption>{"converged" if entry["converged"] else _e(entry["stop_words"])}'
                        "</figcaption></figure>")
        parts.append(f'<div class="plots">{"".join(side)}</div>')
        parts.append(_figures(entry))
        messages = [("warning", w) for w in entry.get("warnings", [])] + [("note", n) for n in entry.get("notes", [])]
        if messages:
            parts.append('<ul class="msgs">' + "".join(f'<li class="{k}">{k}: {_e(t)}</li>' for k, t in messages)
                         + "</ul>")
    elif row.status == "failed":
        parts.append(f'<pre class="error">{_e(row.error or "failed")}</pre>')
    parts.append("</article>")
    return "\n".join(parts)


def render(rows, *, page_dir, title, options=(), elapsed=None, stamp=""):
    """The whole page as a string (see :func:`deblur.report.write_report`)."""
    counts = {}
    for row in rows:
        status = page_status(row)[0]
        counts[status] = counts.get(status, 0) + 1
    work = sum(float(r.seconds or 0) for r in rows)
    shown = ["restored", "left alone", "failed"] + (["interrupted"] if counts.get("interrupted") else [])
    pills = "".join(
        f'<button type="button" class="pill {s.replace(" ", "-")}" data-filter="{s}">'
        f'<b>{counts.get(s, 0)}</b> {s}</button>' for s in shown
    )
    timing = f"{work:.1f} s of restoring" + (f", {elapsed:.1f} s in all" if elapsed is not None else "")
    opts = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in options) or "<dd>defaults</dd>"
    cards = "\n".join(_card(i, row, page_dir) for i, row in enumerate(rows))
    return (_PAGE.replace("%TITLE%", _e(title)).replace("%STAMP%", _e(stamp))
            .replace("%TOTAL%", str(len(rows))).replace("%PILLS%", pills).replace("%TIMING%", _e(timing))
            .replace("%OPTIONS%", opts).replace("%CARDS%", cards))


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>%TITLE%</title>
<style>
:root { --bg:#f4f4f2; --card:#fff; --ink:#1d1d1f; --mute:#666; --line:#ddd;
  --ok:#1a7f37; --alone:#9a6700; --bad:#cf222e; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background:var(--bg); color:var(--ink); }
.top { position:sticky; top:0; z-index:2; background:var(--card); border-bottom:1px solid var(--line);
  padding:.6rem 1rem; }
h1 { font-size:1.15rem; margin:0 0 .3rem; overflow-wrap:anywhere; }
.meta { color:var(--mute); font-size:.85rem; margin:0; }
.bar { display:flex; flex-wrap:wrap; gap:.4rem; align-items:center; margin-top:.4rem; }
.pill, select, .flip { font:inherit; font-size:.9rem; border:1px solid var(--line); border-radius:999px;
  background:var(--card); padding:.2rem .7rem; cursor:pointer; color:inherit; }
.pill.active { outline:2px solid var(--ink); }
.pill.restored b { color:var(--ok); } .pill.left-alone b { color:var(--alone); }
.pill.failed b, .pill.interrupted b { color:var(--bad); }
details { font-size:.85rem; margin-top:.3rem; }
details dl { display:grid; grid-template-columns:max-content 1fr; gap:0 .8rem; margin:.3rem 0; }
details dd { margin:0; overflow-wrap:anywhere; }
main { display:grid; gap:1rem; padding:1rem; align-items:start; grid-template-columns:repeat(auto-fill, minmax(min(100%, 400px), 1fr)); }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:.7rem;
  content-visibility:auto; contain-intrinsic-size:auto 760px; min-width:0; }
.card[hidden] { display:none; }
.card header { display:flex; gap:.5rem; align-items:baseline; justify-content:space-between; }
h2 { font-size:1rem; margin:0 0 .4rem; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.badge { font-size:.75rem; padding:.05rem .5rem; border-radius:999px; color:#fff; white-space:nowrap; }
.badge.restored { background:var(--ok); } .badge.left-alone { background:var(--alone); }
.badge.failed, .badge.interrupted { background:var(--bad); }
.reason { margin:.2rem 0 .5rem; color:var(--alone); font-size:.9rem; }
.cmp { position:relative; width:100%; overflow:hidden; background:#222; border-radius:6px; --pos:50%; }
.cmp img { position:absolute; inset:0; width:100%; height:100%; object-fit:contain; display:block; }
.cmp img.after { clip-path:inset(0 0 0 var(--pos)); }
.cmp::after { content:""; position:absolute; top:0; bottom:0; left:var(--pos); width:2px;
  background:#fff; box-shadow:0 0 3px #000; pointer-events:none; }
.cmp.flipped img.after { clip-path:none; }
.cmp.flipped::after { display:none; }
.tag { position:absolute; top:.3rem; font-size:.75rem; background:rgba(0,0,0,.55); color:#fff;
  padding:0 .35rem; border-radius:4px; }
.tag.l { left:.3rem; } .tag.r { right:.3rem; }
.ctl { display:flex; gap:.5rem; align-items:center; margin:.4rem 0 .2rem; }
.slider { flex:1; min-width:0; }
.flip { border-radius:6px; font-size:.8rem; white-space:nowrap; }
.links { font-size:.85rem; margin:.2rem 0 .5rem; }
.plots { display:flex; gap:.6rem; align-items:flex-start; flex-wrap:wrap; }
figure { margin:0; text-align:center; font-size:.8rem; color:var(--mute); }
.kernel img { width:96px; height:96px; image-rendering:pixelated; background:#000; border-radius:4px; }
.curve { flex:1; min-width:200px; } .curve img { width:100%; height:auto; }
.figs { display:grid; grid-template-columns:max-content 1fr; gap:.1rem .8rem; font-size:.88rem; margin:.6rem 0 0; }
.figs dt { color:var(--mute); } .figs dd { margin:0; overflow-wrap:anywhere; }
.msgs { font-size:.82rem; padding-left:1.1rem; margin:.5rem 0 0; }
.msgs .warning { color:var(--alone); }
.error { white-space:pre-wrap; color:var(--bad); font-size:.85rem; margin:.3rem 0 0; }
.none { padding:1rem; color:var(--mute); }
@media (max-width:480px) { main { padding:.5rem; gap:.6rem; } body { font-size:14px; } .top { position:static; } }
</style>
</head>
<body>
<div class="top">
<h1>%TITLE%</h1>
<p class="meta">%TOTAL% file(s) · %TIMING% · %STAMP%</p>
<div class="bar" role="toolbar" aria-label="filter and sort">
<button type="button" class="pill active" data-filter="all"><b>%TOTAL%</b> all</button>%PILLS%
<select id="sort" aria-label="sort">
<option value="name">sort: name</option><option value="status">sort: status</option>
<option value="slow">sort: slowest first</option><option value="fast">sort: fastest first</option>
<option value="gain">sort: PSNR gain</option><option value="sharp">sort: sharpness gain</option>
</select>
</div>
<details><summary>options used</summary><dl>%OPTIONS%</dl></details>
</div>
<main id="cards">
%CARDS%
</main>
<p class="none" id="none" hidden>No file with this status.</p>
<script>
"use strict";
(function () {
  var main = document.getElementById("cards");
  var cards = Array.prototype.slice.call(main.querySelectorAll(".card"));
  cards.forEach(function (card) {
    var cmp = card.querySelector(".cmp");
    if (!cmp) return;
    var slider = card.querySelector(".slider"), flip = card.querySelector(".flip");
    slider.addEventListener("input", function () {
      cmp.classList.remove("flipped"); flip.setAttribute("aria-pressed", "false");
      cmp.style.setProperty("--pos", slider.value + "%");
    });
    flip.addEventListener("click", function () {
      var on = !cmp.classList.contains("flipped");
      if (!on) { cmp.classList.remove("flipped"); slider.value = 100; cmp.style.setProperty("--pos", "100%"); }
      else { cmp.classList.add("flipped"); slider.value = 0; cmp.style.setProperty("--pos", "0%"); }
      flip.setAttribute("aria-pressed", on ? "true" : "false");
    });
  });
  var pills = document.querySelectorAll(".pill");
  Array.prototype.forEach.call(pills, function (pill) {
    pill.addEventListener("click", function () {
      var want = pill.getAttribute("data-filter"), seen = 0;
      Array.prototype.forEach.call(pills, function (p) { p.classList.toggle("active", p === pill); });
      cards.forEach(function (c) {
        var show = want === "all" || c.getAttribute("data-status") === want;
        c.hidden = !show; seen += show ? 1 : 0;
      });
      document.getElementById("none").hidden = seen > 0;
    });
  });
  var order = { "failed": 0, "interrupted": 1, "left alone": 2, "restored": 3 };
  function num(c, k) { var v = parseFloat(c.getAttribute(k)); return isNaN(v) ? -Infinity : v; }
  document.getElementById("sort").addEventListener("change", function (ev) {
    var how = ev.target.value;
    var by = {
      name: function (a, b) { return a.getAttribute("data-name").localeCompare(b.getAttribute("data-name")); },
      status: function (a, b) { return order[a.getAttribute("data-status")] - order[b.getAttribute("data-status")]; },
      slow: function (a, b) { return num(b, "data-seconds") - num(a, "data-seconds"); },
      fast: function (a, b) { return num(a, "data-seconds") - num(b, "data-seconds"); },
      gain: function (a, b) { return num(b, "data-gain") - num(a, "data-gain"); },
      sharp: function (a, b) { return num(b, "data-sharp") - num(a, "data-sharp"); }
    }[how];
    cards.slice().sort(by).forEach(function (c) { main.appendChild(c); });
  });
})();
</script>
</body>
</html>
"""
