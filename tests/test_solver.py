"""GradientDescent through deblur.solve: the minimiser, back-off, monotonicity, stochastic variants, stopping."""

import math
import warnings

import numpy as np
import pytest

import deblur
import naive
from deblur import psf
from deblur.operators import BlurOperator
from deblur.regularizers import make_regularizer
from deblur.schedules import step_size

LAM = 0.05
K5 = psf.gaussian(1.0, size=5)
TIKHONOV = dict(regularizer="tikhonov", weight=LAM, clip=False, precision="float64", tol=None)


@pytest.fixture(scope="module")
def tikhonov_problems():
    """Per boundary: a 16x16 observation and the exact minimiser by the dense normal equations."""
    cases = {}
    for boundary in ("periodic", "reflect", "valid"):
        y = naive.observe(naive.scene((16, 16)), K5, boundary, noise=0.01)
        x_star = naive.tikhonov_solution(K5, y, LAM, boundary)
        cases[boundary] = (y, x_star)
    return cases


def textbook_lipschitz(kernel, frame, boundary, regularizer, weight, eps=None):
    """L = ||A||^2 + weight * curvature(R), computed without the solver."""
    reg = make_regularizer(regularizer, eps=eps)
    return BlurOperator(kernel, frame, boundary, np.float64).lipschitz + weight * reg.curvature


def test_naive_tikhonov_solution_is_the_minimiser(tikhonov_problems, rng):
    """The reference itself: no nearby point has a lower cost."""
    for boundary, (y, x_star) in tikhonov_problems.items():
        best = naive.cost(x_star, K5, y, boundary, "tikhonov", LAM)
        for _ in range(5):
            moved = x_star + 1e-3 * rng.standard_normal(x_star.shape)
            assert naive.cost(moved, K5, y, boundary, "tikhonov", LAM) > best


@pytest.mark.parametrize("preconditioner", ["none", "fourier"])
@pytest.mark.parametrize("boundary, atol", [("periodic", 1e-8), ("reflect", 1e-8), ("valid", 1e-6)])
def test_reaches_the_closed_form_tikhonov_solution(tikhonov_problems, boundary, atol, preconditioner):
    y, x_star = tikhonov_problems[boundary]
    result = deblur.solve(y, K5, boundary=boundary, max_num_iter=300, preconditioner=preconditioner, **TIKHONOV)
    assert result.image.dtype == np.float64
    expected = naive.crop_to_frame(x_star, y.shape, K5.shape, boundary)
    np.testing.assert_allclose(result.image, expected, rtol=0, atol=atol)
    final = result.history["cost"][-1]
    assert final == pytest.approx(naive.cost(x_star, K5, y, boundary, "tikhonov", LAM), rel=1e-8)


COMBINATIONS = [(s, m) for s in ("auto", "constant", "bb", "armijo") for m in ("none", "heavy-ball", "nesterov")]


@pytest.mark.parametrize("schedule, momentum", COMBINATIONS)
def test_every_step_rule_and_momentum_makes_progress(tikhonov_problems, schedule, momentum):
    """Whatever the rule, 300 iterations end near the minimiser and far below the starting cost."""
    y, x_star = tikhonov_problems["periodic"]
    lr = 0.5 if schedule == "constant" else None
    result = deblur.solve(
        y, K5, boundary="periodic", schedule=schedule, momentum=momentum, lr=lr,
        max_num_iter=300, preconditioner="none", **TIKHONOV,
    )  # fmt: skip
    cost = result.history["cost"]
    assert cost[-1] < 0.9 * cost[0]
    np.testing.assert_allclose(result.image, x_star, atol=1e-3)


@pytest.mark.parametrize("boundary", ["periodic", "valid"])
@pytest.mark.parametrize("preconditioner", ["none", "fourier"])
def test_armijo_with_nesterov_never_ends_above_the_initial_cost(boundary, preconditioner):
    """Armijo's test is made at the extrapolated point: momentum must still not run away (it once did)."""
    y = naive.observe(naive.scene((16, 16)), K5, boundary)
    result = deblur.solve(
        y, K5, boundary=boundary, schedule="armijo", momentum="nesterov", preconditioner=preconditioner,
        max_num_iter=50, **{**TIKHONOV, "weight": 0.01},
    )  # fmt: skip
    cost = result.history["cost"]
    assert np.all(np.isfinite(cost)) and cost[-1] < cost[0]


@pytest.mark.parametrize("schedule", ["auto", "bb", "armijo"])
def test_plain_descent_converges_tightly_in_float64(tikhonov_problems, schedule):
    """Armijo once stalled at ~1e-4 here: its rounding slack was 1e-5 relative whatever the precision."""
    y, x_star = tikhonov_problems["periodic"]
    result = deblur.solve(
        y, K5, boundary="periodic", schedule=schedule, momentum="none", max_num_iter=300, preconditioner="none",
        **TIKHONOV,
    )  # fmt: skip
    np.testing.assert_allclose(result.image, x_star, atol=1e-8)


# --- back-off --------------------------------------------------------------------------------------


@pytest.mark.parametrize("preconditioner", ["none", "fourier"])
def test_divergent_step_warns_backs_off_and_still_descends(preconditioner):
    y = naive.observe(naive.scene((24, 24)), psf.gaussian(1.0), "valid")
    with pytest.warns(deblur.StepSizeWarning, match=r"lr=10 is above the stability limit 2/L = "):
        result = deblur.solve(
            y, psf.gaussian(1.0), lr=10.0, momentum="none", regularizer="tv", weight=0.01,
            max_num_iter=30, tol=None, preconditioner=preconditioner,
        )  # fmt: skip
    lipschitz = result.settings["lipschitz"][0]
    if preconditioner == "none":
        expected = textbook_lipschitz(psf.gaussian(1.0), y.shape, "valid", "tv", 0.01)
        assert lipschitz == pytest.approx(expected, rel=1e-12)
    limit = 2.0 / lipschitz
    assert 10.0 > limit
    events = result.events
    assert events, "a step 45x above the limit must be backed off"
    assert (events[0].iteration, events[0].old_step, events[0].new_step) == (1, 10.0, 5.0)
    for event in events:
        assert isinstance(event, deblur.BackoffEvent)
        assert event.new_step == pytest.approx(event.old_step / 2, rel=1e-15)
        assert event.stability_limit == pytest.approx(limit, rel=1e-12)
        assert event.reason in ("cost rose", "non-finite cost")
        assert "2/L" in event.describe() and "halved" in event.describe()
    assert all(b.iteration >= a.iteration for a, b in zip(events, events[1:]))
    # every later step uses the halved size (the last history row is the final image: no step)
    steps = result.history["step"][:-1]
    assert steps[0] == 10.0 and steps[-1] == pytest.approx(events[-1].new_step)
    cost = result.history["cost"]
    assert np.all(np.isfinite(cost))
    assert cost[-1] < cost[0]


def test_warning_is_not_issued_at_or_below_the_limit():
    y = naive.observe(naive.scene((16, 16)), K5, "valid")
    limit = 2.0 / textbook_lipschitz(K5, y.shape, "valid", "tikhonov", LAM)
    with warnings.catch_warnings():
        warnings.simplefilter("error", deblur.StepSizeWarning)
        result = deblur.solve(
            y, K5, lr=0.99 * limit, momentum="none", preconditioner="none", max_num_iter=8, **TIKHONOV
        )
    # below 2/L plain gradient descent descends (f(x - eta g) <= f(x) - eta (1 - eta L / 2) |g|^2):
    # no back-off, every step of the requested size, the cost falling at every iteration
    assert result.events == []
    assert np.all(result.history["step"][:-1] == pytest.approx(0.99 * limit, rel=1e-12))
    assert np.all(np.diff(result.history["cost"]) < 0)


def test_non_finite_cost_backs_off():
    y = naive.observe(naive.scene((16, 16)), K5, "periodic")
    with pytest.warns(deblur.StepSizeWarning):
        result = deblur.solve(
            y, K5, boundary="periodic", lr=1e30, momentum="none", regularizer="none", weight=0,
            clip=False, precision="float32", preconditioner="none", max_num_iter=5,
        )  # fmt: skip
    assert result.events and result.events[0].reason == "non-finite cost"
    # what comes back is a finite image no worse than the start, not the overflowed iterate
    assert np.all(np.isfinite(result.image))
    assert naive.cost(result.image, K5, y, "periodic", "none", 0) <= result.history["cost"][0] * (1 + 1e-5)


@pytest.mark.parametrize("clip", [True, False])
def test_a_divergent_last_step_is_not_returned(clip):
    """The last step is checked too: an uphill final step once returned an image of cost 7e55."""
    y = naive.observe(naive.scene((16, 16)), K5, "periodic")
    with pytest.warns(deblur.StepSizeWarning):
        result = deblur.solve(
            y, K5, boundary="periodic", lr=1e30, momentum="none", regularizer="none", weight=0,
            clip=clip, precision="float64", preconditioner="none", max_num_iter=5,
        )  # fmt: skip
    cost = result.history["cost"]
    assert np.all(np.isfinite(cost)) and cost[-1] <= cost[0]
    assert naive.cost(result.image, K5, y, "periodic", "none", 0) <= cost[0] * (1 + 1e-12)


MONOTONE_CASES = [
    (b, r, w)
    for b in ("valid", "reflect", "periodic")
    for r, w in (("tv", 0.01), ("hyper-laplacian", 0.01), ("tikhonov", 0.01), ("none", 0.0))
]


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("boundary, regularizer, weight", MONOTONE_CASES)
def test_cost_never_rises_for_steps_up_to_one_over_l(boundary, regularizer, weight, precision):
    """Plain gradient descent (no momentum, no preconditioner) with eta = 1/L and 0.5/L."""
    kernel = psf.motion(5, 30)
    y = naive.observe(naive.scene((20, 20)), kernel, boundary, noise=0.02)
    lipschitz = textbook_lipschitz(kernel, y.shape, boundary, regularizer, weight)
    slack = 1e-12 if precision == "float64" else 1e-6
    for lr in (None, 0.5 / lipschitz):  # None: the 'auto' schedule, eta = 1/L
        result = deblur.solve(
            y, kernel, boundary=boundary, regularizer=regularizer, weight=weight, lr=lr, momentum="none",
            preconditioner="none", precision=precision, max_num_iter=40, tol=None,
        )  # fmt: skip
        assert result.events == []
        cost = result.history["cost"]
        assert np.all(np.diff(cost) <= slack * cost[0]), np.diff(cost).max()
        assert cost[-1] < cost[0]
        if lr is None:
            assert result.history["step"][:-1] == pytest.approx(1.0 / lipschitz, rel=1e-12)


@pytest.mark.parametrize(
    "boundary, clip",
    [
        ("valid", False),
        ("valid", True),
        ("periodic", False),
        ("reflect", False),
    ],
)
def test_preconditioned_cost_never_rises_for_eta_one_over_l(boundary, clip):
    """In the preconditioner's metric L = max(||A||^2, 1), so eta = 1/L never raises the cost for the
    models P matches ('valid' with its padded grid, 'periodic' on the frame grid, 'reflect' in the
    cosine basis for a symmetric kernel). With clip=True the pixels the box holds leave the
    preconditioned step and the step is searched along the projection arc: no rise either.
    """
    kernel = psf.gaussian(1.5)
    y = naive.observe(naive.scene((24, 24)), kernel, boundary)
    result = deblur.solve(
        y, kernel, boundary=boundary, regularizer="none", weight=0, momentum="none", clip=clip,
        preconditioner="fourier", precision="float64", max_num_iter=30, tol=None,
    )  # fmt: skip
    cost = result.history["cost"]
    assert result.events == []
    assert np.all(np.diff(cost) <= 1e-12 * cost[0])


# --- schedules inside the solver ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule, decay", [("exponential", 0.9), ("inverse-time", 0.3), ("cosine", 0.1), ("step", 0.5)]
)
def test_solver_uses_the_schedule_step_by_step(schedule, decay):
    y = naive.observe(naive.scene((16, 16)), K5, "reflect")
    lipschitz = textbook_lipschitz(K5, y.shape, "reflect", "tikhonov", LAM)
    lr = 0.9 / lipschitz
    result = deblur.solve(
        y, K5, boundary="reflect", schedule=schedule, decay=decay, lr=lr, momentum="none",
        preconditioner="none", max_num_iter=12, **TIKHONOV,
    )  # fmt: skip
    assert result.events == [] and result.iterations == 12
    expected = [step_size(schedule, t, lr, decay, horizon=12) for t in range(12)]
    np.testing.assert_allclose(result.history["step"][:-1], expected, rtol=1e-12)
    assert result.settings["schedule"] == schedule and result.settings["decay"] == decay


def test_lr_with_the_auto_schedule_means_a_constant_step():
    y = naive.observe(naive.scene((16, 16)), K5, "reflect")
    result = deblur.solve(y, K5, lr=0.25, momentum="none", preconditioner="none", max_num_iter=5, **TIKHONOV)
    assert result.settings["schedule"] == "constant"
    np.testing.assert_allclose(result.history["step"][:-1], 0.25)


# --- stochastic and minibatch -----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["stochastic", "minibatch"])
def test_seeded_variants_are_deterministic(variant):
    y = naive.observe(naive.scene((70, 70)), psf.gaussian(1.0), "valid")  # 3x3 tiles of 32 px

    def run(seed):
        return deblur.solve(y, psf.gaussian(1.0), variant=variant, seed=seed, weight=0.001, max_num_iter=6, tol=None)

    first, again, other = run(7), run(7), run(8)
    np.testing.assert_array_equal(first.image, again.image)
    np.testing.assert_array_equal(first.history["cost"], again.history["cost"])
    assert np.abs(first.image - other.image).max() > 1e-4
    assert first.settings["variant"] == variant and first.settings["seed"] == 7


def test_full_variant_ignores_the_seed():
    y = naive.observe(naive.scene((24, 24)), K5, "valid")
    a = deblur.solve(y, K5, seed=1, max_num_iter=5)
    b = deblur.solve(y, K5, seed=2, max_num_iter=5)
    np.testing.assert_array_equal(a.image, b.image)


def test_stochastic_gradient_with_inverse_time_decay_approaches_the_full_batch_answer():
    kernel = psf.gaussian(1.0)
    y = naive.observe(naive.scene((24, 24)), kernel, "reflect")
    common = dict(boundary="reflect", regularizer="tikhonov", weight=LAM, clip=False, precision="float64", tol=None)
    full = deblur.solve(y, kernel, max_num_iter=400, **common).image
    start = np.linalg.norm(y - full)
    distances = []
    for n in (10, 40, 160):
        run = deblur.solve(
            y, kernel, variant="stochastic", seed=3, schedule="inverse-time", momentum="none",
            preconditioner="none", batch_fraction=0.5, max_num_iter=n, **common,
        )  # fmt: skip
        distances.append(np.linalg.norm(run.image - full) / start)
    assert distances[0] > distances[1] > distances[2]
    assert distances[2] < 0.1


# --- stopping and the record --------------------------------------------------------------------------------


def test_stop_reasons():
    y = naive.observe(naive.scene((24, 24)), K5, "valid")
    easy = dict(regularizer="tikhonov", weight=LAM)
    by_tol = deblur.solve(y, K5, tol=1e-3, max_num_iter=500, **easy)
    assert by_tol.stop_reason == "tol" and 10 <= by_tol.iterations < 500
    by_max = deblur.solve(y, K5, tol=None, max_num_iter=7, **easy)
    assert by_max.stop_reason == "max_iter" and by_max.iterations == 7 and len(by_max.history) == 8
    by_gtol = deblur.solve(y, K5, tol=None, gtol=0.05, max_num_iter=500, **easy)
    assert by_gtol.stop_reason == "gtol" and by_gtol.iterations < 500
    g = by_gtol.history["grad_norm"]
    g = g[np.isfinite(g)]  # the final image's row has no gradient
    assert g[-1] <= 0.05 * g[0] < g[-2]
    by_time = deblur.solve(y, K5, tol=None, time_limit=1e-9, max_num_iter=100_000, **easy)
    assert by_time.stop_reason == "time_limit" and 1 <= by_time.iterations < 100_000


def test_callback_sees_every_iteration_and_can_stop():
    y = naive.observe(naive.scene((24, 24)), K5, "valid")
    seen = []

    def callback(state):
        seen.append((state.iteration, state.step, state.image.shape, state.image.copy()))
        return state.iteration >= 4

    result = deblur.solve(y, K5, callback=callback, max_num_iter=50, tol=None, precision="float64")
    assert result.stop_reason == "callback" and result.iterations == 4
    assert [s[0] for s in seen] == [1, 2, 3, 4]
    np.testing.assert_allclose([s[1] for s in seen], result.history["step"][:4])
    assert all(s[2] == y.shape for s in seen)
    np.testing.assert_array_equal(seen[-1][3], result.image)
    assert not np.array_equal(seen[0][3], seen[1][3])


@pytest.mark.parametrize("momentum", ["none", "nesterov"])
def test_callback_cost_is_measured_where_the_last_gradient_was_taken(momentum):
    """State.cost (documented): the cost at the point of the last step's gradient, i.e. history row k-1;
    without momentum that is the previous image, so the costs can be recomputed from the images."""
    y = naive.observe(naive.scene((16, 16)), K5, "periodic")
    states = []
    result = deblur.solve(
        y, K5, boundary="periodic", momentum=momentum, max_num_iter=4,
        callback=lambda state: states.append((state.iteration, state.cost, state.image.copy())), **TIKHONOV,
    )  # fmt: skip
    np.testing.assert_allclose([s[1] for s in states], result.history["cost"][:4], rtol=1e-12)
    if momentum == "none":
        previous = [y] + [s[2] for s in states[:-1]]
        for (_, cost, _), image in zip(states, previous):
            assert cost == pytest.approx(naive.cost(image, K5, y, "periodic", "tikhonov", LAM), rel=1e-10)


def test_zero_iterations_return_the_observation():
    y = naive.observe(naive.scene((12, 12)), K5, "valid")
    for boundary in ("valid", "reflect", "periodic"):
        result = deblur.solve(y, K5, boundary=boundary, max_num_iter=0, clip=False, precision="float64")
        np.testing.assert_array_equal(result.image, y)
        assert result.iterations == 0 and len(result.history) == 1


@pytest.mark.parametrize("boundary", ["reflect", "periodic"])
@pytest.mark.parametrize("regularizer, eps", [("tikhonov", None), ("tv", 0.05), ("hyper-laplacian", 0.05)])
def test_history_cost_is_the_exact_cost_of_the_returned_image(boundary, regularizer, eps):
    """Where the domain is the frame, the reported cost can be recomputed from the output by scipy."""
    y = naive.observe(naive.scene((16, 16)), K5, boundary)
    result = deblur.solve(
        y, K5, boundary=boundary, regularizer=regularizer, eps=eps, weight=0.02, precision="float64", max_num_iter=15
    )
    h = result.history
    reg = make_regularizer(regularizer, eps=eps)
    expected = naive.cost(result.image, K5, y, boundary, regularizer, 0.02, reg.eps, reg.p)
    assert h["cost"][-1] == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(h["data"] + h["regularizer"], h["cost"], rtol=1e-12)
    assert h["cost"][0] == pytest.approx(naive.cost(y, K5, y, boundary, regularizer, 0.02, reg.eps, reg.p), rel=1e-10)
    assert h["cost"][-1] < h["cost"][0]
    assert math.isnan(h["step"][-1]) and np.all(h["step"][:-1] > 0)  # the final row: no step taken


# --- the box with a preconditioner: descent, the best iterate, no back-off by default -------------------


def _text_page(seed=0):
    """Dark strokes on white paper (about half the pixels at the box's top), lightly blurred, 1 % noise."""
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(seed)
    page = np.ones((72, 72))
    for r in range(6, 66, 12):
        for c in range(4, 66, 7):
            if rng.random() < 0.7:
                page[r : r + 6, c : c + 2] = 0.1
    blurred = fftconvolve(page, psf.gaussian(0.7), mode="same")
    return np.clip(blurred + 0.01 * rng.standard_normal(page.shape), 0.0, 1.0)


def _rough_kernel_problem(name="horse"):
    """A real-photo failure in small: most pixels at the box's bounds, a 15-px motion kernel.

    Before the fix the cost climbed back here (horse: 49.4 -> 60.6 with Nesterov and 7 back-offs;
    checkerboard: 189 -> 179 -> 189).
    """
    from skimage import data

    image = np.asarray(getattr(data, name)(), dtype=float)
    image = image / image.max()
    crop = image[::2, ::2][:128, :128] if name == "horse" else image[:100, :100]
    return np.ascontiguousarray(crop), psf.motion(15, 30)


def test_preconditioned_step_under_the_box_is_a_descent_step():
    """Without momentum the cost never rises and nothing backs off (8 back-offs before the fix)."""
    y, kernel = _rough_kernel_problem()
    result = deblur.solve(y, kernel, momentum="none", clipped="ignore", tol=None)
    cost = result.history["cost"]
    assert result.events == []
    assert np.all(np.diff(cost) <= 1e-5 * cost[0])


@pytest.mark.parametrize("name", ["horse", "checkerboard"])
@pytest.mark.parametrize("momentum", ["nesterov", "heavy-ball"])
def test_solver_returns_the_best_iterate_it_measured(momentum, name):
    """The returned image's cost (the history's last row, measured on it) is about the lowest measured.

    (Extrapolated points outside the box may be measured lower; they are not images the run may return.)
    """
    y, kernel = _rough_kernel_problem(name)
    result = deblur.solve(y, kernel, momentum=momentum, clipped="ignore")
    final = result.history["cost"][-1]
    # every iterate the solver measured in the box was at least as costly as the one returned
    assert final <= result.history["cost"][0]
    assert final <= np.min(result.history["cost"]) * (1 + 2e-3)
    assert result.image.min() >= 0.0 and result.image.max() <= 1.0


def test_guard_returns_the_best_point_when_the_last_steps_climbed():
    """A step size far too large (user's lr) climbs; the run still returns the best image it measured."""
    y, kernel = _rough_kernel_problem()
    with pytest.warns(deblur.StepSizeWarning):
        result = deblur.solve(y, kernel, lr=50.0, momentum="none", max_num_iter=8, tol=None, preconditioner="none")
    cost = result.history["cost"]
    assert cost[-1] <= np.min(cost[:-1]) * (1 + 1e-6)


@pytest.mark.parametrize("clipped", ["ignore", "keep"])
@pytest.mark.parametrize("kernel", [psf.motion(15, 30), psf.gaussian(2.5), psf.disk(4)])
def test_default_runs_do_not_back_off(clipped, kernel):
    y = _rough_kernel_problem()[0]
    result = deblur.solve(y, kernel, clipped=clipped)
    assert result.events == []
    colour = np.stack([y, 0.9 * y, np.clip(1.1 * y, 0, 1)], axis=-1)
    result = deblur.solve(colour, kernel, channel_axis=-1, clipped=clipped)
    assert result.events == []


def test_step_size_warning_only_when_the_user_set_lr():
    y, kernel = _rough_kernel_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error", deblur.StepSizeWarning)
        deblur.solve(y, kernel, clipped="ignore")
    with pytest.warns(deblur.StepSizeWarning):
        deblur.solve(y, kernel, lr=10.0, max_num_iter=3)


def test_cli_default_restore_never_mentions_lr(tmp_path):
    """The back-off report (which tells the user to lower --lr) does not appear on a default run."""
    from click.testing import CliRunner

    from deblur.cli import main

    y, kernel = _rough_kernel_problem()
    from PIL import Image

    src, out, k = tmp_path / "in.png", tmp_path / "out.png", tmp_path / "k.npy"
    Image.fromarray(np.round(255 * y).astype(np.uint8)).save(src)
    np.save(k, kernel)
    res = CliRunner().invoke(main, ["restore", str(src), "--psf", str(k), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "smaller --lr" not in res.output and "step size was too large" not in res.output


def test_default_nesterov_iterates_never_rise_and_keep_their_momentum():
    """Monotone FISTA: no iterate's cost is above the last one's, and a rejected candidate restarts nothing.

    A saturated scene and a light weight: the box holds many pixels, and some candidates rise.
    """
    import scipy.signal
    from skimage import color, data

    from deblur.preconditioners import FourierPreconditioner
    from deblur.solver import GradientDescent, Options, Problem

    scene = np.clip(1.4 * color.rgb2gray(data.astronaut())[100:260, 150:310] - 0.1, 0, 1)
    kernel = psf.motion(15, 30)
    y = scipy.signal.convolve2d(scene, kernel, mode="valid")
    y = np.clip(y + 0.005 * np.random.default_rng(0).standard_normal(y.shape), 0, 1).astype(np.float32)
    op = BlurOperator(kernel, y.shape, "valid", np.float32)
    reg = make_regularizer("hyper-laplacian")
    weight = 2e-4
    precond = FourierPreconditioner(kernel, op.domain_shape, weight * reg.curvature, np.float32,
                                    buffer=op.spectral_buffer, kernel_spectrum=op.kernel_spectrum)
    problem = Problem(op, y, reg, weight, (0.0, 1.0), precond)
    run = GradientDescent(problem, op.initial_guess(y), Options(max_num_iter=40, tol=None))
    costs, rejected = [], 0
    while True:
        going = run.step()
        rejected += run._rejected
        costs.append(sum(problem.data_and_reg(run.x, op.forward(run.x))))
        if not going:
            break
    costs = np.array(costs)
    assert rejected > 0
    assert np.all(np.diff(costs) <= 1e-5 * costs[0])
    assert run.restarts == 0 and run.events == []




def _run_with_failing_long_steps(monkeypatch, probe_gap_max):
    """A default run where every step above 0.75/L fails the search; returns (result, tries per iteration, steps taken)."""
    from deblur import _kernels_step, _solver_search, solver

    monkeypatch.setattr(_solver_search, "PROBE_GAP_MAX", probe_gap_max)
    tries = []  # [iteration, step] of each candidate
    descent_step, cost_at = _kernels_step.descent_step, solver.GradientDescent._cost_at

    def recorded(*args):
        tries.append([None, args[2]])
        return descent_step(*args)

    def failing_above(self, candidate, data=None):
        tries[-1][0] = self.iteration
        cost = cost_at(self, candidate, data)
        return 10.0 * cost if tries[-1][1] > 0.75 * self.eta0 else cost

    monkeypatch.setattr(_kernels_step, "descent_step", recorded)
    monkeypatch.setattr(solver.GradientDescent, "_cost_at", failing_above)
    y, kernel = _rough_kernel_problem()
    result = deblur.solve(y, kernel, clipped="ignore", tol=None, max_num_iter=20)
    monkeypatch.undo()
    return result, np.bincount([it for it, _ in tries]).tolist(), [eta for _, eta in tries if eta <= 0.75]


def test_a_failing_doubled_start_is_put_off(monkeypatch):
    """The searched step starts from twice the last one found; when that start fails, it is tried again
    after 1, 2, 4, ... (at most PROBE_GAP_MAX) iterations, and in between the search starts at the step found.

    Every step above 0.75/L is made to fail: the iterates are those of trying the doubled start every
    iteration (PROBE_GAP_MAX = 0, the rule before), bit for bit, with 25 blurs instead of 40.
    """
    before, tries_before, taken_before = _run_with_failing_long_steps(monkeypatch, 0)
    after, tries_after, taken_after = _run_with_failing_long_steps(monkeypatch, 8)
    assert before.events == after.events == []
    assert taken_before == taken_after == [0.5] * 20  # eta0 = 1/L = 1 with the preconditioner
    assert tries_before == [2] * 20
    # the doubled start at iterations 0, 1, 3, 6, 11 (then gaps 2, 4, 8: the next at 20)
    assert [i for i, n in enumerate(tries_after) if n == 2] == [0, 1, 3, 6, 11]
    assert sum(tries_after) == 25
    np.testing.assert_array_equal(after.image, before.image)
    assert after.history["cost"][-1] == before.history["cost"][-1]


def test_the_solver_options_default_to_the_schema():
    """solver.Options has no defaults of its own: each is SolveOptions' (it said 100 iterations and tol 1e-5 once)."""
    from dataclasses import fields

    from deblur.options import SolveOptions
    from deblur.solver import Options

    schema = {f.name: f.default for f in fields(SolveOptions)}
    assert {f.name: f.default for f in fields(Options)} == {f.name: schema[f.name] for f in fields(Options)}
    assert (Options().max_num_iter, Options().tol) == (SolveOptions().max_num_iter, SolveOptions().tol) == (30, 1e-3)


def test_the_split_solver_keeps_its_names():
    """The descent lives in four modules by concern; every name it had stays importable from deblur.solver."""
    from deblur import solver

    before = {"GradientDescent", "Options", "Problem", "State", "ROUNDING_EPS", "NONMONOTONE_WINDOW", "HEAVY_BALL_BETA",
              "MAX_HALVINGS", "BOX_HALVINGS", "TOL_WINDOW", "MINIBATCH_TILE", "ARMIJO_C", "PROBE_GAP_MAX"}
    assert before <= set(dir(solver)) and set(solver.__all__) == before
    assert solver.GradientDescent.__mro__[1:4] == (solver.ObjectiveMixin, solver.StepSearchMixin, solver.StoppingMixin)


# --- the direction's blur from the preconditioner's spectrum (FFT engine) -------------------------------


def _fft_engine_run(monkeypatch, bounds, linear, dtype=np.float64, iterations=25):
    """A Fourier-preconditioned run on the FFT engine ('valid'), the candidates blurred by linearity or afresh."""
    from deblur import _solver_problem, spectral
    from deblur.preconditioners import FourierPreconditioner
    from deblur.solver import GradientDescent, Options, Problem

    kernel = psf.motion(9, 20)
    y = naive.observe(naive.scene((40, 36)), kernel, "valid", noise=0.01)
    op = BlurOperator(kernel, y.shape, "valid", dtype, engine="fft")
    reg = make_regularizer("hyper-laplacian")
    weight = 2e-3
    pre = FourierPreconditioner(kernel, op.domain_shape, weight * reg.curvature, dtype,
                                buffer=op.spectral_buffer, kernel_spectrum=op.kernel_spectrum)
    problem = Problem(op, y.astype(dtype), reg, weight, bounds, pre)
    if not linear:
        monkeypatch.setattr(_solver_problem, "LINEAR_BLURS_MAX", 0)
    forwards = []
    original = spectral.SpectralBuffer.forward
    monkeypatch.setattr(spectral.SpectralBuffer, "forward", lambda self, image: forwards.append(1) or original(self, image))
    run = GradientDescent(problem, op.initial_guess(y), Options(max_num_iter=iterations, tol=None)).run()
    monkeypatch.undo()
    return run, len(forwards), (kernel, y, reg, weight)


@pytest.mark.parametrize("bounds", [None, (-1.0, 2.0)])
def test_the_direction_blurred_by_linearity_takes_the_exact_path_with_fewer_transforms(monkeypatch, bounds):
    """No pixel held or clipped: A z - eta A d is the candidate's blur; the same iterates, one forward
    transform fewer per step, and the reported cost is the returned image's own."""
    linear, n_linear, (kernel, y, reg, weight) = _fft_engine_run(monkeypatch, bounds, linear=True)
    exact, n_exact, _ = _fft_engine_run(monkeypatch, bounds, linear=False)
    assert exact.iteration == linear.iteration == 25
    np.testing.assert_allclose(linear.history["cost"], exact.history["cost"], rtol=1e-9)
    np.testing.assert_allclose(linear.x, exact.x, atol=1e-9)
    assert n_linear <= n_exact - 20
    assert linear.problem.operator.spectral_buffer._spare is not None
    linear.release()  # the kept spectrum goes with the work arrays
    assert linear.problem.operator.spectral_buffer._spare is None
    expected = naive.cost(linear.x, kernel, y, "valid", "hyper-laplacian", weight, reg.eps, reg.p)
    assert linear.history["cost"][-1] == pytest.approx(expected, rel=1e-9)


def test_blurs_by_linearity_do_not_drift_from_the_image_in_float32(monkeypatch):
    """80 float32 steps with candidates blurred by linearity (and afresh every 16th): the reported
    final cost is still the returned image's own, to float32 rounding."""
    run, _, (kernel, y, reg, weight) = _fft_engine_run(monkeypatch, None, True, np.float32, iterations=80)
    expected = naive.cost(run.x.astype(float), kernel, y, "valid", "hyper-laplacian", weight, reg.eps, reg.p)
    assert run.history["cost"][-1] == pytest.approx(expected, rel=2e-5)


def test_held_pixels_blur_the_candidate_afresh(monkeypatch):
    """A box that holds pixels: the step is not z - eta d there, so the candidates are blurred afresh."""
    linear, n_linear, _ = _fft_engine_run(monkeypatch, (0.3, 0.7), linear=True, iterations=10)
    exact, n_exact, _ = _fft_engine_run(monkeypatch, (0.3, 0.7), linear=False, iterations=10)
    np.testing.assert_allclose(linear.history["cost"], exact.history["cost"], rtol=1e-12)
    assert n_linear == n_exact
