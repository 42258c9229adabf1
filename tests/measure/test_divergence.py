import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from core.measure.divergence import PSEUDO_COUNT, histogram_kl, shared_histograms
from core.quantize.kmeans import kmeans_1d
from core.quantize.linear import fake_quantize


def test_hand_worked_example():
    # Bins [0, .5) and [.5, 1]: W counts (3, 1), Q counts (4, 0); smoothed p = (3.5, 1.5)/5, q = (4.5, 0.5)/5.
    weights = [0.1, 0.2, 0.3, 0.9]
    quantized = [0.2, 0.2, 0.2, 0.2]
    expected = 0.7 * np.log2(3.5 / 4.5) + 0.3 * np.log2(1.5 / 0.5)
    assert histogram_kl(weights, quantized, bins=[0.0, 0.5, 1.0]) == pytest.approx(expected, rel=1e-12)


def test_matches_scipy_entropy_on_numpy_histograms():
    rng = np.random.default_rng(0)
    weights = rng.standard_normal(5000)
    quantized = fake_quantize(weights, 3)
    low, high = min(weights.min(), quantized.min()), max(weights.max(), quantized.max())
    p = np.histogram(weights, bins=40, range=(low, high))[0] + PSEUDO_COUNT
    q = np.histogram(quantized, bins=40, range=(low, high))[0] + PSEUDO_COUNT
    assert histogram_kl(weights, quantized, bins=40) == pytest.approx(stats.entropy(p, q, base=2), rel=1e-9)


def test_zero_on_the_quantizers_own_cells():
    weights = np.random.default_rng(1).laplace(size=3000)
    centroids, labels = kmeans_1d(weights, 8, method="exact")
    cells = np.concatenate([[weights.min()], (centroids[:-1] + centroids[1:]) / 2, [weights.max()]])
    quantized = centroids[labels]
    assert histogram_kl(weights, quantized, bins=cells) == pytest.approx(0.0, abs=1e-12)
    assert histogram_kl(weights, quantized) > 0.5


def test_falls_as_the_levels_cover_the_bins():
    weights = np.random.default_rng(2).standard_normal(20_000)
    divergences = []
    for bits in (1, 3, 8):
        centroids, labels = kmeans_1d(weights, 2**bits)
        divergences.append(histogram_kl(weights, centroids[labels]))
    assert divergences[0] > divergences[1] > divergences[2]
    assert divergences[0] > 2 and divergences[2] < 0.05


def test_identical_arrays_have_zero_divergence_and_counts_cover_both_ranges():
    weights = np.array([-1.0, 0.0, 0.5, 2.0])
    assert histogram_kl(weights, weights) == 0.0
    edges, counts_w, counts_q = shared_histograms(weights, [-3.0, 3.0], bins=6)
    assert edges[0] == -3.0 and edges[-1] == 3.0
    assert counts_w.sum() == 4 and counts_q.tolist() == [1, 0, 0, 0, 0, 1]


def test_constant_arrays_get_one_unit_wide_bins():
    edges, counts_w, counts_q = shared_histograms([2.0, 2.0], [2.0], bins=1)
    assert edges.tolist() == [1.5, 2.5] and counts_w.tolist() == [2] and counts_q.tolist() == [1]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-100, 100), min_size=1, max_size=50),
    st.lists(st.floats(-100, 100), min_size=1, max_size=50),
    st.integers(1, 30),
)
def test_never_negative(weights, quantized, bins):
    assert histogram_kl(weights, quantized, bins=bins) >= -1e-12


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bins": 0}, "bins must be from 1 to 4096; got 0"),
        ({"bins": [1.0, 0.0]}, "bins must be a count from 1 to 4096 or at least 2 strictly increasing edges"),
        ({"bins": [np.nan, 1.0]}, "bins must be finite"),
        ({"original": [0.0, np.inf]}, "original must be finite"),
        ({"quantized": []}, "quantized must not be empty"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    arguments = {"original": [0.0, 1.0], "quantized": [0.0, 1.0], **kwargs}
    with pytest.raises(ValueError, match=message):
        histogram_kl(**arguments)
