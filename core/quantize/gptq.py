"""GPTQ (Frantar et al. 2022): round W's columns one at a time, each time moving the rounding error
onto the columns not yet rounded so that the layer's output on real inputs changes least.

For inputs X (n × in) the output error ||X Wᵀ - X Ŵᵀ||² has Hessian H = XᵀX (per row of W). After
rounding column i, the optimal update of the remaining columns F (Optimal Brain Quantization) is
    W[:, F] -= (w_i - q_i) / [H_F⁻¹]_ii · [H_F⁻¹]_{i,F}.
Row i of the upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU) holds exactly [H_F⁻¹]_{i,F} / sqrt([H_F⁻¹]_ii),
so one factorisation serves every step; updates are applied lazily, 128 columns at a time, as in
the paper. H is damped by `damp` × its mean diagonal. Codes use core.quantize.linear's grids: one
scale (and zero point) per row, or per group of `group_size` columns, chosen when the group starts
from the weights as updated so far.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from core.checks import bits as check_bits
from core.checks import finite_array, integer_in_range
from core.quantize.linear import choose_qparams, dequantize, quantize

__all__ = ["GPTQResult", "gptq_quantize", "damped_hessian"]

LAZY_COLUMNS = 128
"""Columns rounded between two updates of the rest of W (the paper's lazy batch)."""


class GPTQResult(NamedTuple):
    """What gptq_quantize returns (unpacks as (weights, codes, scales, zero_points))."""

    weights: np.ndarray
    """Ŵ (out, in) float32: the codes dequantized."""
    codes: np.ndarray
    """(out, in) int32 integer codes."""
    scales: np.ndarray
    """(out, groups) float32: one scale per row and group of group_size columns (one group when None)."""
    zero_points: np.ndarray
    """(out, groups) int32 (zeros when symmetric)."""


def damped_hessian(inputs: np.ndarray, damp: float) -> np.ndarray:
    """XᵀX (in, in) float64 for inputs X (n, in), with inputs that are always zero given a unit diagonal
    (their column is rounded plainly) and damp × mean diagonal added to every diagonal entry."""
    activations = np.asarray(inputs)
    if activations.dtype != np.float32:
        activations = activations.astype(np.float64)
    hessian = (activations.T @ activations).astype(np.float64)  # float32 inputs: a float32 product, twice as fast
    diagonal = np.einsum("ii->i", hessian)  # a view: writes go into hessian
    diagonal[diagonal == 0] = 1.0
    diagonal += damp * diagonal.mean()
    return hessian


def gptq_quantize(
    W: np.ndarray,
    inputs: np.ndarray,
    bits: int,
    group_size: int | None = None,
    symmetric: bool = False,
    damp: float = 0.01,
    progress: Callable[[float, str], None] | None = None,
) -> GPTQResult:
    """Quantize W (out, in) to `bits` (1-8) bits per code, column by column, minimising the output
    error on inputs X (n, in); per-row scales, or per row and group of group_size columns.

    >>> rng = np.random.default_rng(0)
    >>> result = gptq_quantize(rng.normal(size=(3, 8)), rng.normal(size=(50, 8)), bits=4)
    >>> result.weights.shape, result.scales.shape
    ((3, 8), (3, 1))
    """
    weights = finite_array(W, "W", ndim=2).astype(np.float64)
    out_features, in_features = weights.shape
    activations = finite_array(inputs, "inputs", ndim=2)
    if activations.shape[1] != in_features:
        raise ValueError(f"inputs must have {in_features} columns (W's inputs); got shape {activations.shape}")
    bits = check_bits(bits)
    group = in_features if group_size is None else integer_in_range(group_size, "group_size", 1, in_features)
    if isinstance(damp, bool) or not isinstance(damp, (int, float)) or not 0 <= damp <= 1:
        raise ValueError(f"damp must be a number from 0 to 1 (a fraction of the mean diagonal of XᵀX); got {damp!r}")
    report = progress or (lambda fraction, text: None)

    report(0.0, "Hessian XᵀX and its inverse")
    hessian = damped_hessian(activations, float(damp))
    try:
        upper = np.linalg.cholesky(np.linalg.inv(hessian)).T
    except np.linalg.LinAlgError as error:
        raise ValueError(f"XᵀX + damping is not positive definite ({error}); raise damp above {damp}") from error

    n_groups = -(-in_features // group)
    codes = np.empty((out_features, in_features), dtype=np.int32)
    quantized = np.empty((out_features, in_features), dtype=np.float32)
    scales = np.empty((out_features, n_groups), dtype=np.float32)
    zero_points = np.empty((out_features, n_groups), dtype=np.int32)
    for start in range(0, in_features, LAZY_COLUMNS):
        stop = min(start + LAZY_COLUMNS, in_features)
        report(start / in_features, f"columns {start + 1}–{stop} of {in_features}")
        errors = np.empty((out_features, stop - start))
        for column in range(start, stop):
            g = column // group
            if column % group == 0:
                span = slice(column, min(column + group, in_features))
                scale, zero_point = choose_qparams(weights[:, span], bits, symmetric, (1, span.stop - span.start))
                scales[:, g], zero_points[:, g] = scale[:, 0], zero_point[:, 0]
            scale, zero_point = scales[:, g : g + 1], zero_points[:, g : g + 1]
            code = quantize(weights[:, column : column + 1], scale, zero_point, bits, (1, 1), symmetric)
            codes[:, column] = code[:, 0]
            quantized[:, column] = dequantize(code, scale, zero_point, (1, 1))[:, 0]
            error = (weights[:, column] - quantized[:, column]) / upper[column, column]
            weights[:, column + 1 : stop] -= np.outer(error, upper[column, column + 1 : stop])
            errors[:, column - start] = error
        weights[:, stop:] -= errors @ upper[start:stop, stop:]
    report(1.0, "done")
    return GPTQResult(quantized, codes, scales, zero_points)
