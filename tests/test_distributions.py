import numpy as np
import pytest
from scipy import stats

from core.distributions import (
    DISTRIBUTIONS,
    OUTLIER_ROWS,
    OUTLIER_VALUE,
    outlier_rows_matrix,
    singular_matrix,
    weight_matrix,
)
from core.measure.norms import condition_number


def bimodal_cdf(x):
    return 0.5 * stats.norm.cdf(x, -2, 0.5) + 0.5 * stats.norm.cdf(x, 2, 0.5)


CDFS = {
    "normal": stats.norm.cdf,
    "uniform": stats.uniform(loc=-2, scale=4).cdf,
    "outlier": stats.norm.cdf,
    "laplace": stats.laplace(scale=1 / np.sqrt(2)).cdf,
    "bimodal": bimodal_cdf,
}


def without_outlier(weights):
    return weights[weights != OUTLIER_VALUE]


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_samples_follow_the_named_distribution(distribution):
    weights = weight_matrix(distribution, 150, seed=3)
    assert weights.shape == (150, 150) and weights.dtype == np.float32
    assert stats.kstest(without_outlier(weights).ravel(), CDFS[distribution]).pvalue > 1e-3


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_the_goodness_of_fit_check_rejects_the_other_distributions(distribution):
    weights = without_outlier(weight_matrix(distribution, 150, seed=3)).ravel()
    for other, cdf in CDFS.items():
        if {other, distribution} != {"normal", "outlier"} and other != distribution:
            assert stats.kstest(weights, cdf).pvalue < 1e-6, other


def test_outlier_matrix_has_exactly_one_outlier_at_a_seeded_position():
    positions = set()
    for seed in range(5):
        weights = weight_matrix("outlier", 30, seed=seed)
        assert np.count_nonzero(weights == OUTLIER_VALUE) == 1
        assert np.sort(np.abs(weights.ravel()))[-2] < 6
        positions.add(int(np.argmax(weights)))
    assert len(positions) > 1


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_same_seed_same_matrix_other_seed_other_matrix(distribution):
    first = weight_matrix(distribution, 20, seed=7)
    np.testing.assert_array_equal(first, weight_matrix(distribution, 20, seed=7))
    assert not np.array_equal(first, weight_matrix(distribution, 20, seed=8))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"distribution": "cauchy", "n": 4}, "distribution must be one of normal"),
        ({"distribution": "normal", "n": 0}, "n must be from 1 to 4096; got 0"),
        ({"distribution": "normal", "n": 2.5}, "n must be an integer"),
        ({"distribution": "normal", "n": 4, "seed": -1}, "seed must be from 0"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        weight_matrix(**kwargs)


def test_outlier_rows_are_ten_times_larger_and_seeded():
    weights = outlier_rows_matrix(64, 32, seed=3)
    row_scale = np.abs(weights).mean(axis=1)
    large = np.flatnonzero(row_scale > 4 * np.median(row_scale))
    assert large.size == OUTLIER_ROWS
    ratio = np.abs(weights[large]).mean() / np.abs(np.delete(weights, large, axis=0)).mean()
    assert 7 < ratio < 13  # OUTLIER_ROW_FACTOR = 10, up to sampling noise
    np.testing.assert_array_equal(weights, outlier_rows_matrix(64, 32, seed=3))
    assert not np.array_equal(weights, outlier_rows_matrix(64, 32, seed=4))


def test_singular_matrix_has_rank_n_minus_one_and_no_inverse():
    weights = singular_matrix(12, seed=5)
    assert np.linalg.matrix_rank(weights.astype(np.float64)) == 11
    assert condition_number(weights, 1) == np.inf
    np.testing.assert_array_equal(weights[:-1], weight_matrix("normal", 12, seed=5)[:-1])
