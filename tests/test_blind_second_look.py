"""The second look: a kernel refused as the scene's texture, estimated again from the edges that stand apart from it."""

import numpy as np
import pytest

from blind_looks import blurred_camera as _blurred_camera, texture_dots
from deblur import psf
from deblur.blind import EstimationRecord, estimate
from deblur.blind.fourier import Domain
from deblur.blind.kernel_step import kernel_moments, select_edges, usefulness
from deblur.blind.support import fit_support


def test_usefulness_is_high_along_a_lone_edge_and_low_in_fine_texture():
    """Xu and Jia's r: an edge alone in its window keeps its gradient; a 2 px checkerboard cancels its own; flat is 0."""
    y = np.zeros((40, 80))
    y[:, 20:] = 1.0  # one vertical step
    yy, xx = np.mgrid[:40, :80]
    y[:, 50:] = ((yy[:, 50:] // 2 + xx[:, 50:] // 2) % 2).astype(float)  # fine texture on the right
    r = usefulness(y, 5)
    assert r[20, 19] > 0.9  # on the step
    assert r[20, 65] < 0.3  # inside the texture
    assert r[20, 5] == 0.0  # flat


def test_usefulness_matches_its_definition_on_random_data(rng):
    """Against a direct sum over each window (zero outside the frame), on forward differences."""
    y = rng.random((12, 14))
    gx = np.zeros_like(y)
    gy = np.zeros_like(y)
    gx[:, :-1] = np.diff(y, axis=1)
    gy[:-1, :] = np.diff(y, axis=0)
    mag = np.hypot(gx, gy)
    pad = lambda a: np.pad(a, 1)  # noqa: E731
    px, py, pm = pad(gx), pad(gy), pad(mag)
    sums = np.array([[(px[i : i + 3, j : j + 3].sum(), py[i : i + 3, j : j + 3].sum(), pm[i : i + 3, j : j + 3].sum()) for j in range(14)] for i in range(12)])
    eps = 1e-3 * sums[..., 2].max() / 9 + 1e-12
    expected = np.hypot(sums[..., 0], sums[..., 1]) / (sums[..., 2] + 9 * eps)
    np.testing.assert_allclose(usefulness(y, 3), expected, rtol=1e-6, atol=1e-9)


def test_no_useful_edge_gives_an_empty_kernel_step_and_returns_at_once():
    """With every latent gradient masked the selection has nothing to lower its threshold to (it used to loop)."""
    gx, gy = select_edges(np.zeros((8, 8)), np.zeros((8, 8)), 0.5)
    assert not gx.any() and not gy.any()
    dom = Domain((20, 20), (5, 5), workers=1)
    x = np.random.default_rng(0).random(dom.shape)
    R, b = kernel_moments(dom, x, dom.embed(np.ones((20, 20))), dom.embed(np.ones((20, 20))), 0.1, useful=np.zeros(dom.shape))
    assert not np.any(np.abs(R) > 1e-9) and not np.any(np.abs(b) > 1e-9)


class _Looks:
    """Stands in for ``estimate_growing``: strokes on all edges; on the useful edges ``second`` (kernel, supports grown through)."""

    def __init__(self, second):
        self.second, self.calls = second, []

    def __call__(self, y, size, opts, mask):
        self.calls.append(opts.useful_edges if opts.kernel_projection == "nonneg" else opts.kernel_projection)
        record = EstimationRecord()
        record.elapsed, record.message = 1.0, "estimated"
        if not opts.useful_edges:
            record.start_support, record.support = 31, 31
            record.growths = [{"support": 31, "touches": False, "size": 31}]
            return texture_dots(), record
        kernel, supports = self.second
        record.start_support, record.support = supports[-1], supports[-1]
        record.growths = [{"support": s, "touches": s != supports[-1], "size": kernel.shape[0]} for s in supports]
        return kernel, record


@pytest.fixture
def shake():
    return fit_support(psf.motion(15, 30), 17)


@pytest.fixture
def halves(monkeypatch):
    """The halves' verdict, set by the test (:func:`halves_agree` itself is tested on a photo below)."""
    import deblur.blind.looks as looks_module

    verdict = {"agree": (True, 0.9)}
    monkeypatch.setattr(looks_module, "halves_agree", lambda *args: verdict["agree"])
    return verdict


def test_a_texture_refusal_gets_a_second_look_that_is_taken_when_it_passes(monkeypatch, rng, shake, halves):
    import deblur.blind.looks as blind_module

    looks = _Looks((shake, [31]))
    monkeypatch.setattr(blind_module, "estimate_growing", looks)
    kernel, record = estimate(_blurred_camera(shake, rng), second_look=True)
    assert looks.calls == [0.0, blind_module.SECOND_LOOK_USEFULNESS]
    assert record.status == "estimated" and np.array_equal(kernel, shake)
    assert record.confidence == 0.75 and "texture" in record.reason and "49 pieces" in record.reason
    assert record.elapsed >= 2.0 and "halves agree: 0.90" in record.message  # both looks counted


def test_a_second_look_the_halves_disagree_on_is_not_taken(monkeypatch, rng, shake, halves):
    """A kernel fitted to the scene depends on which part of it was seen: the first refusal stands, with the halves' word."""
    import deblur.blind.looks as blind_module

    halves["agree"] = (False, 0.31)
    monkeypatch.setattr(blind_module, "estimate_growing", _Looks((shake, [31])))
    kernel, record = estimate(_blurred_camera(shake, rng), second_look=True, sparse_retry=False)
    assert record.status == "fallback" and kernel.shape == (3, 3)
    assert "49 pieces" in record.reason and "disagree on the kernel (0.31)" in record.reason


def test_a_second_look_that_grew_its_support_is_not_taken(monkeypatch, rng, shake, halves):
    """On texture a support grown to fit the kernel was grown by the texture: the first refusal stands."""
    import deblur.blind.looks as blind_module

    grown = fit_support(psf.motion(41, 30), 43)
    monkeypatch.setattr(blind_module, "estimate_growing", _Looks((grown, [31, 47])))
    kernel, record = estimate(_blurred_camera(shake, rng), second_look=True, sparse_retry=False)
    assert record.status == "fallback" and kernel.shape == (3, 3)
    assert "49 pieces" in record.reason and "halves" not in record.reason and record.elapsed == 2.0


@pytest.mark.parametrize(
    "options", [dict(sparse_retry=False), dict(second_look=True, useful_edges=0.4, sparse_retry=False)], ids=["off-by-default", "already-on-useful-edges"]
)
def test_no_second_look_when_switched_off_or_already_taken(monkeypatch, rng, shake, options):
    import deblur.blind.looks as blind_module

    looks = _Looks((shake, [31]))
    monkeypatch.setattr(blind_module, "estimate_growing", looks)
    kernel, record = estimate(_blurred_camera(shake, rng), **options)
    assert looks.calls == [options.get("useful_edges", 0.0)]  # one look, on the edges asked for
    assert record.status == ("estimated" if "useful_edges" in options else "fallback")


def test_a_given_size_gets_no_second_look(monkeypatch, rng, shake):
    """With the size given only an implausible kernel is refused, and the user's size is what is asked for: no second look."""
    import deblur.blind.looks as blind_module

    looks = _Looks((shake, [31]))
    monkeypatch.setattr(blind_module, "estimate_growing", looks)
    kernel, record = estimate(_blurred_camera(shake, rng), size=31, second_look=True, sparse_retry=False)
    assert looks.calls == [0.0] and record.status == "fallback" and kernel.shape == (31, 31)


def test_peak_correlation_is_near_one_for_a_shifted_copy_and_low_for_another_path():
    from deblur.blind.agreement import peak_correlation

    a = fit_support(psf.motion(11, 0), 15)
    assert peak_correlation(a, np.roll(a, (1, 2), axis=(0, 1))) > 0.98  # (the zero-mean frames overlap less)
    assert peak_correlation(a, fit_support(psf.motion(11, 90), 15)) < 0.5
    assert peak_correlation(a, np.full((15, 15), 1 / 225)) == 0.0  # flat: no shape to agree on


def test_the_halves_of_a_shaken_photo_agree_on_its_kernel(rng):
    """A true camera shake is the same in both halves of the frame: the halves' kernels correlate above the bar."""
    from deblur.blind.agreement import MIN_HALVES_CORRELATION, halves_agree
    from deblur.blind.config import BlindOptions

    shake = fit_support(psf.motion(9, 30), 11)
    y = _blurred_camera(shake, rng, n=240)
    agree, correlation = halves_agree(y, shake, BlindOptions(useful_edges=0.5))
    assert agree and correlation >= MIN_HALVES_CORRELATION
    agree, correlation = halves_agree(y[:40], np.zeros((25, 25)), BlindOptions())  # halves too small to hold the kernel
    assert not agree and np.isnan(correlation)
