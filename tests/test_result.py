"""History (JSON/CSV export, merging), back-off events and the quality metrics recorded per iteration."""

import csv
import io
import json
import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import deblur
import naive
from deblur import psf
from deblur.result import HISTORY_COLUMNS, BackoffEvent, History


@pytest.fixture(scope="module")
def easy_run():
    """An easy problem with a reference: mild Gaussian blur, little noise, periodic model."""
    truth = naive.scene((24, 24))
    y = np.clip(naive.observe(truth, psf.gaussian(1.2), "periodic", noise=0.003), 0, 1)
    result = deblur.solve(
        y, psf.gaussian(1.2), boundary="periodic", regularizer="tv", weight=0.002, reference=truth,
        precision="float64", max_num_iter=25, tol=None,
    )  # fmt: skip
    return truth, y, result


def test_history_columns_and_rows(easy_run):
    _, _, result = easy_run
    h = result.history
    assert len(h) == result.iterations + 1 == 26
    for name in HISTORY_COLUMNS:
        assert name in h and h[name].shape == (26,)
    np.testing.assert_array_equal(h["iteration"], np.arange(26))
    assert np.all(np.diff(h["elapsed"]) >= 0)
    assert set(h.as_dict()) == set(HISTORY_COLUMNS)


def test_psnr_and_ssim_are_recorded_and_improve(easy_run):
    truth, y, result = easy_run
    h = result.history
    psnr, ssim = h["psnr"], h["ssim"]
    assert np.all(np.isfinite(psnr)) and np.all(np.isfinite(ssim))
    # iteration 0 is the observation itself, the last row the returned image
    assert psnr[0] == pytest.approx(peak_signal_noise_ratio(truth, y, data_range=1.0), rel=1e-9)
    assert psnr[-1] == pytest.approx(peak_signal_noise_ratio(truth, result.image, data_range=1.0), rel=1e-9)
    assert ssim[-1] == pytest.approx(structural_similarity(truth, result.image, data_range=1.0), rel=1e-9)
    assert psnr[-1] > psnr[0] + 1.0
    assert ssim[-1] > ssim[0]
    assert np.argmax(psnr) > 0


def test_without_reference_metrics_are_nan():
    y = naive.observe(naive.scene((16, 16)), psf.gaussian(1.0), "valid")
    h = deblur.solve(y, "gaussian:sigma=1", max_num_iter=3).history
    assert np.all(np.isnan(h["psnr"])) and np.all(np.isnan(h["ssim"]))
    doc = json.loads(h.to_json())
    assert doc["history"]["psnr"] == [None] * 4


def test_reference_in_integer_units():
    truth = naive.scene((16, 16))
    y8 = np.round(np.clip(naive.observe(truth, psf.gaussian(1.0), "reflect"), 0, 1) * 255).astype(np.uint8)
    ref8 = np.round(truth * 255).astype(np.uint8)
    h = deblur.solve(y8, "gaussian:sigma=1", boundary="reflect", reference=ref8, max_num_iter=2).history
    expected = peak_signal_noise_ratio(ref8 / 255.0, y8.astype(np.float32) / np.float32(255), data_range=1.0)
    assert h["psnr"][0] == pytest.approx(expected, rel=1e-5)


def test_to_json_is_strict_json(easy_run, tmp_path):
    _, _, result = easy_run
    text = result.history.to_json(extra={"psf": "gaussian:sigma=1.2"})
    assert "NaN" not in text
    doc = json.loads(text)
    assert doc["psf"] == "gaussian:sigma=1.2"
    assert set(doc["history"]) == set(HISTORY_COLUMNS)
    cols = doc["history"]
    assert len(cols["cost"]) == 26 and cols["step"][-1] is None  # the final image takes no step
    np.testing.assert_allclose(cols["cost"], result.history["cost"])
    path = tmp_path / "h.json"
    assert result.history.to_json(path) is None
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(result.history.to_json())


def test_to_csv_is_well_formed(easy_run, tmp_path):
    _, _, result = easy_run
    text = result.history.to_csv()
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == HISTORY_COLUMNS
    assert len(rows) == 27 and all(len(r) == len(HISTORY_COLUMNS) for r in rows)
    assert rows[-1][HISTORY_COLUMNS.index("step")] == ""  # NaN is an empty cell
    costs = [float(r[HISTORY_COLUMNS.index("cost")]) for r in rows[1:]]
    assert costs == list(result.history["cost"])  # repr round-trips exactly
    records = list(csv.DictReader(io.StringIO(text)))
    assert float(records[-1]["psnr"]) == result.history["psnr"][-1]
    path = tmp_path / "h.csv"
    result.history.to_csv(path)
    assert path.read_text(encoding="utf-8") == text


def test_history_round_trip_and_merge():
    a, b = History(), History()
    for i in range(3):
        a.append(iteration=i, cost=10.0 - i, data=8.0 - i, regularizer=2.0, step=0.5, grad_norm=3.0, elapsed=0.1 * i)
    for i in range(2):
        b.append(iteration=i, cost=1.0, data=1.0, regularizer=0.0, step=1.5, grad_norm=4.0, elapsed=0.2 * i)
    assert math.isnan(a["psnr"][0])
    merged = History.merge([a, b])
    assert len(merged) == 3
    np.testing.assert_allclose(merged["cost"], [11, 10, 9])  # b's last row carries on
    np.testing.assert_allclose(merged["grad_norm"], 5.0)  # sqrt(3^2 + 4^2)
    np.testing.assert_allclose(merged["iteration"], [0, 1, 2])
    np.testing.assert_allclose(merged["step"], 1.0)
    assert History.merge([a]) is a
    copy = History(a.as_dict())
    np.testing.assert_array_equal(copy["cost"], a["cost"])


def test_colour_history_sums_the_channels():
    image = np.stack([naive.scene((16, 16), seed=s) for s in range(3)], axis=-1)
    common = dict(weight=0.01, max_num_iter=4, tol=None, precision="float64")
    result = deblur.solve(image, "gaussian:sigma=1", channel_axis=-1, color_space="rgb", **common)
    per_channel = [deblur.solve(image[..., c], "gaussian:sigma=1", **common).history for c in range(3)]
    np.testing.assert_allclose(result.history["cost"], sum(h["cost"] for h in per_channel), rtol=1e-12)


def test_merged_psnr_is_the_psnr_of_the_mean_squared_error():
    a, b = History(), History()
    for h, psnr in ((a, 20.0), (b, 30.0)):
        h.append(iteration=0, cost=1.0, data=1.0, regularizer=0.0, step=1.0, grad_norm=1.0, elapsed=0.0,
                 psnr=psnr, ssim=0.5)
    merged = History.merge([a, b])
    assert merged["psnr"][0] == pytest.approx(-10 * np.log10((1e-2 + 1e-3) / 2))


def test_backoff_event_describe():
    event = BackoffEvent(iteration=3, old_step=2.0, new_step=1.0, stability_limit=1.5, reason="cost rose")
    text = event.describe()
    assert "iteration 3" in text and "cost rose" in text and "halved the step to 1" in text
    assert "2/L = 1.5" in text
    assert event.channel == 0


def test_overall_stop_reason_says_converged_only_when_every_part_did():
    from deblur.result import overall_stop_reason

    assert overall_stop_reason(["tol", "tol", "gtol"]) == "tol"
    assert overall_stop_reason(["max_iter", "tol", "tol"]) == "max_iter"
    assert overall_stop_reason(["tol", "time_limit", "max_iter"]) == "time_limit"
    assert overall_stop_reason(["max_iter", "callback"]) == "callback"


def test_every_stop_reason_has_its_words_in_one_table():
    """The solver's, the stopping rules' and the blind fallback's reasons, each worded once (CLI, report)."""
    import re
    from pathlib import Path

    from deblur.result import STOP_WORDS, stop_words

    root = Path(__file__).resolve().parents[1] / "deblur"
    source = "".join(p.read_text() for p in root.rglob("*.py"))
    reasons = set(re.findall(r'stop_reason = "(\w+)"', source)) | {"unchanged"}
    assert reasons and reasons <= set(STOP_WORDS)
    assert stop_words("unchanged") == "left as it was (no usable blur estimate)"
    assert stop_words("no_such_reason") == "stopped (no_such_reason)"
