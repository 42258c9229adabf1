"""Quantize a weight matrix by k-means weight sharing or by linear quantization, and measure it.

Methods:
- "kmeans": 2^bits shared values from 1-D k-means (exact up to EXACT_LIMIT weights, fast above);
  stored as bits-wide indices plus a float32 codebook.
- "minmax": per-tensor affine linear quantization over [min, max] (core.quantize.linear, symmetric=False).
- "absmax": per-tensor symmetric linear quantization over [-max|w|, max|w|] (symmetric=True).
  Both linear methods store bits-wide codes plus one float32 scale (and a bits-wide zero point).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.checks import bits as check_bits
from core.checks import finite_array, integer_in_range
from core.measure import norms
from core.measure.divergence import histogram_kl
from core.measure.sizes import float_bytes, linear_bytes, shared_bytes
from core.quantize.kmeans import kmeans_1d
from core.quantize.linear import fake_quantize

METHODS = ("kmeans", "minmax", "absmax")
# The exact method's dynamic program takes ~100 ms for 8 bits at 400 weights, 0.8 s at 10,000; the
# fast one is within ~5% of it there and 10-30x quicker, so a slider over n stays live.
EXACT_LIMIT = 256
BIT_WIDTHS = tuple(range(1, 9))
N_INPUTS = 1000


@dataclass(frozen=True)
class WeightReport:
    """Everything the weights page shows about W quantized to Q."""

    quantized: np.ndarray
    """Q, float64 with the shape of W."""
    levels: np.ndarray
    """The distinct values of Q, ascending."""
    level_counts: np.ndarray
    """How many weights share each level."""
    relative_error: float
    """||W - Q|| / ||W|| in the chosen norm."""
    output_error_median: float
    """Median over the inputs x of ||(W - Q) x|| / ||W x||, in the vector norm the chosen norm is induced by."""
    output_error_max: float
    """Max of the same ratio over the inputs."""
    kl_bits: float
    """KL divergence in bits between the histograms of W and Q (core.measure.divergence)."""
    float_bytes: int
    """Bytes of W as float32."""
    quantized_bytes: int
    """Bytes of Q as stored by the method."""


def _weights(weights: np.ndarray) -> np.ndarray:
    return finite_array(weights, "weights", ndim=2).astype(np.float64, copy=False)


def _method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    return method


def quantize_weights(weights: np.ndarray, bits: int, method: str) -> np.ndarray:
    """W (m, n) quantized to `bits` bits (1-8) by `method` in METHODS; float64 (m, n)."""
    weights = _weights(weights)
    bits = check_bits(bits)
    if _method(method) == "kmeans":
        centroids, labels = kmeans_1d(weights, 2**bits, method="exact" if weights.size <= EXACT_LIMIT else "fast")
        return centroids[labels]
    return fake_quantize(weights, bits, symmetric=method == "absmax").astype(np.float64)


def stored_bytes(n_values: int, bits: int, method: str, codebook_size: int | None = None) -> int:
    """Bytes of n_values weights quantized by `method`. kmeans: indices into a float32 codebook of
    codebook_size values (default 2^bits; fewer when the weights have fewer distinct values),
    packed at ceil(log2 codebook_size) bits; linear: bits-wide codes plus one float32 scale and,
    for minmax, a bits-wide zero point."""
    bits = check_bits(bits)
    if _method(method) == "kmeans":
        return shared_bytes(n_values, 2**bits if codebook_size is None else codebook_size)
    return linear_bytes(n_values, bits, symmetric=method == "absmax")


def random_inputs(n: int, count: int = N_INPUTS, seed: int = 0) -> np.ndarray:
    """`count` standard normal input vectors of length n, as the columns of an (n, count) float64 array."""
    n = integer_in_range(n, "n", 1, 1_000_000)
    count = integer_in_range(count, "count", 1, 1_000_000)
    seed = integer_in_range(seed, "seed", 0, 2**32 - 1)
    return np.random.default_rng(seed).standard_normal((n, count))


def weight_report(weights: np.ndarray, bits: int, method: str, p: object, inputs: np.ndarray) -> WeightReport:
    """Quantize W (m, n) and measure it: errors in norm p (1, 2, inf, "fro"), output error over the
    columns of inputs (n, count), KL divergence of the histograms and bytes."""
    weights = _weights(weights)
    quantized = quantize_weights(weights, bits, method)
    levels, level_counts = np.unique(quantized, return_counts=True)
    output_median, output_max = norms.output_error(weights, quantized, inputs, p)
    return WeightReport(
        quantized=quantized,
        levels=levels,
        level_counts=level_counts,
        relative_error=norms.relative_error(weights, quantized, p),
        output_error_median=output_median,
        output_error_max=output_max,
        kl_bits=histogram_kl(weights, quantized),
        float_bytes=float_bytes(weights.size),
        quantized_bytes=stored_bytes(weights.size, bits, method, codebook_size=levels.size),
    )


def error_bound(relative_error: float, condition_number: float) -> float:
    """The bound on ||(W - Q) x|| / ||W x||: relative error x condition number (0 when Q = W, even if W is singular)."""
    return 0.0 if relative_error == 0 else relative_error * condition_number


def rate_distortion(
    weights: np.ndarray, p: object, methods: tuple[str, ...] = METHODS, bit_widths: tuple[int, ...] = BIT_WIDTHS
) -> dict[str, np.ndarray]:
    """{method: relative error ||W - Q|| / ||W|| in norm p at each of bit_widths}, each float64 (len(bit_widths),)."""
    weights = _weights(weights)
    scale = norms.operator_norm(weights, p)  # once for all 3 x 8 errors: a 2-norm costs an eigendecomposition
    if scale == 0:
        raise ValueError("weights must not be all zeros: their relative error is undefined")
    return {
        method: np.array(
            [norms.operator_norm(weights - quantize_weights(weights, bits, method), p) / scale for bits in bit_widths]
        )
        for method in methods
    }
