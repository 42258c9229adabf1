import itertools

import kmeans1d
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.quantize.kmeans import _build_histogram, kmeans_1d, sum_squared_error


def brute_force_sse(values: np.ndarray, k: int) -> float:
    """Least SSE over every partition of the sorted values into k contiguous non-empty groups."""
    ordered = np.sort(values)
    best = np.inf
    for cuts in itertools.combinations(range(1, ordered.size), k - 1):
        groups = np.split(ordered, cuts)
        best = min(best, sum(((g - g.mean()) ** 2).sum() for g in groups))
    return best


def sample(name: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if name == "gaussian":
        return rng.normal(size=n)
    if name == "laplacian":
        return rng.laplace(size=n)
    if name == "uniform":
        return rng.uniform(-2, 2, size=n)
    values = rng.normal(size=n)
    values[n // 3] = 25.0
    return values


small_values = arrays(np.float64, st.integers(2, 9), elements=st.floats(-100, 100, allow_nan=False, width=32))
medium_values = arrays(np.float64, st.integers(1, 200), elements=st.floats(-1e3, 1e3, allow_nan=False, width=32))


@settings(max_examples=80, deadline=None)
@given(small_values, st.integers(1, 4))
def test_exact_equals_brute_force_optimum(values, k):
    k = min(k, np.unique(values).size)
    centroids, labels = kmeans_1d(values, k, method="exact")
    assert sum_squared_error(values, centroids, labels) == pytest.approx(brute_force_sse(values, k), rel=1e-9, abs=1e-9)


def test_exact_equals_kmeans1d_package():
    values = sample("laplacian", 3000, seed=4)
    for k in (2, 7, 16, 50):
        centroids, labels = kmeans_1d(values, k, method="exact")
        reference = kmeans1d.cluster(values, k)
        expected = sum_squared_error(values, np.array(reference.centroids), np.array(reference.clusters))
        assert sum_squared_error(values, centroids, labels) == pytest.approx(expected, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(medium_values, st.sampled_from(["exact", "fast"]))
def test_labels_nearest_centroids_are_cluster_means_and_sorted(values, method):
    centroids, labels = kmeans_1d(values, 6, method=method)
    assert labels.shape == values.shape
    assert np.all(np.diff(centroids) > 0)
    distances = np.abs(values[:, None] - centroids[None, :])
    assert np.allclose(distances[np.arange(values.size), labels], distances.min(axis=1), rtol=0, atol=1e-9)
    for index, centroid in enumerate(centroids):
        assert centroid == pytest.approx(values[labels == index].mean(), rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(medium_values)
def test_exact_error_does_not_increase_with_k(values):
    errors = [sum_squared_error(values, *kmeans_1d(values, k, method="exact")) for k in (1, 2, 3, 5, 8)]
    assert all(later <= earlier * (1 + 1e-9) + 1e-9 for earlier, later in zip(errors, errors[1:]))


@settings(max_examples=40, deadline=None)
@given(medium_values, st.sampled_from(["exact", "fast"]), st.integers(1, 16))
def test_idempotent_on_already_quantized_values(values, method, k):
    centroids, labels = kmeans_1d(values, k, method=method)
    quantized = centroids[labels]
    again, again_labels = kmeans_1d(quantized, k, method=method)
    np.testing.assert_allclose(again[again_labels], quantized, rtol=0, atol=1e-9)


def test_fewer_distinct_values_than_k_returns_them():
    values = np.array([3.0, 1.0, 3.0, 2.0, 1.0])
    for method in ("exact", "fast"):
        centroids, labels = kmeans_1d(values, 8, method=method)
        assert centroids.tolist() == [1.0, 2.0, 3.0]
        np.testing.assert_array_equal(centroids[labels], values)


def test_large_constant_input_has_one_centroid():
    centroids, labels = kmeans_1d(np.full(100_000, 0.25, dtype=np.float32), 16)
    assert centroids.tolist() == [0.25] and not labels.any()


@pytest.mark.parametrize("name", ["gaussian", "laplacian", "uniform", "outlier"])
def test_fast_within_one_percent_of_exact_on_distinct_values(name):
    values = sample(name, 5000, seed=1)
    for bits in (1, 2, 3, 4):
        fast = sum_squared_error(values, *kmeans_1d(values, 2**bits, method="fast"))
        exact = sum_squared_error(values, *kmeans_1d(values, 2**bits, method="exact"))
        assert fast <= 1.01 * exact, (name, bits, fast / exact)


@pytest.mark.parametrize("name", ["gaussian", "laplacian", "uniform", "outlier"])
def test_fast_within_one_percent_of_kmeans1d_on_a_histogram_sized_input(name):
    values = sample(name, 120_000, seed=2).astype(np.float32)
    for bits in (1, 3, 5):
        fast = sum_squared_error(values, *kmeans_1d(values, 2**bits, method="fast"))
        reference = kmeans1d.cluster(values.astype(np.float64), 2**bits)
        optimum = sum_squared_error(values, np.array(reference.centroids), np.array(reference.clusters))
        assert fast <= 1.01 * optimum, (name, bits, fast / optimum)


def test_lone_outlier_gets_its_own_centroid():
    values = sample("outlier", 200_000, seed=3).astype(np.float32)
    centroids, labels = kmeans_1d(values, 32)
    assert labels[200_000 // 3] == centroids.size - 1
    assert centroids[-1] == pytest.approx(25.0)


def test_fast_labels_are_nearest_on_a_histogram_sized_input():
    values = sample("gaussian", 300_000, seed=5).astype(np.float32)
    centroids, labels = kmeans_1d(values, 256)
    nearest = np.abs(values.astype(np.float64)[:, None] - centroids[None, :]).argmin(axis=1)
    chosen = np.abs(values - centroids[labels])
    best = np.abs(values - centroids[nearest])
    assert np.all(chosen <= best + 1e-6)


@pytest.mark.parametrize("name", ["gaussian", "laplacian", "uniform", "outlier"])
def test_fast_within_six_percent_of_exact_at_six_and_eight_bits(name):
    # 10,000 values: about 40 per cluster at 8 bits, where 1-D Lloyd stalls most (measured 1.01–1.05).
    values = sample(name, 10_000, seed=4)
    for bits in (6, 8):
        fast = sum_squared_error(values, *kmeans_1d(values, 2**bits, method="fast"))
        exact = sum_squared_error(values, *kmeans_1d(values, 2**bits, method="exact"))
        assert fast <= 1.06 * exact, (name, bits, fast / exact)


def test_binned_point_counts_equal_a_binary_search():
    rng = np.random.default_rng(8)
    for values in (sample("laplacian", 300_000, seed=8).astype(np.float32), rng.uniform(size=500_000)):
        points = _build_histogram(values).points
        queries = np.concatenate(
            [
                rng.uniform(points.x[0] - 1, points.x[-1] + 1, 50_000),
                points.x,  # ties, and one float step either side of every point
                np.nextafter(points.x, np.inf),
                np.nextafter(points.x, -np.inf),
                [-np.inf, np.inf],
            ]
        )
        np.testing.assert_array_equal(points.count_up_to(queries), np.searchsorted(points.x, queries, side="right"))


def test_cached_histogram_follows_the_values_not_their_shape():
    values = sample("gaussian", 100_000, seed=7)
    kmeans_1d(values, 16)
    changed = values.copy()
    changed[5] = 40.0
    centroids, labels = kmeans_1d(changed, 16)
    assert centroids[-1] == pytest.approx(40.0) and labels[5] == 15


def test_fast_is_deterministic():
    values = sample("laplacian", 100_000, seed=6)
    first, second = kmeans_1d(values, 64), kmeans_1d(values, 64)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize(
    "values, k, method, fragment",
    [
        ([], 2, "fast", "empty"),
        ([1.0, np.nan], 2, "fast", "finite"),
        ([1.0, np.inf], 2, "exact", "finite"),
        ([1.0, 2.0], 0, "fast", "k must be"),
        ([1.0, 2.0], 2.5, "fast", "k must be"),
        ([1.0, 2.0], 2, "magic", "method must be"),
        (["a", "b"], 2, "fast", "real numbers"),
    ],
)
def test_bad_input_raises_value_error(values, k, method, fragment):
    with pytest.raises(ValueError, match=fragment):
        kmeans_1d(values, k, method=method)


def test_lloyd_1d_matches_scikit_learn_from_the_same_start() -> None:
    from sklearn.cluster import KMeans

    from core.quantize.kmeans import lloyd_1d

    for size in (3_000, 40_000):  # distinct values, then the histogram path
        values = np.random.default_rng(size).normal(size=size)
        start = np.linspace(values.min(), values.max(), 8)
        centroids, labels = lloyd_1d(values, start)
        reference = KMeans(8, init=start[:, None], n_init=1, tol=0, max_iter=500).fit(values[:, None])
        tolerance = 1e-9 if size <= 16_384 else 2e-3 * values.std()  # the histogram's bins are 1/65536 of the range
        assert np.allclose(centroids, np.sort(reference.cluster_centers_.ravel()), atol=tolerance)
        assert np.abs(values - centroids[labels]).max() <= np.abs(values[:, None] - centroids[None]).min(axis=1).max() + 1e-12
