"""The HTML report (deblur.report): what the page says, where its pictures are, and how it is written.

The page in a real browser (pictures load, the slider works) is tests/test_report_browser.py.
"""

import csv
import html
import os
import re
import time
import types
from html.parser import HTMLParser
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from deblur.options import SolveOptions
from deblur import cli
from deblur import report as rep
from deblur._report_html import EAGER_CARDS, page_status, render
from deblur.batch import FileJob, RestoreOptions, Row
from deblur.result import BackoffEvent, History, SolveResult

FAST = ["--psf", "gaussian:sigma=1", "--iterations", "3"]


def run(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


class Links(HTMLParser):
    """Every <img src>, <a href> and <article> of a page."""

    def __init__(self):
        super().__init__()
        self.imgs, self.links, self.cards = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.imgs.append(attrs)
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag == "article":
            self.cards.append(attrs)


def parse(path):
    links = Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def local(page, url):
    """The file a relative URL of ``page`` points to; fails on any URL with a scheme or host."""
    parts = urlparse(url)
    assert not parts.scheme and not parts.netloc, url
    return (page.parent / unquote(parts.path)).resolve()


def smooth(shape, seed):
    rng = np.random.default_rng(seed)
    img = rng.random((shape[0] // 4 + 2, shape[1] // 4 + 2) + shape[2:])
    big = np.kron(img, np.ones((4, 4) + (1,) * (len(shape) - 2)))[: shape[0], : shape[1]]
    return (big * 255).astype(np.uint8)


@pytest.fixture
def shots(tmp_path):
    """in/: a gray PNG, a colour JPEG and a broken PNG; ref/: their sharp originals."""
    src, ref = tmp_path / "in", tmp_path / "ref"
    src.mkdir()
    ref.mkdir()
    for name, shape, seed in (("a.png", (32, 28), 1), ("b.jpg", (24, 36, 3), 2)):
        Image.fromarray(smooth(shape, seed)).save(src / name)
        Image.fromarray(smooth(shape, seed)).save(ref / name)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (ref / "broken.png").write_bytes(b"")
    return src, ref


def test_batch_report_lists_every_file_and_links_only_local_pictures(shots, tmp_path):
    src, ref = shots
    out = tmp_path / "out"
    result = run("batch", src, out, *FAST, "--report", "--reference-dir", ref)
    assert result.exit_code == 1  # broken.png failed
    page = out / "report.html"
    assert page.is_file() and (out / "report_files").is_dir()
    text = page.read_text(encoding="utf-8")
    links = parse(page)
    assert [c["data-name"] for c in links.cards] == ["a.png", "b.jpg", "broken.png"]
    assert [c["data-status"] for c in links.cards] == ["restored", "restored", "failed"]
    assert "<b>2</b> restored" in text and "<b>0</b> left alone" in text and "<b>1</b> failed" in text
    summary = {r["file"]: r for r in csv.DictReader((out / "deblur-summary.csv").read_text().splitlines())}
    assert f'<pre class="error">{html.escape(summary["broken.png"]["error"])}</pre>' in text  # the error, in full
    # before, after and kernel per restored file, plus the curve; all present on disk, none remote
    assert len(links.imgs) == 2 * 4
    for img in links.imgs:
        assert local(page, img["src"]).is_file(), img["src"]
    full = [local(page, href) for href in links.links]
    assert (src / "a.png").resolve() in full and (out / "b.jpg").resolve() in full
    assert all(p.is_file() for p in full)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing fetched from a network
    assert "PSNR" in text and "SSIM" in text and "dB" in text  # --reference-dir
    assert "given: gaussian:sigma=1" in text and "iterations</dt><dd>3<" in text
    assert "<dt>iterations</dt><dd>3</dd>" in text and "<dt>psf</dt><dd>gaussian:sigma=1</dd>" in text  # options
    assert not [f for _, _, files in os.walk(out) for f in files if f.endswith(".part")]


def test_batch_report_is_not_overwritten_without_overwrite(shots, tmp_path):
    src, _ = shots
    os.remove(src / "broken.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("old report")
    result = run("batch", src, out, *FAST, "--report")
    assert result.exit_code == 2
    assert "report.html already exists" in result.stderr and "--overwrite" in result.stderr
    assert (out / "report.html").read_text() == "old report"
    assert not (out / "a.png").exists()  # refused before any work
    result = run("batch", src, out, *FAST, "--report", "--overwrite")
    assert result.exit_code == 0, result.output
    assert "<!DOCTYPE html>" in (out / "report.html").read_text()
    assert "report: " in result.stdout


def test_restore_report_single_photo(shots, tmp_path):
    src, ref = shots
    page = tmp_path / "one.html"
    result = run("restore", src / "b.jpg", "-o", tmp_path / "b.out.jpg", *FAST, "--reference", ref / "b.jpg",
                 "--report", page)
    assert result.exit_code == 0, result.output
    links = parse(page)
    assert [c["data-status"] for c in links.cards] == ["restored"]
    assert all(local(page, img["src"]).is_file() for img in links.imgs)
    assert all(os.path.dirname(local(page, img["src"])) == str(tmp_path / "one_files") for img in links.imgs)
    assert "PSNR" in page.read_text() and str(page) in result.stdout


@pytest.mark.parametrize("name, message", [("page.txt", "extension '.txt'"), ("taken.html", "already exists")])
def test_restore_report_bad_path_is_refused_before_work(shots, tmp_path, name, message):
    src, _ = shots
    (tmp_path / "taken.html").write_text("keep me")
    result = run("restore", src / "a.png", "-o", tmp_path / "x.png", *FAST, "--report", tmp_path / name)
    assert result.exit_code == 2 and message in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.png").exists() and (tmp_path / "taken.html").read_text() == "keep me"


# --------------------------------------------------------------------------- entries and the page, no solver


def fake_result(record=None, n=6, psnr=True):
    history = History()
    for i in range(n):
        history.append(iteration=i, cost=10.0 / (i + 1), step=0.5, grad_norm=1.0 / (i + 1), elapsed=0.01 * i,
                       psnr=20.0 + i if psnr else float("nan"), ssim=0.5 + 0.05 * i if psnr else float("nan"))
    kernel = np.zeros((5, 5))
    kernel[2, 2] = 1.0
    events = [BackoffEvent(iteration=2, old_step=1.0, new_step=0.5, stability_limit=1.9, reason="cost rose")]
    return SolveResult(np.zeros((8, 8)), kernel, history, "tol", n - 1, events, weight=0.002, noise_sigma=0.01,
                       psf_estimation=record)


def entry_for(tmp_path, record=None, output="out.png", label="x.png", before=None):
    before = np.tile(np.arange(100, 140, dtype=np.uint8), (30, 1)) if before is None else before
    after = before.copy()
    after[::2] = 0
    job = FileJob(input=str(tmp_path / "x.png"), output=str(tmp_path / output),
                  options=RestoreOptions(psf="estimate" if record else "box:size=3"), label=label,
                  report=str(tmp_path / "r.html"))
    return rep.file_entry(job, before, after, fake_result(record), seconds=0.25, warnings=["W: careful"])


def test_entry_of_a_blind_fallback_is_left_alone_with_confidence_and_reason(tmp_path):
    record = types.SimpleNamespace(status="fallback", message="flat image", confidence=0.12,
                                   reason="too little structure to estimate from", elapsed=1.5)
    entry = entry_for(tmp_path, record)
    row = Row(file="x.png", status="ok", seconds=0.25, report=entry)
    assert page_status(row) == ("left alone", "the blur could not be estimated: too little structure to estimate from")
    text = render([row], page_dir=str(tmp_path), title="t")
    assert "<dt>confidence</dt><dd>0.12</dd>" in text and "<b>1</b> left alone" in text
    assert "not estimated: a delta (5 x 5)" in text
    assert "warning: W: careful" in text and entry["converged"] and entry["backoffs"] == 1
    assert entry["psnr"] == [20.0, 25.0] and entry["ssim"][1] == pytest.approx(0.75)
    assert entry["sharpness"] > 1  # the "after" has stronger edges than the flat "before"


def test_entry_works_with_a_record_without_confidence(tmp_path):
    record = types.SimpleNamespace(status="estimated", message="support 5 px")
    entry = entry_for(tmp_path, record)
    text = render([Row(file="x.png", status="ok", report=entry)], page_dir=str(tmp_path), title="t")
    assert "confidence" not in text and "support 5 px" in text and "estimated from the image (5 x 5)" in text


def test_entry_pictures_same_zoom_and_a_viewable_copy_of_a_tiff(tmp_path):
    before = (np.random.default_rng(0).random((900, 300, 3)) * 65535).astype(np.uint16)
    entry = entry_for(tmp_path, output="out.tif", before=before)
    with Image.open(entry["thumb_before"]) as tb, Image.open(entry["thumb_after"]) as ta:
        assert tb.size == ta.size == tuple(entry["thumb_size"]) and max(tb.size) == rep.THUMB_SIDE
        assert tb.mode == "RGB"
    assert entry["full_after"].endswith(".png")
    with Image.open(entry["full_after"]) as full:
        assert full.size == (300, 900)
    with Image.open(entry["kernel"]) as kernel:
        assert kernel.size[0] >= 100 and np.asarray(kernel).max() == 255  # enlarged, peak white
    with open(entry["curve"], encoding="utf-8") as fh:
        svg = fh.read()
    assert svg.count("<polyline") == 2 and "PSNR" in svg and 'stroke="#d62728"' in svg  # cost, PSNR, back-off


def test_page_escapes_names_and_states_failures(tmp_path):
    rows = [Row(file='<img src=x onerror="alert(1)">.png', status="failed", error="bad <thing> & more"),
            Row(file="s.png", status="skipped", error="output exists (--skip-existing)")]
    text = render(rows, page_dir=str(tmp_path), title="t <b>")
    assert "<img src=x" not in text and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in text
    assert "bad &lt;thing&gt; &amp; more" in text and "t &lt;b&gt;" in text
    assert "output exists (--skip-existing)" in text and "<b>1</b> left alone" in text


def test_a_page_of_500_photos_renders_fast_and_loads_lazily(tmp_path):
    entry = entry_for(tmp_path)
    rows = [Row(file=f"p{i:03d}.png", status="ok", seconds=1.0, report=entry) for i in range(500)]
    t0 = time.perf_counter()
    text = render(rows, page_dir=str(tmp_path), title="big")
    assert time.perf_counter() - t0 < 2.0
    links = Links()
    links.feed(text)
    assert len(links.cards) == 500 and len(links.imgs) == 500 * 4
    eager = [img for img in links.imgs if img.get("loading") != "lazy"]
    assert len(eager) == EAGER_CARDS * 4  # only the first cards load at once
    assert all("width" in img and "height" in img for img in links.imgs if img.get("class") in ("before", "after"))
    assert len(text) < 3_000_000


def test_write_report_is_atomic_and_refuses_to_clobber(tmp_path):
    page = tmp_path / "r.html"
    page.write_text("mine")
    with pytest.raises(FileExistsError):
        rep.write_report(page, [Row(file="a", status="failed", error="e")])
    assert page.read_text() == "mine"
    rep.write_report(page, [Row(file="a", status="failed", error="e")], overwrite=True)
    assert "<b>1</b> failed" in page.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file left


def test_describe_options_names_what_was_chosen():
    items = dict(rep.describe_options(RestoreOptions(psf="disk:radius=2", solve=SolveOptions(max_num_iter=7), linear=True),
                                      reference_dir="/refs", jobs=None))
    assert items == {"psf": "disk:radius=2", "iterations": "7", "linear": "True", "reference_dir": "/refs"}


def test_resumed_batch_reports_skipped_files_as_left_alone(shots, tmp_path):
    src, _ = shots
    os.remove(src / "broken.png")
    out = tmp_path / "out"
    assert run("batch", src, out, *FAST, "--report").exit_code == 0
    result = run("batch", src, out, *FAST, "--report", "--skip-existing")
    assert result.exit_code == 2 and "move it away" in result.stderr and "--overwrite" not in result.stderr
    os.remove(out / "report.html")
    assert run("batch", src, out, *FAST, "--report", "--skip-existing").exit_code == 0
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "<b>2</b> left alone" in text and text.count("output exists (--skip-existing)") == 2
