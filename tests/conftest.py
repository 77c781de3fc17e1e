"""Shared fixtures of the test suite."""

import os

import numpy as np
import pytest

# GNU OpenMP (Numba's 'omp' threading layer) spin-waits between parallel regions by default.
# On a busy machine (parallel CI jobs, other test workers) that makes the many tiny kernel
# launches of these tests 10x slower; passive waiting keeps results identical and the suite
# fast. It must be set before the OpenMP runtime loads, i.e. before the first parallel kernel.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture
def rng():
    """A fresh seeded generator per test, so tests do not depend on their order."""
    return np.random.default_rng(20240611)
