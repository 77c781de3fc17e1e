"""The Numba decorators of deblur's kernels, and how their calls take turns.

Every compiled loop of :mod:`deblur._kernels` (its ``_kernels_*`` modules) is
made by :func:`njit_serial` or :func:`njit_parallel`, with the flags of
:mod:`deblur._config`; importing this module first also sets GNU OpenMP's
wait policy before any parallel call.
"""

import functools
import os
import threading

# GNU OpenMP (the 'omp' threading layer of Numba's Linux wheels) spins while waiting for work by
# default. Measured on 2 cores, two processes each restoring at once (a batch with --jobs 2, a CI
# runner): 30 iterations on 512x512 took 0.8-2.9 s spinning against 0.11-0.34 s passive, and 40
# small 96x96 restores 9-60 s against 0.4-1.3 s; alone, 1024x1024 ran as fast either way (0.28-0.37
# s). It must be set before the OpenMP runtime loads (the first parallel call), so it is set here,
# once, and inherited by child processes; a user's own setting wins. Other layers ignore it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402  (after the environment is set)

from . import _config  # noqa: E402

# error_model="numpy": a division by zero gives inf/nan instead of raising,
# which drops the per-element zero test that kept every loop with a division
# (the penalties, the preconditioner's multiplier) from vectorising.
_jit = dict(cache=_config.CACHE, nogil=True, fastmath=_config.FASTMATH, error_model="numpy")
njit_serial = numba.njit(**_jit)

# --- thread safety ------------------------------------------------------------------
# The kernels release the GIL, so several Python threads may call them at once. Numba runs
# the parallel ones on its threading layer, chosen at the first parallel call: TBB, else
# OpenMP, else 'workqueue' (or what NUMBA_THREADING_LAYER names). TBB and OpenMP take
# concurrent calls; 'workqueue', the only layer always present (macOS on ARM, Linux without
# libgomp, no `pip install tbb`), aborts the process on them ("Terminating: Nested parallel
# kernel launch detected"). So calls into the parallel kernels take turns behind one lock
# until the layer is known, and go on taking turns only if it is 'workqueue'.
# tests/test_threads.py checks this under each layer this machine has.
_launch_lock = threading.Lock()
_serialise = None  # None: layer not loaded yet; then True for 'workqueue', False otherwise


def _layer_needs_turns():
    if numba.config.DISABLE_JIT:  # plain Python loops: no threading layer at all
        return False
    try:
        return numba.threading_layer() == "workqueue"
    except ValueError:  # not loaded yet
        return None


def njit_parallel(function):
    """``numba.njit(parallel=True)``, called behind :data:`_launch_lock` when the
    threading layer cannot take concurrent calls (see above)."""
    kernel = numba.njit(parallel=True, **_jit)(function)

    @functools.wraps(function)
    def call(*args, **kwargs):
        global _serialise
        if _serialise is False:
            return kernel(*args, **kwargs)
        with _launch_lock:
            try:
                return kernel(*args, **kwargs)
            finally:
                if _serialise is None:
                    _serialise = _layer_needs_turns()

    call.dispatcher = kernel  # the compiled function itself (signatures, inspect_types, ...)
    return call

