"""Seeded random weight matrices with the distributions the weights page compares.

- "normal":  N(0, 1)
- "uniform": U(-2, 2)
- "outlier": N(0, 1) with one entry, at a seeded position, set to OUTLIER_VALUE (25)
- "laplace": Laplace(0, 1/sqrt(2)), heavier tails than the normal at the same variance 1
- "bimodal": an even mix of N(-2, 0.5^2) and N(+2, 0.5^2), no weights near 0
"""

from __future__ import annotations

import numpy as np

from core.checks import integer_in_range

DISTRIBUTIONS = ("normal", "uniform", "outlier", "laplace", "bimodal")
OUTLIER_VALUE = 25.0
MAX_SIZE = 4096
OUTLIER_ROWS = 4
SINGULAR = "singular"
OUTLIER_ROW_FACTOR = 10.0


def weight_matrix(distribution: str, n: int, seed: int = 0) -> np.ndarray:
    """An (n, n) float32 matrix of weights drawn from `distribution`; the same seed gives the same matrix.

    >>> weight_matrix("outlier", 20, seed=1).max()
    np.float32(25.0)
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}; got {distribution!r}")
    n = integer_in_range(n, "n", 1, MAX_SIZE)
    seed = integer_in_range(seed, "seed", 0, 2**32 - 1)
    rng = np.random.default_rng(seed)
    shape = (n, n)
    if distribution == "normal":
        weights = rng.standard_normal(shape)
    elif distribution == "uniform":
        weights = rng.uniform(-2.0, 2.0, shape)
    elif distribution == "outlier":
        weights = rng.standard_normal(shape)
        weights[np.unravel_index(rng.integers(n * n), shape)] = OUTLIER_VALUE
    elif distribution == "laplace":
        weights = rng.laplace(0.0, 1 / np.sqrt(2), shape)
    else:
        weights = rng.normal(np.where(rng.random(shape) < 0.5, -2.0, 2.0), 0.5)
    return weights.astype(np.float32)


def outlier_rows_matrix(m: int = 256, n: int = 256, seed: int = 0) -> np.ndarray:
    """An (m, n) float32 N(0, 1) matrix whose OUTLIER_ROWS rows, at seeded positions, are OUTLIER_ROW_FACTOR
    times larger: the case where one scale per tensor wastes its levels and per-row scales do not."""
    m = integer_in_range(m, "m", OUTLIER_ROWS, MAX_SIZE)
    n = integer_in_range(n, "n", 1, MAX_SIZE)
    seed = integer_in_range(seed, "seed", 0, 2**32 - 1)
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((m, n)).astype(np.float32)
    weights[rng.choice(m, OUTLIER_ROWS, replace=False)] *= OUTLIER_ROW_FACTOR
    return weights


def singular_matrix(n: int, seed: int = 0) -> np.ndarray:
    """An (n, n) float32 N(0, 1) matrix whose last row repeats its first: exactly singular (rank n - 1),
    so it has no inverse and its condition number is infinite."""
    weights = weight_matrix("normal", integer_in_range(n, "n", 2, MAX_SIZE), seed)
    weights[-1] = weights[0]
    return weights
