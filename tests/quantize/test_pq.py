"""product_quantize against independent references: 1-D k-means' optimum, brute-force assignment, the output objective's promise."""

import numpy as np
import pytest

from core.quantize.kmeans import kmeans_1d, sum_squared_error
from core.quantize.pq import output_sse, pq_bits_per_weight, product_quantize


def correlated_inputs(n: int, features: int, seed: int) -> np.ndarray:
    """Inputs whose features move together (a few shared factors plus a little noise), like neighbouring pixels."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n, 3)) @ rng.normal(size=(3, features))
    return factors + 0.1 * rng.normal(size=(n, features))


def test_block_1_with_the_weight_objective_is_1d_kmeans():
    W = np.random.default_rng(0).laplace(size=(40, 60))
    for k in (4, 16):
        codebook, codes, W_hat = product_quantize(W, block=1, k=k)
        optimum_centroids, optimum_labels = kmeans_1d(W, k, method="exact")
        optimum = sum_squared_error(W, optimum_centroids, optimum_labels)
        assert ((W - W_hat) ** 2).sum() == pytest.approx(optimum, rel=0.01)  # kmeans_1d fast: within ~1% up to 32
        assert codebook.shape == (k, 1) and codes.shape == (40, 60)


def test_weights_are_the_codebook_laid_out_and_stored_as_float16():
    W = np.random.default_rng(1).normal(size=(12, 16))
    codebook, codes, W_hat = product_quantize(W, block=4, k=8, seed=3)
    assert codebook.shape == (8, 4) and codes.shape == (12, 4) and codes.dtype == np.uint8
    np.testing.assert_array_equal(codebook, codebook.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(W_hat, codebook[codes].reshape(12, 16))


def test_each_sub_vector_takes_its_nearest_codeword_under_the_weight_objective():
    W = np.random.default_rng(2).normal(size=(30, 12))
    codebook, codes, _ = product_quantize(W, block=3, k=6)
    distances = ((W.reshape(-1, 1, 3) - codebook[None].astype(np.float64)) ** 2).sum(axis=2)
    chosen = distances[np.arange(len(distances)), codes.ravel()]
    np.testing.assert_allclose(chosen, distances.min(axis=1), rtol=1e-5, atol=1e-9)


def test_output_objective_assigns_by_output_error_brute_force():
    """With no EM steps the codes are the weight objective's; one step ends on an assignment that is,
    for every sub-vector, the codeword least costly in output error through its own block of XᵀX."""
    W = np.random.default_rng(3).normal(size=(10, 8))
    X = correlated_inputs(200, 8, seed=4)
    codebook, codes, _ = product_quantize(W, block=2, k=5, objective="outputs", inputs=X, iterations=1)
    codebook = codebook.astype(np.float64)
    for row in range(10):
        for j in range(4):
            block_inputs = X[:, 2 * j : 2 * j + 2]
            errors = [((block_inputs @ (W[row, 2 * j : 2 * j + 2] - c)) ** 2).sum() for c in codebook]
            assert errors[codes[row, j]] == pytest.approx(min(errors), rel=1e-4)


@pytest.mark.parametrize("seed", range(6))
def test_output_objective_never_worse_in_output_error_on_its_data(seed):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(48, 32))
    X = correlated_inputs(300, 32, seed=seed + 100)
    gram = X.T @ X
    by_weights = product_quantize(W, block=4, k=16, seed=seed).weights
    by_outputs = product_quantize(W, block=4, k=16, objective="outputs", inputs=X, seed=seed).weights
    assert output_sse(W, by_outputs, gram) <= output_sse(W, by_weights, gram)
    assert ((W - by_outputs) ** 2).sum() >= ((W - by_weights) ** 2).sum() * 0.999  # it pays in weight error


def test_output_objective_wins_clearly_when_paired_inputs_move_together():
    """Each pair of inputs is nearly one input twice: only w1 + w2 reaches the output, and the output
    objective spends its codewords on that sum alone."""
    rng = np.random.default_rng(7)
    W = rng.normal(size=(64, 16))
    X = np.repeat(rng.normal(size=(500, 8)), 2, axis=1) + 0.01 * rng.normal(size=(500, 16))
    gram = X.T @ X
    by_weights = product_quantize(W, block=2, k=8).weights
    by_outputs = product_quantize(W, block=2, k=8, objective="outputs", inputs=X).weights
    assert output_sse(W, by_outputs, gram) < 0.7 * output_sse(W, by_weights, gram)


def test_duplicate_sub_vectors_and_empty_clusters():
    W = np.tile([[1.0, 2.0, -1.0, 0.5, 3.0, 3.0]], (5, 1))  # three distinct sub-vectors of 2, asked for 6 codewords
    _, _, W_hat = product_quantize(W, block=2, k=6)
    np.testing.assert_allclose(W_hat, W, atol=1e-3)
    _, _, W_hat = product_quantize(W, block=2, k=6, objective="outputs", inputs=np.ones((4, 6)))
    assert np.isfinite(W_hat).all()


def test_deterministic_for_a_seed():
    W = np.random.default_rng(5).normal(size=(20, 20))
    X = correlated_inputs(50, 20, seed=6)
    first = product_quantize(W, 4, 8, "outputs", X, seed=11)
    again = product_quantize(W, 4, 8, "outputs", X, seed=11)
    np.testing.assert_array_equal(first.codes, again.codes)
    np.testing.assert_array_equal(first.codebook, again.codebook)


def test_bits_per_weight_count_indices_and_the_float16_codebook():
    assert pq_bits_per_weight((1000, 784), block=4, k=256) == pytest.approx(2 + 256 * 4 * 16 / 784_000)
    assert pq_bits_per_weight((10, 8), block=8, k=2) == pytest.approx((10 * 1 + 2 * 8 * 16) / 80)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(W=np.ones(5), block=1, k=2), "W must be 2-dimensional"),
        (dict(W=np.full((4, 4), np.nan), block=1, k=2), "W must be finite"),
        (dict(W=np.full((4, 4), 1e6), block=1, k=2), "W must fit float16 codewords"),
        (dict(W=np.ones((4, 6)), block=4, k=2), "block must divide"),
        (dict(W=np.ones((4, 6)), block=0, k=2), "block must be"),
        (dict(W=np.ones((4, 6)), block=2, k=13), "k must be from 1 to 12"),
        (dict(W=np.ones((4, 6)), block=2, k=2, objective="loss"), "objective must be one of"),
        (dict(W=np.ones((4, 6)), block=2, k=2, objective="outputs"), "inputs must be given"),
        (dict(W=np.ones((4, 6)), block=2, k=2, objective="outputs", inputs=np.ones((9, 5))), "inputs must have 6 columns"),
        (dict(W=np.ones((4, 6)), block=2, k=2, objective="outputs", inputs=np.full((9, 6), np.inf)), "inputs must be finite"),
    ],
)
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        product_quantize(**arguments)
