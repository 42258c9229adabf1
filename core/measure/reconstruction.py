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


def output_spread(outputs: object) -> float:
    """How different a model's outputs (n, …) are from each other: the largest absolute difference of any
    output value from the mean output over the n inputs (0 when every input gives the same output)."""
    outputs = finite_array(outputs, "outputs").astype(np.float64, copy=False)
    if outputs.ndim < 2 or outputs.shape[0] < 1:
        raise ValueError(f"outputs must be a batch (n, ...) with n >= 1; got shape {outputs.shape}")
    return float(np.abs(outputs - outputs.mean(axis=0)).max())
