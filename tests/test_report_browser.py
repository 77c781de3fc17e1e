"""The report page in a real browser: headless Chromium (Debian's package) driven by Playwright.

The page of a small batch is opened from disk (file://). Checked: every picture
loads (the lazy ones too), nothing is fetched from anywhere but the disk, the
page logs no error, the before/after slider and toggle change what is shown,
and the status filter and the sort work. Screenshots (laptop and phone) are
saved in pytest's tmp folder and copied to /tmp/deblur_report_screenshot*.png.

Needs ``pip install playwright`` (the Python package only: never
``playwright install``) and ``apt-get install chromium``; ``.ci/run`` installs
both. Without them the tests skip and say which is missing. Set
``DEBLUR_CHROMIUM`` to use another Chromium binary.
"""

import io
import os
import shutil
import tempfile

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from scipy import ndimage

from deblur import cli

SCREENSHOT = "/tmp/deblur_report_screenshot.png"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium():
    for candidate in (os.environ.get("DEBLUR_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser test needs Playwright: pip install playwright (no browser download)"
)
CHROMIUM = _chromium()
if CHROMIUM is None:
    pytest.skip("the browser test needs Chromium: apt-get install chromium (or set DEBLUR_CHROMIUM)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A batch of two blurred photos (sharp originals given) and a broken file, with --report."""
    root = tmp_path_factory.mktemp("browser")
    src, ref = root / "in", root / "ref"
    src.mkdir()
    ref.mkdir()
    rng = np.random.default_rng(3)
    for name, shape in (("checks.png", (64, 80)), ("colour.jpg", (72, 56, 3))):
        sharp = np.kron(rng.random((shape[0] // 8, shape[1] // 8) + shape[2:]), np.ones((8, 8) + (1,) * (len(shape) - 2)))
        sigma = (2, 2, 0)[: len(shape)]
        blurred = ndimage.gaussian_filter(sharp, sigma, mode="reflect")
        Image.fromarray((sharp * 255).astype(np.uint8)).save(ref / name)
        Image.fromarray((blurred * 255).round().astype(np.uint8)).save(src / name, quality=95)
    (src / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (ref / "zz-broken.png").write_bytes(b"")
    out = root / "out"
    result = CliRunner().invoke(cli.main, ["batch", str(src), str(out), "--psf", "gaussian:sigma=2", "--iterations",
                                           "8", "--report", "--reference-dir", str(ref), "-q"])
    assert result.exit_code == 1, result.output  # the broken file failed; the others restored
    return out / "report.html"


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="deblur-chromium-")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                        args=FLAGS, viewport={"width": 1280, "height": 900})
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, report):
    """The report, opened from disk; ``page.problems`` collects errors, failed and non-local requests."""
    tab = browser.new_page()
    tab.problems = []
    tab.on("console", lambda m: m.type == "error" and tab.problems.append(f"console: {m.text}"))
    tab.on("pageerror", lambda e: tab.problems.append(f"page error: {e}"))
    tab.on("requestfailed", lambda r: tab.problems.append(f"failed: {r.url} {r.failure}"))
    tab.on("request", lambda r: r.url.startswith("file://") or tab.problems.append(f"not local: {r.url}"))
    tab.goto(report.as_uri())
    tab.wait_for_load_state("load")
    yield tab
    tab.close()


def _load_everything(page):
    """Scroll through the page, then make any lazy picture still waiting load now; wait for them all."""
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.evaluate("document.querySelectorAll('img').forEach(function (i) { i.loading = 'eager'; })")
    page.wait_for_function("Array.prototype.every.call(document.images, function (i) { return i.complete; })",
                           timeout=10_000)
    page.evaluate("window.scrollTo(0, 0)")


def _shot(locator):
    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("L"), dtype=np.float64)


def test_every_picture_loads_and_the_page_logs_no_error(page, report):
    _load_everything(page)
    images = page.evaluate(
        "Array.prototype.map.call(document.images, function (i) { return [i.getAttribute('src'), i.naturalWidth]; })"
    )
    assert len(images) == 2 * 4  # blurred, restored, kernel, curve per restored photo
    assert [src for src, width in images if not width > 0] == []
    assert page.locator(".card").count() == 3
    assert page.locator(".card[data-status=failed] .error").inner_text().startswith(str(report.parent.parent))
    assert page.problems == []


def test_slider_and_toggle_change_what_is_shown(page, report):
    card = page.locator(".card", has=page.locator("h2", has_text="checks.png"))
    view, slider, flip = card.locator(".cmp"), card.locator(".slider"), card.locator(".flip")
    view.scroll_into_view_if_needed()
    page.wait_for_function("Array.prototype.every.call(document.images, function (i) { return i.complete; })")
    slider.focus()
    page.keyboard.press("End")  # the divider far right: all blurred
    blurred = _shot(view)
    page.keyboard.press("Home")  # far left: all restored
    restored = _shot(view)
    assert slider.input_value() == "0"
    assert np.abs(blurred - restored).mean() > 2.0  # what is shown changed

    def distance(shown, name):  # to the picture the page links as that side, at the same size
        with Image.open(report.parent / "report_files" / name) as im:
            thumb = np.asarray(im.convert("L").resize(shown.shape[::-1]), dtype=np.float64)
        return np.abs(shown - thumb).mean()

    stem = next(p.name.split(".")[0] for p in (report.parent / "report_files").iterdir() if p.name.startswith("checks"))
    assert distance(blurred, f"{stem}.before.jpg") < distance(blurred, f"{stem}.after.jpg")
    assert distance(restored, f"{stem}.after.jpg") < distance(restored, f"{stem}.before.jpg")

    page.keyboard.press("End")
    flip.click()  # the toggle: all restored ...
    assert flip.get_attribute("aria-pressed") == "true"
    assert np.abs(_shot(view) - restored).mean() < np.abs(_shot(view) - blurred).mean()
    flip.click()  # ... and back to all blurred
    assert flip.get_attribute("aria-pressed") == "false"
    assert np.abs(_shot(view) - blurred).mean() < np.abs(_shot(view) - restored).mean()
    assert page.problems == []


def test_filter_by_status_and_sort_by_time(page):
    page.locator(".pill[data-filter=failed]").click()
    assert page.locator(".card:visible").count() == 1
    assert page.locator(".card:visible").get_attribute("data-status") == "failed"
    page.locator(".pill[data-filter=restored]").click()
    assert page.locator(".card:visible").count() == 2
    page.locator(".pill[data-filter=all]").click()
    assert page.locator(".card:visible").count() == 3
    page.select_option("#sort", "slow")
    seconds = [float(s) for s in page.locator(".card").evaluate_all("cs => cs.map(c => c.dataset.seconds)")]
    assert seconds == sorted(seconds, reverse=True)
    page.select_option("#sort", "name")
    names = page.locator(".card").evaluate_all("cs => cs.map(c => c.dataset.name)")
    assert names == ["checks.png", "colour.jpg", "zz-broken.png"]
    assert page.problems == []


def test_screenshots_laptop_and_phone(page, tmp_path):
    _load_everything(page)
    laptop = tmp_path / "report-laptop.png"
    page.screenshot(path=str(laptop), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone's width
    phone = tmp_path / "report-phone.png"
    page.screenshot(path=str(phone), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than a phone: no sideways scrolling
    for path in (laptop, phone):
        with Image.open(path) as im:
            assert im.width in (1280, 390) and im.height > 600
    shutil.copyfile(laptop, SCREENSHOT)
    shutil.copyfile(phone, SCREENSHOT.replace(".png", "_phone.png"))
    assert page.problems == []
