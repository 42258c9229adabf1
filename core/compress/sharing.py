"""Weight sharing of a pruned layer's surviving weights (Deep Compression §3): 1-D k-means from the paper's
three centroid initialisations (linear over [min, max], density = CDF quantiles, random Forgy) or our
optimal k-means (`core.quantize.kmeans.kmeans_1d`).

A layer stored with b weight bits has 2^b codes: code 0 is the zero of pruned weights (and of the fillers
of the sparse format), codes 1…2^b - 1 the shared values of kept weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.checks import bits as check_bits
from core.checks import finite_array
from core.quantize.kmeans import kmeans_1d, lloyd_1d

INITIALISATIONS = ("linear", "density", "random", "kmeans")
"""The paper's three starts for Lloyd's k-means, and our near-optimal 1-D k-means (density start plus swaps)."""


@dataclass(frozen=True)
class SharedWeights:
    """One layer after weight sharing: what the file stores for it."""

    codebook: np.ndarray
    """The shared values of kept weights, (k,) float32 with k <= 2^bits - 1 (empty when every weight is pruned)."""
    labels: np.ndarray
    """Per weight (the layer's shape), its code: 0 for a pruned weight, i >= 1 for codebook[i - 1]; uint8."""
    bits: int
    """Width of a code, 1…8."""

    def dense(self) -> np.ndarray:
        """The layer's weights as they compute: float32 of labels' shape, 0 where pruned."""
        return np.concatenate([np.zeros(1, dtype=np.float32), self.codebook])[self.labels]


def initial_centroids(values: np.ndarray, k: int, init: str, seed: int = 0) -> np.ndarray:
    """k starting centroids (float64, sorted) for values, as the paper's Fig. 4: "linear" evenly spaced over
    [min, max], "density" at the quantiles (i + 1/2)/k of the values' CDF, "random" k distinct values drawn
    with `seed` (Forgy; fewer when there are fewer distinct values)."""
    flat = finite_array(values, "values").ravel().astype(np.float64)
    if init == "linear":
        return np.linspace(flat.min(), flat.max(), k)
    if init == "density":
        return np.quantile(flat, (np.arange(k) + 0.5) / k)
    if init == "random":
        distinct = np.unique(flat)
        return np.sort(np.random.default_rng(seed).choice(distinct, size=min(k, distinct.size), replace=False))
    raise ValueError(f"init must be one of linear, density, random; got {init!r}")


def share_weights(weights: np.ndarray, mask: np.ndarray, bits: int, init: str = "linear", seed: int = 0) -> SharedWeights:
    """Share the kept weights (mask True) of one layer among at most 2^bits - 1 values found by k-means from
    `init` (one of INITIALISATIONS; `seed` for "random"); pruned weights get code 0."""
    values = finite_array(weights, "weights")
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != values.shape:
        raise ValueError(f"mask must have the weights' shape {values.shape}; got {mask.shape}")
    bits = check_bits(bits)
    if init not in INITIALISATIONS:
        raise ValueError(f"init must be one of {', '.join(INITIALISATIONS)}; got {init!r}")
    labels = np.zeros(values.shape, dtype=np.uint8)
    kept = values[mask]
    if kept.size == 0:
        return SharedWeights(np.zeros(0, dtype=np.float32), labels, bits)
    k = 2**bits - 1
    if init == "kmeans":
        centroids, kept_labels = kmeans_1d(kept, k)
    else:
        centroids, kept_labels = lloyd_1d(kept, initial_centroids(kept, k, init, seed))
    labels[mask] = kept_labels.astype(np.uint8) + 1
    return SharedWeights(centroids.astype(np.float32), labels, bits)
