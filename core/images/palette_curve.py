"""Average error of an image's k-means palette as k grows: where sharing more colors stops paying."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.checks import integer_in_range, rgb_image
from core.images.palette import palette_kmeans
from core.measure.image_error import average_error

# Roughly even steps on a log axis from 1 to 256 shared colors.
CURVE_KS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256)


def error_curve(
    image: np.ndarray,
    ks: tuple[int, ...] = CURVE_KS,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> np.ndarray:
    """Average error (0…765 per pixel) of palette_kmeans(image, k, seed) for each k in ks -> (len(ks),) float64.
    After each k, progress (if given) is called with (fraction of ks done, what was done).

    >>> error_curve(np.zeros((2, 2, 3), dtype=np.uint8), ks=(1, 2)).tolist()
    [0.0, 0.0]
    """
    image = rgb_image(image)
    if len(ks) == 0:
        raise ValueError("ks must hold at least one number of colors; got none")
    ks = [integer_in_range(k, "each k in ks", 1, 256) for k in ks]
    errors = []
    for done, k in enumerate(ks, 1):
        palette, labels = palette_kmeans(image, k, seed)
        errors.append(average_error(image, palette[labels]))
        if progress is not None:
            progress(done / len(ks), f"{k} colors")
    return np.array(errors)
