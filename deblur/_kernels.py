"""All Numba-compiled hot loops of deblur, by concern, under one name.

Pure array functions: no validation (callers validate), outputs written in
place into arrays the caller owns. Under ``prange`` each thread writes only
its own rows, so no two threads touch the same element. Each kernel has a
plain numpy/scipy twin in ``tests/naive.py`` that the tests compare against.

The loops live in:

- :mod:`deblur._kernels_jit`: the decorators (``cache=True``, ``nogil=True``,
  the flags of :mod:`deblur._config`), the turns that parallel calls take
  under Numba's 'workqueue' layer, GNU OpenMP's passive wait;
- :mod:`deblur._kernels_blur`: the blur engines' 'valid' convolution and its
  adjoint (taps, separable);
- :mod:`deblur._kernels_penalty`: the regularisers' value and gradient;
- :mod:`deblur._kernels_step`: the solver's fused vector operations, the
  preconditioner's multiplier, the coarse grid's interpolation.

This module re-exports them all (``_kernels.dot``, ``_kernels.REG_TV``, ...).
"""

from ._kernels_blur import conv_valid_separable, conv_valid_taps, corr_full_separable, corr_full_taps
from ._kernels_jit import njit_parallel, njit_serial
from ._kernels_penalty import (
    REG_HYPER_LAPLACIAN,
    REG_NONE,
    REG_TIKHONOV,
    REG_TV,
    penalty_params,
    regularizer_value,
    regularizer_value_grad,
)
from ._kernels_step import (
    blur_along,
    censor_by_mask,
    descent_step,
    diff_dot,
    dot,
    extrapolate,
    free_gradient,
    half_sq_diff,
    masked_half_sq_diff,
    residual_half_sq,
    scale_by_inverse_power,
    scale_by_mask,
    unclipped,
    upsample_linear,
)

__all__ = [
    "njit_parallel", "njit_serial",
    "conv_valid_taps", "corr_full_taps", "conv_valid_separable", "corr_full_separable",
    "REG_NONE", "REG_TIKHONOV", "REG_TV", "REG_HYPER_LAPLACIAN",
    "penalty_params", "regularizer_value_grad", "regularizer_value",
    "extrapolate", "residual_half_sq", "half_sq_diff", "scale_by_mask",
    "censor_by_mask", "masked_half_sq_diff", "free_gradient", "descent_step", "scale_by_inverse_power", "dot",
    "diff_dot", "upsample_linear", "blur_along", "unclipped",
]
