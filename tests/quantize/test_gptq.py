"""gptq_quantize against a slow, obvious reference (one column at a time, an explicit inverse of the
remaining Hessian) and against round-to-nearest (core.quantize.linear)."""

import numpy as np
import pytest

from core.quantize.gptq import damped_hessian, gptq_quantize
from core.quantize.linear import choose_qparams, dequantize, fake_quantize, quantize


def correlated_inputs(n: int, features: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)) @ rng.normal(size=(4, features)) + 0.2 * rng.normal(size=(n, features))


def reference_gptq(W, X, bits, group_size, symmetric, damp):
    """Optimal Brain Quantization, column by column: round column i, then move the remaining columns F by
    -(w_i - q_i) / [H_F⁻¹]_00 · [H_F⁻¹]_0,: with H_F⁻¹ the explicit inverse of the Hessian restricted to F."""
    W = np.array(W, dtype=np.float64)
    H = damped_hessian(X, damp)
    n = W.shape[1]
    group = group_size or n
    Q = np.empty_like(W)
    for i in range(n):
        if i % group == 0:
            span = W[:, i : min(i + group, n)]
            scale, zero_point = choose_qparams(span, bits, symmetric, (1, span.shape[1]))
        q = dequantize(quantize(W[:, i : i + 1], scale, zero_point, bits, (1, 1), symmetric), scale, zero_point, (1, 1))
        Q[:, i] = q[:, 0]
        inverse = np.linalg.inv(H[i:, i:])
        W[:, i:] -= np.outer((W[:, i] - Q[:, i]) / inverse[0, 0], inverse[0])
    return Q


@pytest.mark.parametrize(
    ("shape", "bits", "group_size", "symmetric"),
    [((6, 10), 4, None, False), ((5, 12), 3, 4, True), ((8, 7), 2, 3, False), ((4, 9), 8, None, True), ((3, 130), 3, 64, False)],
)
def test_equals_the_column_by_column_reference(shape, bits, group_size, symmetric):
    rng = np.random.default_rng(sum(shape) + bits)
    W = rng.normal(size=shape)
    X = correlated_inputs(40, shape[1], seed=bits)
    result = gptq_quantize(W, X, bits, group_size=group_size, symmetric=symmetric)
    expected = reference_gptq(W, X, bits, group_size, symmetric, 0.01)
    np.testing.assert_allclose(result.weights, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dequantize(result.codes, result.scales, result.zero_points, (1, group_size or shape[1])), result.weights)


def test_uncorrelated_inputs_make_it_round_to_nearest():
    """A diagonal Hessian moves no error onto other columns: GPTQ is then plain per-row (or per-group) rounding."""
    W = np.random.default_rng(1).normal(size=(9, 16))
    X = np.diag(np.linspace(0.5, 2.0, 16))
    np.testing.assert_array_equal(gptq_quantize(W, X, 3).weights, fake_quantize(W, 3, False, (1, 16)))
    np.testing.assert_array_equal(gptq_quantize(W, X, 3, group_size=8).weights, fake_quantize(W, 3, False, (1, 8)))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("bits", [2, 3, 4])
def test_output_error_at_most_round_to_nearest_on_correlated_inputs(seed, bits):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(32, 48))
    X = correlated_inputs(400, 48, seed=seed + 50)
    gptq = gptq_quantize(W, X, bits).weights
    nearest = fake_quantize(W, bits, False, (1, 48))
    assert np.linalg.norm(X @ (W - gptq).T) <= np.linalg.norm(X @ (W - nearest).T)


def test_scales_per_row_and_group():
    W = np.random.default_rng(2).normal(size=(5, 20))
    X = correlated_inputs(30, 20, seed=3)
    assert gptq_quantize(W, X, 4).scales.shape == (5, 1)
    result = gptq_quantize(W, X, 4, group_size=8, symmetric=True)
    assert result.scales.shape == (5, 3) and not result.zero_points.any()
    assert result.codes.min() >= -7 and result.codes.max() <= 7


def test_inputs_that_are_always_zero_are_rounded_plainly():
    W = np.random.default_rng(4).normal(size=(4, 6))
    X = correlated_inputs(30, 6, seed=5)
    X[:, 2] = 0.0
    result = gptq_quantize(W, X, 4)
    assert np.isfinite(result.weights).all()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(W=np.ones((3, 4)), inputs=np.ones((5, 3)), bits=4), "inputs must have 4 columns"),
        (dict(W=np.ones(4), inputs=np.ones((5, 4)), bits=4), "W must be 2-dimensional"),
        (dict(W=np.full((3, 4), np.nan), inputs=np.ones((5, 4)), bits=4), "W must be finite"),
        (dict(W=np.ones((3, 4)), inputs=np.full((5, 4), np.inf), bits=4), "inputs must be finite"),
        (dict(W=np.ones((3, 4)), inputs=np.ones((5, 4)), bits=0), "bits must be from 1 to 8"),
        (dict(W=np.ones((3, 4)), inputs=np.ones((5, 4)), bits=9), "bits must be from 1 to 8"),
        (dict(W=np.ones((3, 4)), inputs=np.ones((5, 4)), bits=2.5), "bits must be an integer"),
        (dict(W=np.ones((3, 4)), inputs=np.ones((5, 4)), bits=4, group_size=0), "group_size must be from 1 to 4"),
        (dict(W=np.ones((3, 4)), inputs=np.ones((5, 4)), bits=4, damp=-0.1), "damp must be a number from 0 to 1"),
    ],
)
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        gptq_quantize(**arguments)
