"""deblur.plot: the convergence figure is drawn and written whole."""

import math

import pytest
from PIL import Image

from deblur import plot
from deblur.result import BackoffEvent, History


def _history(n=12, reference=False):
    h = History()
    for i in range(n + 1):
        cost = 10.0 * 0.7**i + 1.0
        h.append(
            iteration=i,
            cost=cost,
            data=0.8 * cost,
            regularizer=0.2 * cost,
            step=math.nan if i == 0 else (1.5 if i < 4 else 0.75),
            grad_norm=math.nan if i == 0 else 3.0 * 0.8**i,
            elapsed=0.01 * i,
            psnr=20 + i * 0.5 if reference else math.nan,
            ssim=0.5 + i * 0.03 if reference else math.nan,
        )
    return h


EVENTS = [BackoffEvent(4, 1.5, 0.75, 1.0, "cost rose")]
SETTINGS = {"schedule": "constant", "lr": 1.5, "momentum": "nesterov", "variant": "full", "regularizer": "tv",
            "boundary": "valid", "max_num_iter": 12, "tol": 1e-5, "precision": "float32", "engine": "taps"}


@pytest.mark.parametrize("reference", [False, True])
def test_png_written_and_readable(tmp_path, reference):
    path = tmp_path / "conv.png"
    plot.save_convergence_plot(path, _history(reference=reference), events=EVENTS, title="x.png",
                               settings=SETTINGS, weight=[0.001, 0.002, 0.003], stop_reason="max_iter")
    with Image.open(path) as im:
        assert im.format == "PNG"
        w, h = im.size
    assert w >= 600 and h > w  # panels stacked
    fig = plot.convergence_figure(_history(reference=reference), events=EVENTS)
    assert len([a for a in fig.axes if a.get_ylabel()]) == (5 if reference else 3)


def test_svg_and_pdf(tmp_path):
    plot.save_convergence_plot(tmp_path / "c.svg", _history())
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")
    plot.save_convergence_plot(tmp_path / "c.pdf", _history())
    assert (tmp_path / "c.pdf").read_bytes().startswith(b"%PDF")


def test_custom_writer_gets_bytes():
    got = []
    plot.save_convergence_plot("mem.png", _history(), write=got.append)
    assert got[0].startswith(b"\x89PNG")


def test_title_has_settings_and_outcome():
    fig = plot.convergence_figure(_history(), events=EVENTS, title="in.png", settings=SETTINGS, weight=0.01,
                                  stop_reason="tol")
    text = fig._suptitle.get_text()
    assert "in.png" in text and "schedule=constant" in text and "stopped by tol" in text
    assert "1 step back-off" in text and "weight=0.01" in text


def test_back_offs_in_legend():
    fig = plot.convergence_figure(_history(), events=EVENTS)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("back-off" in t for t in labels)


def test_nan_and_empty_histories_do_not_fail(tmp_path):
    h = History()
    h.append(iteration=0, cost=5.0)
    plot.save_convergence_plot(tmp_path / "one.png", h)
    plot.save_convergence_plot(tmp_path / "empty.png", History())


def test_describe_settings_order_and_auto():
    text = plot.describe_settings({"lr": None, "schedule": "bb", "unrelated": 1}, weight=0.5)
    assert text == "schedule=bb, lr=auto, weight=0.5"
