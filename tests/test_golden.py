"""End-to-end quality floor on the bundled samples (``sample_images/``).

Each sample is restored through the public front door with default options
and its PSNR against the sharp original must stay within ``margin_db`` of the
figure recorded in ``tests/golden.json``: a change that costs quality fails
here, not only in a benchmark nobody ran. The samples are small (at most
384x256), so the five restores take about 1.5 s together.
"""

import json
import pathlib

import numpy as np
import pytest
from PIL import Image

import deblur

ROOT = pathlib.Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_images"
GOLDEN = json.loads((pathlib.Path(__file__).with_name("golden.json")).read_text(encoding="utf-8"))
MARGIN = GOLDEN["margin_db"]


def _read(name, kind):
    return np.asarray(Image.open(SAMPLES / f"{name}.{kind}.png"))


def psnr(image, reference):
    """PSNR in dB of two 8-bit images, as floats in [0, 1]."""
    err = image.astype(np.float64) / 255.0 - reference.astype(np.float64) / 255.0
    return 10.0 * np.log10(1.0 / np.mean(err**2))


def _restore(name, psf):
    blurred, sharp = _read(name, "blurred"), _read(name, "sharp")
    restored = deblur.restore(blurred, psf, channel_axis=-1 if blurred.ndim == 3 else None)
    assert restored.shape == blurred.shape and restored.dtype == blurred.dtype == np.uint8
    return psnr(blurred, sharp), psnr(restored, sharp)


def test_every_sample_has_a_golden_figure():
    names = sorted(p.name[: -len(".blurred.png")] for p in SAMPLES.glob("*.blurred.png"))
    assert names == sorted(GOLDEN["known_psf"])


@pytest.mark.parametrize("name", sorted(GOLDEN["known_psf"]))
def test_known_psf_restore_keeps_its_psnr(name):
    figures = GOLDEN["known_psf"][name]
    before, after = _restore(name, str(SAMPLES / f"{name}.psf.png"))
    assert before == pytest.approx(figures["blurred"], abs=5e-3)  # the sample itself did not change
    assert after >= figures["restored"] - MARGIN, f"{name}: {after:.3f} dB, recorded {figures['restored']:.3f} dB"


@pytest.mark.parametrize("name", sorted(GOLDEN["estimated_psf"]))
def test_blind_restore_is_no_worse_than_the_input_and_keeps_its_psnr(name):
    figures = GOLDEN["estimated_psf"][name]
    before, after = _restore(name, "estimate")
    assert after > before
    assert after >= figures["restored"] - MARGIN, f"{name}: {after:.3f} dB, recorded {figures['restored']:.3f} dB"
