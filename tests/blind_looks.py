"""Shared pieces of the tests of the looks taken again on a refused kernel (``deblur.blind.looks``)."""

import numpy as np
from scipy.signal import fftconvolve
from skimage import data


def blurred_camera(kernel, rng, n=200):
    """An ``n`` x ``n`` crop of scikit-image's camera blurred by ``kernel`` (scene beyond the frame), 1 % noise."""
    sharp = data.camera()[80 : 80 + n + kernel.shape[0] - 1, 120 : 120 + n + kernel.shape[1] - 1] / 255.0
    y = fftconvolve(sharp, kernel, mode="valid")
    return np.clip(y + 0.01 * rng.standard_normal(y.shape), 0.0, 1.0)


def texture_dots():
    """A 31 px kernel of 49 separate dots, unit sum: a texture's strokes, refused as such."""
    k = np.zeros((31, 31))
    k[3:28:4, 3:28:4] = 1.0
    return k / k.sum()
