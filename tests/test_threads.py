"""Restoring different images from several threads at once gives the sequential results."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import deblur
import naive
from deblur import psf

# one job per engine (sparse taps, separable, FFT) and per boundary, gray and colour
JOBS = [
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


def run(job):
    image, spec, options = job
    result = deblur.solve(image, spec, weight=0.005, max_num_iter=15, tol=None, **options)
    return result.image, result.history["cost"]


def test_concurrent_restores_match_sequential_ones():
    sequential = [run(job) for job in JOBS]
    with ThreadPoolExecutor(max_workers=len(JOBS)) as pool:
        for _ in range(2):
            concurrent = list(pool.map(run, JOBS + JOBS))
            for (image, cost), (ref_image, ref_cost) in zip(concurrent, sequential + sequential):
                np.testing.assert_array_equal(image, ref_image)
                np.testing.assert_array_equal(cost, ref_cost)
