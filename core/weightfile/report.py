"""Per-tensor report of a weight file: statistics that predict trouble, and the error each tensor takes
at 2…8 bits by each method, with the bytes it would then take.

Methods (every float tensor seen as a matrix: (shape[0], the rest) for 2-D and up, (1, n) for 1-D):
- "k-means": 2^b shared values per tensor (core.quantize.kmeans.kmeans_1d), stored as b-bit indices
  and a float32 codebook.
- "per tensor", "per channel" (one scale per output channel = row), "per group of 128" (along the
  row): asymmetric linear quantization (core.quantize.linear), b-bit codes plus a float32 scale and
  a b-bit zero point per block.
- FORMATS, the 4-bit formats models ship in (core.quantize.formats: nf4, mxfp4, q4_0, int4_g128), each
  at its one size: bits per weight from its block layout (codes, scales, padding).
Errors are exact over the whole tensor, computed in chunks so memory stays near one tensor:
relative error ||W - Q||_F / ||W||_F and SQNR = -20 log10(relative error) dB.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from core.measure.sizes import linear_bytes, shared_bytes
from core.quantize.formats import bits_per_weight, format_named, quantize_dequantize
from core.quantize.kmeans import kmeans_1d
from core.quantize.linear import (
    block_count,
    choose_qparams,
    dequantize,
    fake_quantize,
    quantize,
)
from core.weightfile.read import TensorInfo, WeightFile, open_weights

BIT_WIDTHS = tuple(range(2, 9))
GROUP_SIZE = 128
KMEANS = "k-means"
PER_TENSOR, PER_CHANNEL, PER_GROUP = "per tensor", "per channel", f"per group of {GROUP_SIZE}"
METHODS = (KMEANS, PER_TENSOR, PER_CHANNEL, PER_GROUP)
FORMATS = ("nf4", "mxfp4", "q4_0", "int4_g128")
"""Block formats with no per-tensor scale (blocks of 32, 64 or 128 along the flattened tensor): measured chunk by chunk."""
QUANTIZED = "quantized"
_CHUNK_VALUES = 1 << 18  # ~1 MB of float32: a chunk's temporaries stay in cache
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class TensorStatistics:
    """What predicts trouble for quantization, over all values of a tensor."""

    std: float
    max_abs_over_std: float
    """max|w| / std: how many standard deviations the range must stretch to (NaN when std = 0)."""
    excess_kurtosis: float
    """E[(w - mean)^4] / std^4 - 3: 0 for a Gaussian, large for heavy tails (NaN when std = 0)."""
    beyond_6_sigma: float
    """Share of values with |w - mean| > 6 std (a Gaussian has 2e-9)."""


@dataclass(frozen=True)
class TensorReport:
    """One tensor's row of the report."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    parameters: int
    stored_bytes: int
    status: str
    """"quantized", or why the tensor is kept as stored (integers, NaN/Inf, 0-d, empty)."""
    statistics: TensorStatistics | None
    relative_errors: dict[str, tuple[float, ...]]
    """{method: ||W - Q||_F / ||W||_F at each bit width}; empty unless quantized."""
    quantized_bytes: dict[str, tuple[int, ...]]
    """{method: bytes of the quantized tensor (codes, scales, zero points, codebook) at each bit width}."""
    format_errors: dict[str, float] = dataclasses.field(default_factory=dict)
    """{format: relative error} for the block formats of FORMATS; empty unless quantized."""
    format_bytes: dict[str, int] = dataclasses.field(default_factory=dict)
    """{format: bytes of the tensor stored in it}."""

    @property
    def quantized(self) -> bool:
        return self.status == QUANTIZED

    def sqnr_db(self, method: str) -> np.ndarray:
        """Signal-to-quantization-noise ratio in dB at each bit width (inf where the error is 0)."""
        with np.errstate(divide="ignore"):
            return -20 * np.log10(np.asarray(self.relative_errors[method], dtype=np.float64))


@dataclass(frozen=True)
class WeightReport:
    """The whole report: one TensorReport per tensor, in file order."""

    source: str
    bit_widths: tuple[int, ...]
    methods: tuple[str, ...]
    tensors: tuple[TensorReport, ...]
    formats: tuple[str, ...] = ()

    @property
    def quantized_tensors(self) -> list[TensorReport]:
        return [tensor for tensor in self.tensors if tensor.quantized]


def as_matrix(values: np.ndarray) -> np.ndarray:
    """The (rows, columns) view quantization works on: (shape[0], the rest) for 2-D and up, (1, n) for 1-D."""
    return values.reshape(values.shape[0], -1) if values.ndim >= 2 else values.reshape(1, -1)


def block_size(method: str, shape: tuple[int, int]) -> tuple[int, int]:
    """core.quantize.linear block_size of a linear method on a (rows, columns) matrix."""
    rows, columns = shape
    blocks = {PER_TENSOR: (rows, columns), PER_CHANNEL: (1, columns), PER_GROUP: (1, min(GROUP_SIZE, columns))}
    if method not in blocks:
        raise ValueError(f"method must be one of {', '.join(blocks)}; got {method!r}")
    return blocks[method]


def row_chunks(matrix: np.ndarray) -> Iterator[slice]:
    """Consecutive row ranges of about _CHUNK_VALUES values (at least one row)."""
    step = max(1, _CHUNK_VALUES // max(1, matrix.shape[1]))
    return (slice(start, start + step) for start in range(0, matrix.shape[0], step))


def linear_codes(matrix: np.ndarray, method: str, bits: int) -> Iterator[tuple[slice, np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]]:
    """(rows, codes, scale, zero_point, block size) of each row chunk of a linearly quantized matrix;
    per tensor, every chunk shares the whole matrix's scale and zero point."""
    block = block_size(method, matrix.shape)
    if method == PER_TENSOR:
        scale, zero_point = choose_qparams(matrix, bits, symmetric=False)
    for rows in row_chunks(matrix):
        chunk = matrix[rows]
        chunk_block = chunk.shape if method == PER_TENSOR else block
        if method != PER_TENSOR:
            scale, zero_point = choose_qparams(chunk, bits, symmetric=False, block_size=block)
        yield rows, quantize(chunk, scale, zero_point, bits, chunk_block), scale, zero_point, chunk_block


def statistics(values: np.ndarray) -> TensorStatistics:
    """TensorStatistics of a finite, non-empty float array (moments accumulated in float64)."""
    flat = values.reshape(-1)
    n = flat.size
    total = sum(float(flat[i : i + _CHUNK_VALUES].sum(dtype=np.float64)) for i in range(0, n, _CHUNK_VALUES))
    mean = total / n
    second = fourth = 0.0
    largest = 0.0
    for i in range(0, n, _CHUNK_VALUES):
        centred = flat[i : i + _CHUNK_VALUES].astype(np.float64) - mean
        squared = centred * centred
        second += float(squared.sum())
        fourth += float(np.dot(squared, squared))
        largest = max(largest, float(np.abs(flat[i : i + _CHUNK_VALUES]).max()))
    std = math.sqrt(second / n)
    if std == 0:
        return TensorStatistics(0.0, math.nan, math.nan, 0.0)
    beyond = sum(
        int(np.count_nonzero(np.abs(flat[i : i + _CHUNK_VALUES].astype(np.float64) - mean) > 6 * std)) for i in range(0, n, _CHUNK_VALUES)
    )
    return TensorStatistics(std, largest / std, fourth / n / std**4 - 3, beyond / n)


def _relative(squared_error: float, squared_norm: float) -> float:
    if squared_norm == 0:
        return 0.0 if squared_error == 0 else math.inf
    return math.sqrt(squared_error / squared_norm)


def _squared_error(original: np.ndarray, approximation: np.ndarray) -> float:
    difference = (original - approximation).reshape(-1)
    return float(np.dot(difference, difference))


def kmeans_fit(values: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(float32 codebook of at most 2^bits values, index of each value with the shape of values)."""
    centroids, labels = kmeans_1d(values, 2**bits)
    return centroids.astype(np.float32), labels


def _kmeans_error(values: np.ndarray, bits: int) -> tuple[float, int]:
    """(squared error, bytes) of values shared among 2^bits k-means centroids."""
    codebook, labels = kmeans_fit(values, bits)
    flat, flat_labels = values.reshape(-1), labels.reshape(-1)
    error = sum(
        _squared_error(flat[i : i + _CHUNK_VALUES], codebook[flat_labels[i : i + _CHUNK_VALUES]]) for i in range(0, flat.size, _CHUNK_VALUES)
    )
    return error, shared_bytes(values.size, codebook.size)


def _linear_error(matrix: np.ndarray, method: str, bits: int) -> tuple[float, int]:
    """(squared error, bytes) of the matrix linearly quantized by `method`."""
    error = 0.0
    block = block_size(method, matrix.shape)
    chunks = list(row_chunks(matrix))
    if method == PER_TENSOR and len(chunks) > 1:  # every chunk needs the whole tensor's scale
        for rows, codes, scale, zero_point, chunk_block in linear_codes(matrix, method, bits):
            error += _squared_error(matrix[rows], dequantize(codes, scale, zero_point, chunk_block))
    else:
        for rows in chunks:
            error += _squared_error(matrix[rows], fake_quantize(matrix[rows], bits, symmetric=False, block_size=block))
    return error, linear_bytes(matrix.size, bits, block_count(matrix.shape, block))


def _format_error(values: np.ndarray, fmt: str) -> tuple[float, int]:
    """(squared error, bytes) of values stored in a block format of FORMATS (chunks hold whole blocks)."""
    flat = values.reshape(-1)
    block = format_named(fmt).layout.block
    step = max(block, _CHUNK_VALUES // block * block)  # whole blocks: each chunk is stored as the tensor would be
    error = sum(_squared_error(flat[i : i + step], quantize_dequantize(flat[i : i + step], fmt)) for i in range(0, flat.size, step))
    return error, math.ceil(bits_per_weight(fmt, flat.size) * flat.size / 8)


def _kept_status(info: TensorInfo, values: np.ndarray | None) -> str | None:
    """Why a tensor is not quantized, or None when it is."""
    if values is None:
        return f"{info.dtype}: integer and bool tensors are listed, not quantized"
    if len(info.shape) == 0:
        return "0-d (a scalar): kept as stored"
    if info.parameters == 0:
        return f"empty (shape {info.shape}): nothing to quantize"
    non_finite = int(values.size - np.count_nonzero(np.isfinite(values)))
    if non_finite:
        return f"holds {non_finite:,} NaN/Inf value{'s' if non_finite != 1 else ''}: reported, not quantized"
    return None


def tensor_report(info: TensorInfo, values: np.ndarray | None, bit_widths: tuple[int, ...] = BIT_WIDTHS) -> TensorReport:
    """The report of one tensor: info from its file, values its float32 values (None for integers and bools: listed only)."""
    kept = _kept_status(info, values)
    listed = (info.name, info.dtype, info.shape, info.parameters, info.nbytes)
    if kept:
        return TensorReport(*listed, kept, None, {}, {})
    matrix = as_matrix(values)
    squared_norm = _squared_error(matrix, np.zeros((), np.float32))
    errors, sizes, by_block = {}, {}, {}
    for method in METHODS:
        if method == KMEANS:
            measured = [_kmeans_error(values, b) for b in bit_widths]
        else:  # methods whose blocks coincide (all three on a short vector) are measured once
            block = block_size(method, matrix.shape)
            if block not in by_block:
                by_block[block] = [_linear_error(matrix, method, b) for b in bit_widths]
            measured = by_block[block]
        errors[method] = tuple(_relative(error, squared_norm) for error, _ in measured)
        sizes[method] = tuple(size for _, size in measured)
    in_formats = {fmt: _format_error(values, fmt) for fmt in FORMATS}
    format_errors = {fmt: _relative(error, squared_norm) for fmt, (error, _) in in_formats.items()}
    return TensorReport(*listed, QUANTIZED, statistics(values), errors, sizes, format_errors, {fmt: size for fmt, (_, size) in in_formats.items()})


def report_file(weights: WeightFile, progress: Progress | None = None) -> WeightReport:
    """The report of every tensor of an opened weight file, read one at a time; progress gets
    (share of the parameters done, the tensor at work)."""
    total = max(1, sum(info.parameters for info in weights.tensors))
    done, reported = 0, -1.0
    rows = []
    for index, info in enumerate(weights.tensors):
        # at most ~200 reports: on the page each one crosses to another process
        if progress and done / total - reported >= 0.005:
            reported = done / total
            progress(reported, f"{info.name[:60]} ({index + 1:,} of {len(weights):,})")
        rows.append(tensor_report(info, weights.read(index) if info.is_float else None))
        done += info.parameters
    if progress:
        progress(1.0, "done")
    return WeightReport(weights.name, BIT_WIDTHS, METHODS, tuple(rows), FORMATS)


def report_weights(
    source: str | bytes, name: str | None = None, progress: Progress | None = None, max_tensors: int | None = None, max_float_bytes: int | None = None
) -> WeightReport:
    """The report of a weight file given by path or bytes (see read.open_weights); runs in a worker process
    on the page, which bounds the work: at most max_tensors tensors, max_float_bytes bytes once widened to float32."""
    weights = open_weights(source, name)
    if max_tensors is not None and len(weights) > max_tensors:
        raise ValueError(f"{weights.name} holds {len(weights):,} tensors; at most {max_tensors:,} are accepted here (the command line has no limit)")
    float_bytes = 4 * sum(info.parameters for info in weights.tensors if info.is_float)
    if max_float_bytes is not None and float_bytes > max_float_bytes:
        raise ValueError(
            f"{weights.name}'s tensors take {float_bytes / 1e6:,.0f} MB as float32; at most {max_float_bytes / 1e6:,.0f} MB are accepted here (the command line has no limit)"
        )
    return report_file(weights, progress)
