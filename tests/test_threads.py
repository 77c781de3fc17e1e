"""Restoring different images from several threads at once gives the sequential results.

Under each Numba threading layer this machine has: 'workqueue' (always there) aborts the whole
process on concurrent parallel calls unless deblur makes them take turns, so every run is in a
subprocess of its own, where an abort fails the test instead of killing pytest.

Run as a script (``python tests/test_threads.py``) it does the check in this process and exits
non-zero on a mismatch.
"""

import os
import pathlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _jobs():
    import naive
    from deblur import psf

    # one job per engine (sparse taps, separable, FFT) and per boundary, gray and colour
    return [
        (
            naive.observe(naive.scene((40, 36), seed=1), psf.motion(7, 30), "valid"),
            "motion:length=7,angle=30",
            dict(boundary="valid"),
        ),
        (
            naive.observe(naive.scene((32, 44), seed=2), psf.gaussian(1.5), "reflect"),
            "gaussian:sigma=1.5",
            dict(boundary="reflect", regularizer="tv"),
        ),
        (
            naive.observe(naive.scene((36, 36), seed=3), psf.disk(4), "periodic"),
            "disk:radius=4",
            dict(boundary="periodic", regularizer="tikhonov"),
        ),
        (
            np.stack([naive.scene((30, 30), seed=s) for s in (4, 5, 6)], axis=0),
            "box:size=4",
            dict(channel_axis=0, precision="float64", momentum="heavy-ball"),
        ),
    ]


def _run(job):
    import deblur

    image, spec, options = job
    result = deblur.solve(image, spec, weight=0.005, max_num_iter=15, tol=None, **options)
    return result.image, result.history["cost"]


def check_concurrent_restores_match_sequential_ones(rounds=3):
    jobs = _jobs()
    sequential = [_run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=2 * len(jobs)) as pool:
        for _ in range(rounds):
            concurrent = list(pool.map(_run, jobs + jobs))
            for (image, cost), (ref_image, ref_cost) in zip(concurrent, sequential + sequential):
                np.testing.assert_array_equal(image, ref_image)
                np.testing.assert_array_equal(cost, ref_cost)


def _available_layers():
    """The threading layers Numba can load here ('workqueue' always); importing one starts no thread."""
    import importlib

    layers = ["workqueue"]
    for name in ("omp", "tbb"):
        try:
            importlib.import_module(f"numba.np.ufunc.{name}pool")
        except (ImportError, OSError):
            continue
        layers.append(name)
    return layers


@pytest.mark.parametrize("layer", _available_layers())
def test_concurrent_restores_match_sequential_ones(layer):
    env = dict(os.environ, NUMBA_THREADING_LAYER=layer)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    code = (
        "import numba, test_threads; test_threads.check_concurrent_restores_match_sequential_ones();"
        "print('layer', numba.threading_layer())"
    )
    child = subprocess.run(
        [sys.executable, "-c", code],
        cwd=pathlib.Path(__file__).parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, f"exit {child.returncode} under {layer!r}:\n{child.stdout}\n{child.stderr[-3000:]}"
    assert child.stdout.split()[-2:] == ["layer", layer]  # the layer asked for is the one that ran


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    check_concurrent_restores_match_sequential_ones()
    import numba

    print("ok under", numba.threading_layer())
