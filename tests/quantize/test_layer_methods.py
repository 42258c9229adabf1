"""core.quantize.layer_methods: matched-bits configurations, storage counts, errors and the article's bound."""

import numpy as np
import pytest

from core.measure.norms import condition_number
from core.quantize.layer_methods import (
    GROUP,
    METHODS,
    compare_methods,
    condition_number_2,
    output_error,
    pq_shape,
    quantize_layer,
)
from core.quantize.linear import fake_quantize


def layer_and_inputs(shape=(48, 32), n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = np.maximum(rng.normal(size=(n, 6)) @ rng.normal(size=(6, shape[1])), 0)  # ReLU activations, correlated
    return rng.normal(size=shape), X


@pytest.mark.parametrize(
    ("features", "bits", "expected"),
    [(784, 1, (8, 256)), (784, 2, (4, 256)), (784, 3, (2, 64)), (784, 4, (2, 256)), (84, 1, (4, 16)), (84, 2, (4, 256))],
)
def test_pq_shape_spends_the_bits_on_the_largest_block_that_fits(features, bits, expected):
    assert pq_shape(features, bits) == expected


def test_round_to_nearest_is_core_linear_and_counts_its_scales():
    W, X = layer_and_inputs()
    W_hat, storage = quantize_layer(W, "round to nearest, per row", 3, X)
    np.testing.assert_array_equal(W_hat, fake_quantize(W, 3, False, (1, 32)))
    assert storage == pytest.approx(3 + (16 + 3) / 32)  # a float16 scale and a 3-bit zero point per row of 32
    W_hat, storage = quantize_layer(W, f"round to nearest, per group of {GROUP}", 3, X)
    np.testing.assert_array_equal(W_hat, fake_quantize(W, 3, False, (1, 32)))  # a group wider than the row is the row


def test_kmeans_counts_its_float16_codebook():
    W, X = layer_and_inputs()
    W_hat, storage = quantize_layer(W, "1-D k-means (the article)", 2, X)
    assert len(np.unique(W_hat)) <= 4
    assert storage == pytest.approx(2 + 4 * 16 / W.size)


def test_output_error_by_hand():
    W, X = layer_and_inputs()
    W_hat = W + 0.01
    assert output_error(W, W_hat, X) == pytest.approx(np.linalg.norm(X @ (W - W_hat).T) / np.linalg.norm(X @ W.T))


def test_condition_number_of_square_tall_and_wide_matrices():
    rng = np.random.default_rng(1)
    square = rng.normal(size=(12, 12))
    assert condition_number_2(square) == pytest.approx(condition_number(square, 2))
    tall = rng.normal(size=(30, 12))
    eigenvalues = np.linalg.eigvalsh(tall.T @ tall)
    assert condition_number_2(tall) == pytest.approx(np.sqrt(eigenvalues[-1] / eigenvalues[0]))
    assert condition_number_2(tall.T) == float("inf")


def test_every_method_measured_and_the_bound_holds_on_a_tall_layer():
    W, X = layer_and_inputs(shape=(48, 32))
    _, test_inputs = layer_and_inputs(shape=(48, 32), n=100, seed=9)
    rows = compare_methods(W, X, test_inputs, 2)
    assert [row["method"] for row in rows] == list(METHODS)
    for row in rows:
        assert row["output_error"] <= row["bound"]
        assert row["bits_per_weight"] > 1.9
    by_method = {row["method"]: row for row in rows}
    # PQ's 256 float16 codewords of 4 are 10.7 bits per weight of this 1,536-weight layer
    assert by_method["PQ, weight objective"]["bits_per_weight"] == pytest.approx(2 + 256 * 4 * 16 / 1536)
    assert by_method["GPTQ"]["output_error_fit"] <= by_method["round to nearest, per row"]["output_error_fit"]
    assert by_method["PQ, output objective"]["output_error_fit"] <= by_method["PQ, weight objective"]["output_error_fit"]


def test_bad_method_bits_and_shapes_are_named():
    W, X = layer_and_inputs()
    with pytest.raises(ValueError, match="method must be one of"):
        quantize_layer(W, "magic", 2, X)
    with pytest.raises(ValueError, match="bits must be from 1 to 4"):
        quantize_layer(W, "GPTQ", 5, X)
    with pytest.raises(ValueError, match="test_inputs must have 32 columns"):
        compare_methods(W, X, X[:, :5], 2)
