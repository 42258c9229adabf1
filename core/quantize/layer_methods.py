"""One weight matrix quantized by every method at (nearly) the same bits per weight, and what each
costs in weight error and in output error on real inputs.

At a budget of b bits per weight (b = 1 … 4):
- round to nearest: b-bit asymmetric codes, a float16 scale and b-bit zero point per row (or per
  group of GROUP columns);
- 1-D k-means (the article): one codebook of 2^b float16 values for the layer;
- product quantization, weight or output objective: sub-vectors of the largest block of 8, 4, 2, 1
  inputs that divides the row with b × block <= 8, so k = 2^(b × block) codewords (at most 256);
- GPTQ: b-bit codes with per-row scales, as round to nearest stores them.
Scales, zero points and codebooks are counted in the bits per weight.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from core.checks import finite_array, integer_in_range
from core.measure.norms import is_singular, relative_error
from core.quantize.gptq import gptq_quantize
from core.quantize.linear import bits_per_value, fake_quantize
from core.quantize.pq import pq_bits_per_weight, product_quantize

__all__ = ["METHODS", "GROUP", "pq_shape", "quantize_layer", "compare_methods", "output_error", "error_bound", "condition_number_2", "measure"]

GROUP = 64
"""Columns per scale for round to nearest per group."""
SCALE_BITS = 16
"""Scales are stored as float16, like the codebooks (as GPTQ and the PQ paper store them)."""
METHODS = (
    "round to nearest, per row",
    f"round to nearest, per group of {GROUP}",
    "1-D k-means (the article)",
    "PQ, weight objective",
    "PQ, output objective",
    "GPTQ",
)
MAX_BITS = 4
_BLOCKS = (8, 4, 2, 1)


def pq_shape(in_features: int, bits: int) -> tuple[int, int]:
    """(block, k) of product quantization at `bits` bits per index weight: the largest block of 8, 4, 2, 1
    dividing in_features with bits × block <= 8, and k = 2^(bits × block)."""
    block = next(size for size in _BLOCKS if in_features % size == 0 and bits * size <= 8)
    return block, 2 ** (bits * block)


def quantize_layer(
    W: np.ndarray, method: str, bits: int, inputs: np.ndarray, progress: Callable[[float, str], None] | None = None
) -> tuple[np.ndarray, float]:
    """W (out, in) quantized by `method` (one of METHODS) at `bits` (1 … 4) with calibration inputs (n, in);
    returns (Ŵ float32 (out, in), storage bits per weight)."""
    weights = finite_array(W, "W", ndim=2)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    bits = integer_in_range(bits, "bits", 1, MAX_BITS)
    shape = weights.shape
    if method.startswith("round to nearest"):
        block_size = (1, shape[1]) if method.endswith("per row") else (1, min(GROUP, shape[1]))
        return fake_quantize(weights, bits, False, block_size), bits_per_value(shape, block_size, bits, False, SCALE_BITS)
    if method == "GPTQ":
        result = gptq_quantize(weights, inputs, bits, progress=progress)
        return result.weights, bits_per_value(shape, (1, shape[1]), bits, False, SCALE_BITS)
    if method.startswith("1-D k-means"):
        block, k = 1, 2**bits
    else:
        block, k = pq_shape(shape[1], bits)
        k = min(k, weights.size // block)
    objective = "outputs" if method == "PQ, output objective" else "weights"
    result = product_quantize(weights, block, k, objective, inputs if objective == "outputs" else None, progress=progress)
    return result.weights, pq_bits_per_weight(shape, block, k)


def output_error(W: np.ndarray, W_hat: np.ndarray, inputs: np.ndarray) -> float:
    """||X (W - Ŵ)ᵀ||_F / ||X Wᵀ||_F for inputs X (n, in): the relative change of the layer's output (bias aside)."""
    activations = np.asarray(inputs, dtype=np.float64)
    return relative_error(activations @ np.asarray(W, np.float64).T, activations @ np.asarray(W_hat, np.float64).T, "fro")


def condition_number_2(W: np.ndarray) -> float:
    """σ_max / σ_min of W (out, in), as a bound on how much W can shrink an input; inf when out < in
    (W has a null space: some input gives output 0) or W is singular to working precision."""
    weights = finite_array(W, "W", ndim=2).astype(np.float64)
    if weights.shape[0] < weights.shape[1]:
        return float("inf")
    singular_values = np.linalg.svd(weights, compute_uv=False)
    return float("inf") if is_singular(singular_values, weights.shape) else float(singular_values[0] / singular_values[-1])


def error_bound(W: np.ndarray, W_hat: np.ndarray, condition: float) -> float:
    """The article's bound on the output error, ||W - Ŵ||₂ / ||W||₂ × cond₂(W): it holds for every input,
    so also for ||X (W - Ŵ)ᵀ||_F / ||X Wᵀ||_F."""
    return relative_error(W, W_hat, 2) * condition


def measure(
    method: str, W: np.ndarray, W_hat: np.ndarray, storage: float, fit_inputs: np.ndarray, test_inputs: np.ndarray, condition: float
) -> dict:
    """One row of compare_methods for Ŵ stored in `storage` bits per weight; condition is condition_number_2(W)."""
    return {
        "method": method,
        "bits_per_weight": storage,
        "weight_error": relative_error(W, W_hat, "fro"),
        "output_error_fit": output_error(W, W_hat, fit_inputs),
        "output_error": output_error(W, W_hat, test_inputs),
        "bound": error_bound(W, W_hat, condition),
        "quantized": W_hat,
    }


def compare_methods(
    W: np.ndarray,
    fit_inputs: np.ndarray,
    test_inputs: np.ndarray,
    bits: int,
    methods: tuple[str, ...] = METHODS,
    progress: Callable[[float, str], None] | None = None,
) -> list[dict]:
    """Each method on W (out, in) at `bits`, calibrated on fit_inputs (n, in) and measured on test_inputs (m, in):
    rows {method, bits_per_weight, weight_error (Frobenius, relative), output_error_fit, output_error, bound,
    quantized (Ŵ float32)}."""
    weights = finite_array(W, "W", ndim=2)
    for name, inputs in (("fit_inputs", fit_inputs), ("test_inputs", test_inputs)):
        if finite_array(inputs, name, ndim=2).shape[1] != weights.shape[1]:
            raise ValueError(f"{name} must have {weights.shape[1]} columns (W's inputs); got shape {np.shape(inputs)}")
    report = progress or (lambda fraction, text: None)
    condition = condition_number_2(weights)
    rows = []
    for index, method in enumerate(methods):
        def step(fraction: float, text: str, index: int = index, method: str = method) -> None:
            report((index + fraction) / len(methods), f"{method}: {text}")

        step(0.0, "quantizing")
        W_hat, storage = quantize_layer(weights, method, bits, fit_inputs, progress=step)
        rows.append(measure(method, weights, W_hat, storage, fit_inputs, test_inputs, condition))
    report(1.0, "done")
    return rows
