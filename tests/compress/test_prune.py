"""Magnitude pruning against sorting by hand, the paper's threshold rule, and the edges (keep none / all)."""

from __future__ import annotations

import numpy as np
import pytest

from core.compress.prune import magnitude_mask, threshold_mask


def test_keeps_the_largest_magnitudes() -> None:
    weights = np.array([[0.5, -2.0, 0.1], [1.5, -0.2, 3.0]])
    assert magnitude_mask(weights, 0.5).tolist() == [[False, True, False], [True, False, True]]


@pytest.mark.parametrize("fraction", [0.0, 0.013, 0.08, 0.26, 0.5, 1.0])
def test_kept_count_and_threshold_agree_with_a_sort(fraction: float) -> None:
    weights = np.random.default_rng(0).normal(size=(300, 784)).astype(np.float32)
    mask = magnitude_mask(weights, fraction)
    n_kept = round(fraction * weights.size)
    assert mask.sum() == n_kept
    if 0 < n_kept < weights.size:
        assert np.abs(weights[mask]).min() >= np.abs(weights[~mask]).max()


def test_ties_keep_the_earlier_position() -> None:
    assert magnitude_mask(np.array([1.0, -1.0, 1.0, 0.5]), 0.5).tolist() == [True, True, False, False]


def test_the_papers_quality_threshold() -> None:
    weights = np.random.default_rng(1).normal(size=10_000)
    mask = threshold_mask(weights, 1.0)
    assert mask.tolist() == (np.abs(weights) > weights.std()).tolist()
    # For a normal layer, |w| > 1 std keeps ~31.7% (2 * (1 - Phi(1))).
    assert mask.mean() == pytest.approx(0.317, abs=0.01)


def test_bad_fractions_name_the_accepted_range() -> None:
    with pytest.raises(ValueError, match="from 0 .* to 1"):
        magnitude_mask(np.ones(4), 1.5)
    with pytest.raises(ValueError, match="from 0 .* to 1"):
        magnitude_mask(np.ones(4), True)
    with pytest.raises(ValueError, match="quality must be"):
        threshold_mask(np.ones(4), -1)
