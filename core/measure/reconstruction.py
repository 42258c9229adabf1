"""How far a model's outputs are from what they should be."""

from __future__ import annotations

import numpy as np

from core.checks import finite_array


def mse(images: object, reconstructions: object) -> float:
    """Mean squared error per pixel between two image batches of the same shape, values in [0, 1]."""
    originals, copies = finite_array(images, "images"), finite_array(reconstructions, "reconstructions")
    if originals.shape != copies.shape:
        raise ValueError(f"reconstructions must have the shape of images {originals.shape}; got {copies.shape}")
    return float(np.mean((originals.astype(np.float64) - copies.astype(np.float64)) ** 2))
