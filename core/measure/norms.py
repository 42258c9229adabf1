"""Induced matrix norms, condition numbers and the errors that quantizing a matrix causes.

The article's demo called the largest absolute entry the "1-norm"; here the 1-norm is the
induced one, max_j sum_i |A_ij| (the largest column absolute sum).
"""

from __future__ import annotations

import numpy as np

from core.checks import finite_array, square_matrix


def _norm_order(p: object) -> int | float | str:
    if isinstance(p, str) and p.lower() in ("inf", "fro"):
        return np.inf if p.lower() == "inf" else "fro"
    if not isinstance(p, str) and p in (1, 2, np.inf):
        return p
    raise ValueError(f"p must be one of 1, 2, inf, 'fro'; got {p!r}")


def _vector_order(p: object) -> int | float:
    """The vector norm an operator norm is induced by; Frobenius is consistent with the 2-norm."""
    order = _norm_order(p)
    return 2 if order == "fro" else order


def _same_shape_matrices(W: object, Q: object) -> tuple[np.ndarray, np.ndarray]:
    """W and Q as finite float64 matrices of one shape, or ValueError."""
    weights = finite_array(W, "W", ndim=2).astype(np.float64, copy=False)
    quantized = finite_array(Q, "Q", ndim=2).astype(np.float64, copy=False)
    if quantized.shape != weights.shape:
        raise ValueError(f"Q must have the shape of W {weights.shape}; got {quantized.shape}")
    return weights, quantized


def _matrix_norm(matrix: np.ndarray, order: int | float | str) -> float:
    if order != 2:
        return float(np.linalg.norm(matrix, order))
    # the largest singular value without a full SVD: the top eigenvalue of the smaller Gram matrix
    gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
    return float(np.sqrt(max(np.linalg.eigvalsh(gram)[-1], 0.0)))


def operator_norm(A: np.ndarray, p: object = 1) -> float:
    """||A||_p: p=1 max column abs sum, p=2 largest singular value, p=inf max row abs sum, "fro" Frobenius."""
    matrix = finite_array(A, "A", ndim=2).astype(np.float64, copy=False)
    return _matrix_norm(matrix, _norm_order(p))


def is_singular(singular_values: np.ndarray, shape: tuple[int, int]) -> bool:
    """True when the smallest singular value is zero to working precision (numpy's matrix_rank rule)."""
    tolerance = singular_values.max(initial=0.0) * max(shape) * np.finfo(np.float64).eps
    return bool(singular_values.min() <= tolerance)


def condition_number(A: np.ndarray, p: object = 1) -> float:
    """||A||_p * ||A^-1||_p for a square A; inf when A is singular to working precision (decided by the SVD)."""
    matrix = square_matrix(A, "A")
    order = _norm_order(p)
    singular_values = np.linalg.svd(matrix, compute_uv=False)
    if is_singular(singular_values, matrix.shape):
        return float("inf")
    if order == 2:
        return float(singular_values[0] / singular_values[-1])
    return _matrix_norm(matrix, order) * _matrix_norm(np.linalg.inv(matrix), order)


def relative_error(W: np.ndarray, Q: np.ndarray, p: object = 1) -> float:
    """||W - Q||_p / ||W||_p in the norm of operator_norm; W must not be all zeros."""
    weights, quantized = _same_shape_matrices(W, Q)
    order = _norm_order(p)
    scale = _matrix_norm(weights, order)
    if scale == 0:
        raise ValueError("W must not be all zeros: its relative error is undefined")
    return _matrix_norm(weights - quantized, order) / scale


def output_error(W: np.ndarray, Q: np.ndarray, X: np.ndarray, p: object = 2) -> tuple[float, float]:
    """Median and max over the columns x of X of ||(W - Q) x|| / ||W x||, in the vector norm p induces.

    The bound relative_error(W, Q, p) * condition_number(W, p) holds for every column.
    Columns with W x = 0 are skipped; if all are, the result is (inf, inf).
    """
    weights, quantized = _same_shape_matrices(W, Q)
    inputs = finite_array(X, "X", ndim=2).astype(np.float64, copy=False)
    if inputs.shape[0] != weights.shape[1]:
        raise ValueError(f"X must have {weights.shape[1]} rows (W's columns); got shape {inputs.shape}")
    order = _vector_order(p)
    output_norms = np.linalg.norm(weights @ inputs, order, axis=0)
    error_norms = np.linalg.norm((weights - quantized) @ inputs, order, axis=0)
    nonzero = output_norms > 0
    if not nonzero.any():
        return float("inf"), float("inf")
    ratios = error_norms[nonzero] / output_norms[nonzero]
    return float(np.median(ratios)), float(ratios.max())
