"""Numba and engine knobs, in one place.

Kernels read these at compile time; nothing else in the package passes
``cache=``/``fastmath=``/``parallel=`` to Numba itself.
"""

# Compiled kernels are cached on disk (``__pycache__``) so only the first run
# after an install pays the compilation.
CACHE = True
# Let LLVM reassociate float sums in the hot loops (vectorised reductions).
# No kernel relies on NaN/Inf propagation: inputs are validated first and the
# solver checks the cost for non-finite values itself.
FASTMATH = {"reassoc", "contract", "arcp", "nsz", "afn"}

# Cost model of the convolution engine, in "tap-passes" (one multiply-add
# per output pixel). An FFT-based convolution of an n-pixel array costs about
# FFT_COST_PER_NLOGN * n * log2(n) tap-passes; measured on a 2-core laptop CPU
# with scipy.fft (see benchmarks/README.md).
FFT_COST_PER_NLOGN = 10.0
# A separable pass has loop overhead a dense pass of the same taps does not.
SEPARABLE_OVERHEAD = 2.0

# Rows handled per parallel work unit in the regulariser kernel; each unit
# recomputes one extra row at its top edge, so larger is cheaper but
# balances load less well.
REG_CHUNK_ROWS = 64
