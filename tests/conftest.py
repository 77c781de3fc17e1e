"""Shared fixtures of the test suite."""

import numpy as np
import pytest

# OMP_WAIT_POLICY=PASSIVE (GNU OpenMP threads sleep between parallel regions instead of spinning)
# is set by deblur/_kernels_jit.py at import, for the tests as for users; see the measurement there.


@pytest.fixture
def rng():
    """A fresh seeded generator per test, so tests do not depend on their order."""
    return np.random.default_rng(20240611)
