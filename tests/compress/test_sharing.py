"""Weight sharing of surviving weights: the paper's initialisations by their definitions, Lloyd from them
against scikit-learn's KMeans from the same start, the zero code for pruned weights, and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans

from core.compress.sharing import INITIALISATIONS, initial_centroids, share_weights


@pytest.fixture(scope="module")
def layer() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    weights = (rng.standard_t(4, size=(100, 50)) * 0.05).astype(np.float32)
    return weights, np.abs(weights) > 0.04


def test_initialisations_follow_their_definitions(layer) -> None:
    values = layer[0][layer[1]].astype(np.float64)
    linear = initial_centroids(values, 5, "linear")
    assert linear.tolist() == pytest.approx(np.linspace(values.min(), values.max(), 5).tolist())
    density = initial_centroids(values, 4, "density")
    # Density init: the CDF at each centroid is 1/8, 3/8, 5/8, 7/8.
    assert [np.mean(values <= c) for c in density] == pytest.approx([0.125, 0.375, 0.625, 0.875], abs=2 / values.size)
    forgy = initial_centroids(values, 7, "random", seed=3)
    assert np.isin(forgy, values).all() and np.unique(forgy).size == 7
    assert forgy.tolist() == initial_centroids(values, 7, "random", seed=3).tolist()


@pytest.mark.parametrize("init", ["linear", "density", "random"])
def test_lloyd_from_each_start_matches_scikit_learn(init: str, layer) -> None:
    weights, mask = layer
    shared = share_weights(weights, mask, bits=3, init=init, seed=1)
    values = weights[mask].astype(np.float64)
    start = initial_centroids(values, 7, init, seed=1)
    reference = KMeans(start.size, init=start[:, None], n_init=1, tol=0, max_iter=500).fit(values[:, None])
    used = np.bincount(reference.labels_, minlength=start.size) > 0  # both drop clusters left empty
    expected = np.sort(reference.cluster_centers_.ravel()[used])
    assert shared.codebook.tolist() == pytest.approx(expected.tolist(), abs=1e-6)
    error = ((shared.dense()[mask] - weights[mask]) ** 2).sum()
    assert error == pytest.approx(reference.inertia_, rel=1e-4)


@pytest.mark.parametrize("init", INITIALISATIONS)
def test_pruned_weights_get_code_zero_and_stay_zero(init: str, layer) -> None:
    weights, mask = layer
    shared = share_weights(weights, mask, bits=4, init=init)
    assert (shared.labels[~mask] == 0).all() and (shared.labels[mask] >= 1).all()
    assert shared.codebook.size <= 15 and shared.labels.max() <= shared.codebook.size
    assert (shared.dense()[~mask] == 0).all()


def test_optimal_kmeans_is_no_worse_than_the_papers_starts(layer) -> None:
    weights, mask = layer
    errors = {init: ((share_weights(weights, mask, 3, init).dense() - weights)[mask] ** 2).sum() for init in INITIALISATIONS}
    assert errors["kmeans"] <= min(errors.values()) * 1.01  # the fast method: within ~1% of optimal


def test_edges_every_weight_pruned_one_bit_and_eight(layer) -> None:
    weights, mask = layer
    empty = share_weights(weights, np.zeros_like(mask), bits=6)
    assert empty.codebook.size == 0 and (empty.dense() == 0).all()
    one_bit = share_weights(weights, mask, bits=1)
    assert one_bit.codebook.size == 1  # one shared value plus the zero
    assert share_weights(weights, mask, bits=8).codebook.size <= 255
    with pytest.raises(ValueError, match="bits must be from 1 to 8"):
        share_weights(weights, mask, bits=9)
    with pytest.raises(ValueError, match="init must be one of"):
        share_weights(weights, mask, bits=4, init="forgy")
    with pytest.raises(ValueError, match="mask must have"):
        share_weights(weights, mask[:10], bits=4)
