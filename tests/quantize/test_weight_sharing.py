import kmeans1d
import numpy as np
import pytest

from core.distributions import weight_matrix
from core.measure.divergence import histogram_kl
from core.measure.norms import condition_number
from core.quantize.weight_sharing import (
    METHODS,
    error_bound,
    quantize_weights,
    random_inputs,
    rate_distortion,
    stored_bytes,
    weight_report,
)

NORMS = (1, 2, np.inf, "fro")


def optimal_sse(values, k):
    clusters, centroids = kmeans1d.cluster(values, k)
    return float(((values - np.asarray(centroids)[clusters]) ** 2).sum())


# Above 256 weights the fast method is used, within a few % of optimal (on these 256 it is 0.9% and 4% above).
@pytest.mark.parametrize(("n", "bits", "tolerance"), [(16, 5, 1e-9), (16, 6, 1e-9), (40, 4, 0.05), (120, 4, 0.05)])
def test_kmeans_sharing_is_optimal_up_to_the_exact_limit_and_close_above(n, bits, tolerance):
    weights = weight_matrix("laplace", n, seed=1).astype(np.float64)
    quantized = quantize_weights(weights, bits, "kmeans")
    assert quantized.shape == weights.shape and np.unique(quantized).size == 2**bits
    sse = float(((weights - quantized) ** 2).sum())
    assert sse <= optimal_sse(weights.ravel(), 2**bits) * (1 + tolerance)


@pytest.mark.parametrize("bits", [2, 3, 8])
def test_absmax_rounds_each_weight_to_the_nearest_multiple_of_the_scale(bits):
    weights = weight_matrix("normal", 30, seed=2)
    scale = np.abs(weights).max() / (2 ** (bits - 1) - 1)
    quantized = quantize_weights(weights, bits, "absmax")
    steps = quantized / scale
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-4)
    assert np.abs(weights - quantized).max() <= scale / 2 * (1 + 1e-5)


def test_minmax_levels_span_the_range_with_an_exact_zero():
    weights = weight_matrix("uniform", 30, seed=3)
    quantized = quantize_weights(weights, 3, "minmax")
    levels = np.unique(quantized)
    assert levels.size <= 8 and 0.0 in levels
    step = (weights.max() - weights.min()) / 7
    assert np.abs(weights - quantized).max() <= step / 2 * (1 + 1e-5)


def test_stored_bytes_hand_worked():
    assert stored_bytes(400, 4, "kmeans") == 200 + 16 * 4
    assert stored_bytes(400, 1, "kmeans") == 50 + 2 * 4
    assert stored_bytes(400, 4, "minmax") == 200 + 5  # 32-bit scale + 4-bit zero point
    assert stored_bytes(400, 4, "absmax") == 200 + 4
    assert stored_bytes(3, 3, "kmeans") == 2 + 8 * 4
    # 64 distinct weights at 8 bits share only 64 levels: 6-bit indices and a 64-entry codebook
    assert stored_bytes(64, 8, "kmeans", codebook_size=64) == 48 + 64 * 4


def test_report_counts_the_codebook_actually_used():
    weights = np.random.default_rng(0).normal(size=(8, 8))
    report = weight_report(weights, 8, "kmeans", 1, random_inputs(8))
    assert report.levels.size == 64
    assert report.quantized_bytes == 48 + 64 * 4  # not 64 bytes of indices + a 256-entry codebook


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("p", NORMS)
def test_report_matches_numpy_references(method, p):
    weights = weight_matrix("bimodal", 24, seed=4).astype(np.float64)
    inputs = random_inputs(24, count=50, seed=5)
    report = weight_report(weights, 3, method, p, inputs)
    quantized = report.quantized
    assert report.relative_error == pytest.approx(np.linalg.norm(weights - quantized, p) / np.linalg.norm(weights, p))
    vector_p = 2 if p == "fro" else p
    ratios = [
        np.linalg.norm((weights - quantized) @ x, vector_p) / np.linalg.norm(weights @ x, vector_p) for x in inputs.T
    ]
    assert report.output_error_median == pytest.approx(np.median(ratios))
    assert report.output_error_max == pytest.approx(max(ratios))
    assert report.kl_bits == pytest.approx(histogram_kl(weights, quantized))
    assert report.level_counts.sum() == weights.size
    for level, count in zip(report.levels, report.level_counts):
        assert np.count_nonzero(quantized == level) == count
    assert report.float_bytes == 24 * 24 * 4
    assert report.quantized_bytes == stored_bytes(24 * 24, 3, method)


@pytest.mark.parametrize("distribution", ["normal", "outlier", "laplace"])
@pytest.mark.parametrize("p", NORMS)
def test_measured_output_error_never_exceeds_the_bound(distribution, p):
    weights = weight_matrix(distribution, 30, seed=6)
    for bits in (1, 4):
        report = weight_report(weights, bits, "kmeans", p, random_inputs(30, count=200))
        bound = error_bound(report.relative_error, condition_number(weights, p))
        assert report.output_error_max <= bound * (1 + 1e-9)


def test_bound_is_zero_when_nothing_was_lost_even_for_a_singular_matrix():
    assert error_bound(0.0, float("inf")) == 0.0
    assert error_bound(0.5, float("inf")) == float("inf")
    assert error_bound(0.1, 30.0) == pytest.approx(3.0)


def test_kmeans_beats_linear_in_frobenius_at_every_bit_width():
    # Exact k-means minimises the sum of squared errors, i.e. the Frobenius error, among all 2^bits-level quantizers.
    errors = rate_distortion(weight_matrix("normal", 50, seed=7), "fro")
    assert set(errors) == set(METHODS) and all(e.shape == (8,) for e in errors.values())
    assert (np.diff(errors["kmeans"]) < 0).all()
    assert (errors["kmeans"] <= errors["minmax"] + 1e-12).all()
    assert (errors["kmeans"] <= errors["absmax"] + 1e-12).all()


@pytest.mark.parametrize("p", NORMS)
def test_rate_distortion_matches_numpy_relative_errors(p):
    weights = weight_matrix("outlier", 16, seed=8).astype(np.float64)
    errors = rate_distortion(weights, p, methods=("absmax",), bit_widths=(2, 5))
    expected = [
        np.linalg.norm(weights - quantize_weights(weights, bits, "absmax"), p) / np.linalg.norm(weights, p) for bits in (2, 5)
    ]
    np.testing.assert_allclose(errors["absmax"], expected, rtol=1e-12)
    with pytest.raises(ValueError, match="weights must not be all zeros"):
        rate_distortion(np.zeros((3, 3)), p)


def test_random_inputs_are_seeded_columns():
    inputs = random_inputs(7, count=1000, seed=3)
    assert inputs.shape == (7, 1000)
    np.testing.assert_array_equal(inputs, random_inputs(7, count=1000, seed=3))
    assert abs(inputs.std() - 1) < 0.05


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: quantize_weights(np.ones((3, 3)), 4, "kmedians"), "method must be one of kmeans, minmax, absmax"),
        (lambda: quantize_weights(np.ones((3, 3)), 9, "kmeans"), "bits must be from 1 to 8; got 9"),
        (lambda: quantize_weights(np.ones(3), 2, "kmeans"), "weights must be 2-dimensional"),
        (lambda: stored_bytes(10, 0, "absmax"), "bits must be from 1 to 8; got 0"),
        (lambda: weight_report(np.eye(3), 2, "kmeans", 3, np.ones((3, 2))), "p must be one of 1, 2, inf, 'fro'"),
    ],
)
def test_bad_arguments_name_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
