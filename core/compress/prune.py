"""Magnitude pruning (Deep Compression §2): per layer, keep the weights of largest magnitude, by kept
fraction or by the paper's threshold (quality x the layer's standard deviation)."""

from __future__ import annotations

import numpy as np

from core.checks import finite_array


def kept_fraction(value: object, name: str = "kept_fraction") -> float:
    """`value` as a float in [0, 1], or ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number from 0 (prune every weight) to 1 (keep all); got {value!r}")
    return float(value)


def magnitude_mask(weights: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask (shape of weights) keeping round(fraction x size) weights of largest |w|; among equal
    magnitudes the earlier position (row-major) is kept."""
    values = finite_array(weights, "weights")
    fraction = kept_fraction(fraction)
    flat = np.abs(values.ravel())
    n_kept = round(fraction * flat.size)
    mask = np.zeros(flat.size, dtype=bool)
    # A stable sort of -|w|: the largest first, ties in position order.
    mask[np.argsort(-flat, kind="stable")[:n_kept]] = True
    return mask.reshape(values.shape)


def threshold_mask(weights: np.ndarray, quality: float) -> np.ndarray:
    """The paper's rule: keep |w| > quality x std(w) (std over the layer's weights); boolean mask of weights' shape."""
    values = finite_array(weights, "weights")
    if isinstance(quality, bool) or not isinstance(quality, (int, float, np.integer, np.floating)) or quality < 0:
        raise ValueError(f"quality must be a non-negative number (threshold = quality x std); got {quality!r}")
    return np.abs(values) > quality * values.std()
