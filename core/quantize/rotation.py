"""Random-sign Hadamard rotations (as QuaRot and QuIP# apply them before quantizing): an orthogonal matrix
that spreads one large value evenly over many, so a block's scale is no longer set by an outlier.

The rotation acts on the last axis in chunks of R values, R the largest power of two dividing its length
(at most MAX_SIZE): y = H_R · diag(s) · x / sqrt(R) with H_R the Sylvester Hadamard matrix and s a seeded
vector of ±1. It is orthogonal, so it keeps every norm; `unrotate` is its transpose. In a layer y = W x it
can be folded in: W x = (W Q)(Q^T x), which is why it acts along the input (last) axis.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from core.checks import finite_array, integer_in_range

MAX_SIZE = 4096
_SIGN_STREAM = 0x48414441  # "HADA"


def rotation_size(length: int) -> int:
    """R: the largest power of two that divides `length`, at most MAX_SIZE (1 for an odd length)."""
    length = integer_in_range(length, "length", 1, 2**62)
    return min(length & -length, MAX_SIZE)


def random_signs(size: int, seed: int) -> np.ndarray:
    """The seeded ±1 diagonal, (size,) float32."""
    # A stream of its own: default_rng(seed) alone would repeat the draws of weights made with the same seed
    # (Laplace weights from seed 0 begin with uniforms whose signs these would copy, aligning a whole row).
    rng = np.random.default_rng([integer_in_range(seed, "seed", 0, 2**32 - 1), _SIGN_STREAM])
    return np.where(rng.random(size) < 0.5, np.float32(-1), np.float32(1))


def rotate(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """x (any shape, float) rotated along its last axis: H · diag(s) · x / sqrt(R) per chunk of R; float32."""
    x = _vectors(x, "x")
    size = rotation_size(x.shape[-1])
    chunks = x.reshape(-1, size) * random_signs(size, seed)
    return _hadamard(chunks).reshape(x.shape)


def unrotate(y: np.ndarray, seed: int = 0) -> np.ndarray:
    """The inverse of rotate(·, seed): diag(s) · H · y / sqrt(R) per chunk; float32 with y's shape."""
    y = _vectors(y, "y")
    size = rotation_size(y.shape[-1])
    return (_hadamard(y.reshape(-1, size)) * random_signs(size, seed)).reshape(y.shape)


def _vectors(values: object, name: str) -> np.ndarray:
    array = finite_array(values, name)
    if array.ndim == 0:
        raise ValueError(f"{name} must have at least one axis to rotate along; got a single number")
    return array.astype(np.float32)


def _hadamard(rows: np.ndarray) -> np.ndarray:
    """H_R · row / sqrt(R) for every row of an (m, R) array. H_R = H_a ⊗ H_b (a·b = R): a row read as an (a, b)
    matrix V maps to H_a · V · H_b, two small matrix products instead of an R × R one."""
    size = rows.shape[1]
    a = 2 ** ((size.bit_length()) // 2)
    b = size // a
    product = np.matmul(_sylvester(a), rows.reshape(-1, a, b) @ _sylvester(b))
    return product.reshape(rows.shape) * np.float32(1 / np.sqrt(size))


@lru_cache(maxsize=None)
def _sylvester(size: int) -> np.ndarray:
    """The (size, size) Sylvester Hadamard matrix of ±1 (size a power of two), float32."""
    matrix = np.ones((1, 1), dtype=np.float32)
    while matrix.shape[0] < size:
        matrix = np.block([[matrix, matrix], [matrix, -matrix]])
    matrix.flags.writeable = False
    return matrix
