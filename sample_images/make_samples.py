"""Make the sample images: blurred photographs with their PSF and sharp original.

Run from anywhere (``python sample_images/make_samples.py``); it rewrites the
files next to itself, identically each time (fixed seeds). Sources are
scikit-image's bundled images (``skimage.data``), so nothing is downloaded.

Blur model (the one the solver's default ``--boundary valid`` assumes): the
blurred frame is the *valid* part of the sharp scene convolved with the
kernel, so real scene lies beyond every edge, as in a camera::

    blurred = valid(kernel * scene) + noise, then 8-bit quantised
    sharp   = the crop of the scene that lines up with the blurred frame

For each sample ``NAME`` it writes ``NAME.blurred.png``, ``NAME.sharp.png``
and ``NAME.psf.png`` (16-bit, peak = white; ``--psf NAME.psf.png`` reads it
back normalised).
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # this checkout's deblur, installed or not

from deblur import io as imio  # noqa: E402
from deblur import psf as psf_module  # noqa: E402
from deblur import simulate  # noqa: E402

# name, skimage.data image, output size (rows, cols), PSF spec, noise sigma, what it shows
SAMPLES = (
    ("camera_motion", "camera", (256, 256), "motion:length=13,angle=25", 0.005, "gray, linear motion blur"),
    ("astronaut_defocus", "astronaut", (256, 256), "disk:radius=3", 0.005, "colour, defocus (disk)"),
    ("coffee_motion", "coffee", (256, 384), "motion:length=11,angle=-40", 0.005, "colour, linear motion blur"),
    ("text_gaussian", "text", (160, 384), "gaussian:sigma=1.5", 0.003, "gray text, Gaussian blur"),
)


def scene(image_name, shape, kernel_shape):
    """The bundled image, resized (anti-aliased) so that its centre crop of
    ``shape`` plus the kernel's reach fits, as float64 in [0, 1]."""
    from skimage import data, transform

    image = np.asarray(getattr(data, image_name)())
    if image.ndim == 3:
        image = image[..., :3]
    image = image.astype(np.float64) / 255.0
    need = (shape[0] + kernel_shape[0] - 1, shape[1] + kernel_shape[1] - 1)
    scale = max(need[0] / image.shape[0], need[1] / image.shape[1])
    if scale < 1:
        size = (int(np.ceil(image.shape[0] * scale)), int(np.ceil(image.shape[1] * scale)))
        image = transform.resize(image, size + image.shape[2:], anti_aliasing=True)
    r0 = (image.shape[0] - need[0]) // 2
    c0 = (image.shape[1] - need[1]) // 2
    return image[r0 : r0 + need[0], c0 : c0 + need[1]]


def make(name, image_name, shape, spec, noise, seed):
    kernel = psf_module.parse(spec)
    kh, kw = kernel.shape
    x = scene(image_name, shape, kernel.shape)
    top, left = kh - 1 - kh // 2, kw - 1 - kw // 2  # where the centre tap puts the frame in the scene
    sharp = x[top : top + shape[0], left : left + shape[1]]
    # deblur's one forward model: valid(kernel * scene), then the noise (float64 in, float64 out)
    blurred = simulate.blur_pixels(x, kernel, noise=noise, seed=seed, boundary="valid")
    for suffix, array in (("blurred", blurred), ("sharp", sharp)):
        pixels = imio.from_float(np.clip(array, 0, 1), np.uint8)
        imio.write_image(os.path.join(HERE, f"{name}.{suffix}.png"), imio.ImageData(pixels), overwrite=True)
    peak = imio.from_float(kernel / kernel.max(), np.uint16)
    imio.write_image(os.path.join(HERE, f"{name}.psf.png"), imio.ImageData(peak), overwrite=True)


def main():
    for seed, (name, image_name, shape, spec, noise, _) in enumerate(SAMPLES):
        make(name, image_name, shape, spec, noise, seed)
        print(f"{name}: {shape[1]}x{shape[0]}, {spec}, noise {noise}")


if __name__ == "__main__":
    main()
