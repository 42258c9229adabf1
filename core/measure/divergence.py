"""KL divergence between the histogram of weights W and of their quantized values Q.

The article leaves this as a challenge. The catch: Q takes at most 2^bits distinct values, so on
a fine grid of bins its histogram is a few spikes and most bins that hold weights of W are
empty in Q. KL(W || Q) = sum_i p_i log2(p_i / q_i) is then infinite: a continuous distribution
and its quantized copy are mutually singular. To get a finite, comparable number both histograms
are smoothed with PSEUDO_COUNT (one half, the Krichevsky-Trofimov estimator) added to every bin:
a bin holding c of W's N weights and none of Q adds (c + 1/2) / (N + B/2) * log2(2c + 1) bits
(B bins), so the value also grows slowly with the number of weights.

So the divergence measures how much of W lands in bins where Q has no level, not how far the
weights moved: it falls as the levels start to cover the bins, depends on the number of bins, and
is exactly 0 when the bins are the quantizer's own cells (quantizing keeps each cell's count).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.checks import finite_array, integer_in_range

DEFAULT_BINS = 64
MAX_BINS = 4096
PSEUDO_COUNT = 0.5


def shared_histograms(
    original: np.ndarray, quantized: np.ndarray, bins: int | Sequence[float] = DEFAULT_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(edges, counts of original, counts of quantized) on the same bins.

    `bins` is a number of equal-width bins spanning both arrays' values, or increasing edges
    (values outside them are not counted). Counts are int64 of length len(edges) - 1.
    """
    original = finite_array(original, "original").astype(np.float64, copy=False).ravel()
    quantized = finite_array(quantized, "quantized").astype(np.float64, copy=False).ravel()
    edges = _edges(bins, original, quantized)
    return edges, np.histogram(original, edges)[0], np.histogram(quantized, edges)[0]


def histogram_kl(
    original: np.ndarray, quantized: np.ndarray, bins: int | Sequence[float] = DEFAULT_BINS
) -> float:
    """KL(P_original || P_quantized) in bits between the two smoothed histograms on shared bins.

    Each histogram gets PSEUDO_COUNT added to every bin before normalising, so empty bins give
    a large but finite value. The arrays may differ in size.

    >>> histogram_kl([0.0, 1.0], [0.0, 1.0], bins=2)
    0.0
    """
    _, counts_original, counts_quantized = shared_histograms(original, quantized, bins)
    p = _smoothed(counts_original)
    q = _smoothed(counts_quantized)
    return float(np.sum(p * np.log2(p / q)))


def _smoothed(counts: np.ndarray) -> np.ndarray:
    smoothed = counts + PSEUDO_COUNT
    return smoothed / smoothed.sum()


def _edges(bins: int | Sequence[float], original: np.ndarray, quantized: np.ndarray) -> np.ndarray:
    if np.ndim(bins) == 0:
        count = integer_in_range(bins, "bins", 1, MAX_BINS)
        low = min(original.min(), quantized.min())
        high = max(original.max(), quantized.max())
        if low == high:
            low, high = low - 0.5, high + 0.5
        return np.linspace(low, high, count + 1)
    edges = finite_array(bins, "bins", ndim=1).astype(np.float64)
    if edges.size < 2 or not (np.diff(edges) > 0).all():
        raise ValueError(
            f"bins must be a count from 1 to {MAX_BINS} or at least 2 strictly increasing edges; got {edges.tolist()}"
        )
    return edges
