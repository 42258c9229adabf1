"""Product quantization of a weight matrix (Stock et al. 2019, *And the Bit Goes Down*).

Each row of W (out × in) is cut into sub-vectors of `block` consecutive input weights; every
sub-vector of the layer is replaced by one of k shared codewords, so a weight costs log2(k)/block
bits plus its share of the codebook (k × block float16 values, as in the paper).

Two objectives choose the codewords:
- "weights": k-means on the sub-vectors, minimising ||W - Ŵ||².
- "outputs": the paper's EM, minimising the error of the layer's output on real inputs X (n × in),
  ||X (W - Ŵ)ᵀ||². Sub-vector j of a row only meets input columns j·block … (j+1)·block - 1, so its
  error is (w - c)ᵀ H_j (w - c) with H_j that block of the Gram matrix XᵀX (the cross terms between
  blocks are left out, as in the paper). Assigning is an argmin of cᵀH_j c - 2 wᵀH_j c, one batched
  matrix product per block; each codeword is then the least-squares solution (Σ H_j) c = Σ H_j w over
  the sub-vectors it serves. The paper pools one Gram for all blocks; the per-block Grams here are the
  exact diagonal blocks of XᵀX.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from core.checks import finite_array, integer_in_range
from core.measure.sizes import index_bits
from core.quantize.kmeans import kmeans_1d

__all__ = ["OBJECTIVES", "ProductQuantized", "product_quantize", "pq_bits_per_weight", "output_sse"]

OBJECTIVES = ("weights", "outputs")
CODEWORD_BITS = 16
"""Codewords are stored as float16 (as in the paper); Ŵ is built from the float16 values."""
MAX_K = 65_536
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_ROWS_PER_CHUNK = 16_384  # sub-vectors scored against all codewords at once (k = 256: 16 MB of float32)
_INIT_SAMPLE = 16_384  # k-means++ draws its starting centres from at most this many sub-vectors
_SPLIT_NOISE = 1e-3  # relative size of the nudge that splits a cluster in two


class ProductQuantized(NamedTuple):
    """What product_quantize returns (unpacks as (codebook, codes, weights))."""

    codebook: np.ndarray
    """(k, block) float32, every value exactly a float16."""
    codes: np.ndarray
    """(out, in // block) codeword index of each sub-vector (uint8 when k <= 256, else uint16)."""
    weights: np.ndarray
    """Ŵ (out, in) float32: codebook[codes] laid back out."""


def pq_bits_per_weight(shape: tuple[int, int], block: int, k: int) -> float:
    """Storage bits per weight of an (out, in) matrix: index_bits(k) per sub-vector of `block` weights,
    plus k × block float16 codewords shared by the layer."""
    out_features, in_features = shape
    sub_vectors = out_features * in_features // block
    return (sub_vectors * index_bits(k) + k * block * CODEWORD_BITS) / (out_features * in_features)


def output_sse(W: np.ndarray, W_hat: np.ndarray, gram: np.ndarray) -> float:
    """||X (W - Ŵ)ᵀ||_F² computed from the Gram matrix XᵀX (in, in): the sum over rows of eᵀ (XᵀX) e."""
    error = np.asarray(W, dtype=np.float64) - np.asarray(W_hat, dtype=np.float64)
    return float(np.einsum("ij,ij->", error @ gram, error))


def product_quantize(
    W: np.ndarray,
    block: int,
    k: int,
    objective: str = "weights",
    inputs: np.ndarray | None = None,
    iterations: int = 20,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> ProductQuantized:
    """Product-quantize W (out, in) into sub-vectors of `block` inputs sharing k codewords.

    objective "weights": k-means on the sub-vectors (block 1: core's 1-D k-means; otherwise k-means++
    seeded by `seed`, then up to `iterations` Lloyd steps). objective "outputs": starts there and runs
    `iterations` steps of the paper's EM on `inputs` (n, in); if that ends with a higher output error
    on `inputs` than its start (the EM leaves out cross-block terms), the start is kept.
    `block` must divide in; k is 1 … 65,536 and at most the number of sub-vectors.

    >>> codebook, codes, W_hat = product_quantize(np.eye(4), block=2, k=2)
    >>> codebook.shape, codes.shape, W_hat.shape
    ((2, 2), (4, 2), (4, 4))
    """
    weights = finite_array(W, "W", ndim=2).astype(np.float64)
    out_features, in_features = weights.shape
    largest = float(np.abs(weights).max())
    if largest > _FLOAT16_MAX:
        raise ValueError(f"W must fit float16 codewords (|w| <= {_FLOAT16_MAX:g}); got max |w| = {largest:.4g}")
    block = integer_in_range(block, "block", 1, in_features)
    if in_features % block:
        raise ValueError(f"block must divide W's {in_features} input columns; got block={block}")
    sub_vectors = weights.reshape(-1, block)
    k = integer_in_range(k, "k", 1, min(MAX_K, len(sub_vectors)))
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}")
    iterations = integer_in_range(iterations, "iterations", 0, 10_000)
    gram = None
    if objective == "outputs":
        if inputs is None:
            raise ValueError("inputs must be given for objective='outputs': the layer's input activations (n, in)")
        activations = finite_array(inputs, "inputs", ndim=2)
        if activations.shape[1] != in_features:
            raise ValueError(f"inputs must have {in_features} columns (W's inputs); got shape {activations.shape}")
        if activations.dtype != np.float32:
            activations = activations.astype(np.float64)
        gram = (activations.T @ activations).astype(np.float64)  # float32 inputs: a float32 product, twice as fast
    report = progress or (lambda fraction, text: None)
    rng = np.random.default_rng(seed)

    report(0.0, "k-means on the sub-vectors")
    if block == 1:
        centroids, labels = kmeans_1d(sub_vectors.ravel(), k, method="fast")
        codebook, codes = centroids[:, None], labels.ravel().astype(np.int64)
    else:
        codebook, codes = _lloyd(sub_vectors, _kmeans_plus_plus(sub_vectors, k, rng), iterations, rng)
    if objective == "outputs":
        start = _stored(codebook), codes
        codebook, codes = _output_em(weights, block, gram, codebook, codes, iterations, rng, report)
        if output_sse(weights, _layout(*start, weights.shape), gram) < output_sse(
            weights, _layout(_stored(codebook), codes, weights.shape), gram
        ):
            codebook, codes = start
    report(1.0, "done")
    codebook = _stored(codebook)
    index_dtype = np.uint8 if len(codebook) <= 256 else np.uint16
    codes = codes.reshape(out_features, in_features // block).astype(index_dtype)
    return ProductQuantized(codebook, codes, _layout(codebook, codes, weights.shape))


def _stored(codebook: np.ndarray) -> np.ndarray:
    """The codebook as stored: float16 values, held as float32."""
    return np.asarray(codebook).astype(np.float16).astype(np.float32)


def _layout(codebook: np.ndarray, codes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return codebook[codes.reshape(-1)].reshape(shape).astype(np.float32)


def _kmeans_plus_plus(vectors: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k starting centres drawn by k-means++ (each next one with probability ∝ squared distance),
    from a random sample of the vectors when there are more than _INIT_SAMPLE."""
    if len(vectors) > _INIT_SAMPLE:
        vectors = vectors[rng.choice(len(vectors), _INIT_SAMPLE, replace=False)]
    centres = np.empty((k, vectors.shape[1]))
    centres[0] = vectors[rng.integers(len(vectors))]
    nearest = ((vectors - centres[0]) ** 2).sum(axis=1)
    for index in range(1, k):
        total = nearest.sum()
        chosen = rng.choice(len(vectors), p=nearest / total) if total > 0 else rng.integers(len(vectors))
        centres[index] = vectors[chosen]
        np.minimum(nearest, ((vectors - centres[index]) ** 2).sum(axis=1), out=nearest)
    return centres


def _closest(rows: np.ndarray, codebook: np.ndarray, quadratic: np.ndarray) -> np.ndarray:
    """For rows (g, m, d) float32, the index (g, m) of the codeword c minimising quadratic[g, c] - 2 rowᵀc,
    quadratic (g, k) or (1, k) for every group. Scored in chunks, each one 2-D matrix product."""
    groups, members, dimension = rows.shape
    codewords = np.ascontiguousarray(-2 * codebook.T, dtype=np.float32)
    quadratic = quadratic.astype(np.float32)
    codes = np.empty((groups, members), dtype=np.int64)
    step = max(1, _ROWS_PER_CHUNK // members)
    for start in range(0, groups, step):
        part = slice(start, start + step)
        products = rows[part].reshape(-1, dimension) @ codewords
        scores = products.reshape(-1, members, len(codebook)) + quadratic[part if len(quadratic) > 1 else slice(0, 1), None, :]
        codes[part] = np.argmin(scores, axis=2)
    return codes


def _nearest(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of each vector's (n, d) nearest centre (squared Euclidean): ||c||² - 2 vᵀc is least."""
    return _closest(vectors[:, None, :], centres, (centres**2).sum(axis=1)[None]).ravel()


def _sums_by_label(labels: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """(k, d) sum of the vectors (n, d) carrying each label."""
    return np.stack([np.bincount(labels, weights=vectors[:, axis], minlength=k) for axis in range(vectors.shape[1])], axis=1)


def _split_empty(centres: np.ndarray, counts: np.ndarray, spreads: np.ndarray, rng: np.random.Generator) -> None:
    """Give each empty cluster half of the most populated cluster whose members differ (spread > 0):
    that cluster's centre nudged two ways (in place). Clusters of identical members are never split."""
    counts, spreads = counts.astype(np.int64), spreads.copy()
    for empty in np.flatnonzero(counts == 0):
        splittable = spreads > 0
        if not splittable.any():
            return
        largest = int(np.argmax(np.where(splittable, counts, -1)))
        nudge = _SPLIT_NOISE * (np.abs(centres[largest]) + 1e-8) * rng.standard_normal(centres.shape[1])
        centres[empty] = centres[largest] + nudge
        centres[largest] = centres[largest] - nudge
        counts[empty] = counts[largest] // 2
        counts[largest] -= counts[empty]
        spreads[largest] = spreads[empty] = spreads[largest] / 2


def _spreads(labels: np.ndarray, vectors: np.ndarray, sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sum of squared distances of each cluster's members to their mean (0 for empty clusters)."""
    squares = np.bincount(labels, weights=(vectors**2).sum(axis=1), minlength=len(counts))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, squares - (sums**2).sum(axis=1) / counts, 0.0) > 1e-12 * np.maximum(squares, 1e-300)


def _lloyd(
    vectors: np.ndarray, centres: np.ndarray, iterations: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd steps (move each centre to its members' mean, assign each vector to its nearest centre)
    until no label changes; returns the centres and labels (n,)."""
    vectors32 = vectors.astype(np.float32)
    labels = _nearest(vectors32, centres)
    for _ in range(iterations):
        counts = np.bincount(labels, minlength=len(centres))
        sums = _sums_by_label(labels, vectors, len(centres))
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
        _split_empty(centres, counts, _spreads(labels, vectors, sums, counts), rng)
        moved = _nearest(vectors32, centres)
        if np.array_equal(moved, labels):
            break
        labels = moved
    return centres, labels


def _output_em(
    weights: np.ndarray,
    block: int,
    gram: np.ndarray,
    codebook: np.ndarray,
    codes: np.ndarray,
    iterations: int,
    rng: np.random.Generator,
    report: Callable[[float, str], None],
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's EM on the output error, with the diagonal (block, block) blocks H_j of the Gram matrix."""
    out_features, in_features = weights.shape
    n_blocks = in_features // block
    k = len(codebook)
    blocks = np.arange(n_blocks)
    diagonal = gram.reshape(n_blocks, block, n_blocks, block)[blocks, :, blocks, :]  # (n_blocks, block, block)
    by_block = weights.reshape(out_features, n_blocks, block).transpose(1, 0, 2)  # (n_blocks, out, block)
    # H_j w for every sub-vector: the E-step scores them against the codebook, the M-step sums them per codeword
    weighted = np.einsum("jab,jrb->jra", diagonal, by_block)
    weighted32 = weighted.astype(np.float32)
    codebook = codebook.copy()
    codes = codes.reshape(out_features, n_blocks).T.copy()  # (n_blocks, out)
    for iteration in range(iterations):
        report(iteration / iterations, f"EM step {iteration + 1} of {iterations}")
        codes = _assign_by_output(weighted32, diagonal, codebook)
        counts = np.bincount((codes + k * blocks[:, None]).ravel(), minlength=n_blocks * k).reshape(n_blocks, k)
        lhs = np.einsum("jc,jab->cab", counts.astype(np.float64), diagonal)
        rhs = _sums_by_label(codes.ravel(), weighted.reshape(-1, block), k)
        served = counts.sum(axis=0) > 0
        # A codeword whose inputs are all zero has a singular system: any value serves; lstsq picks the smallest.
        codebook[served] = [np.linalg.lstsq(a, b, rcond=None)[0] for a, b in zip(lhs[served], rhs[served])]
        members = counts.sum(axis=0)
        sums = _sums_by_label(codes.ravel(), by_block.reshape(-1, block), k)
        _split_empty(codebook, members, _spreads(codes.ravel(), by_block.reshape(-1, block), sums, members), rng)
    if iterations:
        codes = _assign_by_output(weighted32, diagonal, codebook)
    return codebook, codes.T.reshape(-1)


def _assign_by_output(weighted: np.ndarray, diagonal: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """(n_blocks, out) codeword per sub-vector w of block j minimising (w - c)ᵀ H_j (w - c), that is
    cᵀH_j c - 2 (H_j w)ᵀc, from the precomputed H_j w (n_blocks, out, block) float32."""
    return _closest(weighted, codebook, np.einsum("ca,jab,cb->jc", codebook, diagonal, codebook))
