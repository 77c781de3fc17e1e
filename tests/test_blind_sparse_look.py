"""The sparse look: a kernel refused as the scene's texture, estimated again with its mass on the fewest taps."""

import numpy as np
import pytest

from blind_looks import blurred_camera as _blurred_camera, texture_dots as _dots
from deblur import psf
from deblur.blind import EstimationRecord, estimate
from deblur.blind.kernel_step import kernel_descent
from deblur.blind.support import fit_support


class _Looks:
    """Stands in for ``estimate_growing``: 49 dots with the diffuse kernel step, ``sparse`` with the sparse one."""

    def __init__(self, sparse):
        self.sparse, self.calls = sparse, []

    def __call__(self, y, size, opts, mask):
        self.calls.append(opts.kernel_projection)
        record = EstimationRecord()
        record.elapsed, record.message = 1.0, f"estimated ({opts.kernel_projection})"
        k = _dots() if opts.kernel_projection == "nonneg" else self.sparse
        record.start_support = record.support = k.shape[0]
        record.growths = [{"support": k.shape[0], "touches": False, "size": k.shape[0]}]
        return k, record


@pytest.fixture
def shake():
    return fit_support(psf.motion(15, 30), 17)


def _patch(monkeypatch, sparse):
    import deblur.blind.looks as looks_module

    looks = _Looks(sparse)
    monkeypatch.setattr(looks_module, "estimate_growing", looks)
    return looks


def test_a_shape_refusal_gets_a_sparse_look_that_is_taken_when_it_passes(monkeypatch, rng, shake):
    looks = _patch(monkeypatch, shake)
    kernel, record = estimate(_blurred_camera(shake, rng))
    assert looks.calls == ["nonneg", "simplex"]
    assert record.status == "estimated" and np.array_equal(kernel, shake)
    assert record.confidence == 0.75 and "fewest taps" in record.reason and "49 pieces" in record.reason
    assert "(simplex)" in record.message and "fewest taps" in record.message
    assert record.elapsed >= 2.0  # both looks counted


def test_a_sparse_look_refused_too_leaves_the_photo_with_both_reasons(monkeypatch, rng, shake):
    looks = _patch(monkeypatch, _dots()[:29, :29] / _dots()[:29, :29].sum())
    kernel, record = estimate(_blurred_camera(shake, rng))
    assert looks.calls == ["nonneg", "simplex"]
    assert record.status == "fallback" and kernel.shape == (3, 3)
    assert "49 pieces" in record.reason and "with its mass on the fewest taps too" in record.reason and "pieces" in record.reason.split("too:")[1]
    assert record.elapsed == 2.0


def test_no_sparse_look_when_switched_off_or_already_sparse(monkeypatch, rng, shake):
    looks = _patch(monkeypatch, shake)
    kernel, record = estimate(_blurred_camera(shake, rng), sparse_retry=False)
    assert looks.calls == ["nonneg"] and record.status == "fallback"
    looks = _patch(monkeypatch, shake)
    kernel, record = estimate(_blurred_camera(shake, rng), kernel_projection="simplex")
    assert looks.calls == ["simplex"] and record.status == "estimated" and record.confidence == 1.0


def test_a_plausible_first_look_gets_no_sparse_look(monkeypatch, rng, shake):
    import deblur.blind.looks as looks_module

    calls = []

    def first_is_fine(y, size, opts, mask):
        calls.append(opts.kernel_projection)
        record = EstimationRecord()
        record.elapsed, record.message = 1.0, "estimated"
        record.start_support = record.support = shake.shape[0]
        return shake, record

    monkeypatch.setattr(looks_module, "estimate_growing", first_is_fine)
    kernel, record = estimate(_blurred_camera(shake, rng))
    assert calls == ["nonneg"] and record.status == "estimated" and record.confidence == 1.0


def test_the_simplex_step_puts_the_mass_on_fewer_taps_than_the_diffuse_one(rng):
    """The two kernel models on one problem with a known answer: a white latent (``H = c I``), data from a 5-tap line plus noise.

    Both minimise ``0.5 c ||k||^2 - b.k`` (+ the small Tikhonov term): the diffuse
    step keeps every tap the noise left positive and then rescales, the simplex one
    (whose minimiser is the projection of ``b / c`` onto the simplex) subtracts the
    level that leaves unit mass and cuts what falls below it.
    """
    n, c = 9, 10.0
    truth = np.zeros((n, n))
    truth[4, 2:7] = 0.2
    b = c * (truth + 0.02 * rng.standard_normal((n, n)))
    lags = np.zeros((2 * n - 1, 2 * n - 1))
    lags[n - 1, n - 1] = c  # only the zero lag: H = c I
    diffuse, _ = kernel_descent(lags, b, np.full((n, n), 1.0 / n**2), 0.5, 20, "nonneg")
    sparse, _ = kernel_descent(lags, b, np.full((n, n), 1.0 / n**2), 0.5, 20, "simplex")
    taps = lambda k: int(np.count_nonzero(k > 1e-9))  # noqa: E731
    assert taps(sparse) < 0.75 * taps(diffuse)  # 0.35-0.61 of them over 6 seeds
    assert sparse[4, 2:7].sum() > 0.8 > 0.7 > diffuse[4, 2:7].sum()  # measured over 5 seeds: 0.83-0.91 against 0.61-0.67
