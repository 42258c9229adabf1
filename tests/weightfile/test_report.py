"""core/weightfile/report.py against independent references: a plain numpy min-max quantizer written
here, kmeans1d's exact 1-D k-means, scipy's kurtosis; and the tensors that are listed, not quantized."""

from __future__ import annotations

import kmeans1d
import numpy as np
import pytest
from files import safetensors_bytes
from safetensors.numpy import save as save_numpy
from scipy.stats import kurtosis

from core.quantize.formats import bits_per_weight, quantize_dequantize
from core.weightfile import report as report_module
from core.weightfile.read import TensorInfo
from core.weightfile.report import (
    BIT_WIDTHS,
    KMEANS,
    PER_CHANNEL,
    PER_GROUP,
    PER_TENSOR,
    report_weights,
    statistics,
    tensor_report,
)


def minmax_reference(matrix: np.ndarray, bits: int, rows: int, columns: int) -> np.ndarray:
    """Asymmetric min-max quantization, written out block by block in float64 (a slow, obvious reference)."""
    out = np.empty_like(matrix, dtype=np.float64)
    for r in range(0, matrix.shape[0], rows):
        for c in range(0, matrix.shape[1], columns):
            block = matrix[r : r + rows, c : c + columns].astype(np.float64)
            low, high = min(block.min(), 0.0), max(block.max(), 0.0)
            scale = (high - low) / (2**bits - 1) or 1.0
            zero = np.clip(np.round(-low / scale), 0, 2**bits - 1)
            out[r : r + rows, c : c + columns] = (np.clip(np.round(block / scale) + zero, 0, 2**bits - 1) - zero) * scale
    return out


def relative(original: np.ndarray, approximation: np.ndarray) -> float:
    return float(np.linalg.norm(original.astype(np.float64) - approximation) / np.linalg.norm(original.astype(np.float64)))


@pytest.fixture(scope="module")
def heavy_tailed() -> np.ndarray:
    return (np.random.default_rng(0).standard_t(4, (96, 300)) * 0.05).astype(np.float32)


def test_linear_errors_match_a_plain_reference(heavy_tailed) -> None:
    row = tensor_report(TensorInfo("w", "F32", heavy_tailed.shape, heavy_tailed.nbytes), heavy_tailed)
    for method, (rows, columns) in {PER_TENSOR: (96, 300), PER_CHANNEL: (1, 300), PER_GROUP: (1, 128)}.items():
        expected = [relative(heavy_tailed, minmax_reference(heavy_tailed, bits, rows, columns)) for bits in BIT_WIDTHS]
        assert row.relative_errors[method] == pytest.approx(expected, rel=2e-3), method
    # by hand: per group of 128 on 96 x 300 has 96 * 3 blocks, each a float32 scale and a b-bit zero point
    assert row.quantized_bytes[PER_GROUP][2] == -(-(96 * 300 * 4 + 96 * 3 * (32 + 4)) // 8)
    assert row.quantized_bytes[KMEANS][2] == 96 * 300 * 4 // 8 + 16 * 4


def test_errors_fall_with_bits_and_sqnr_is_their_decibels(heavy_tailed) -> None:
    row = tensor_report(TensorInfo("w", "F32", heavy_tailed.shape, heavy_tailed.nbytes), heavy_tailed)
    for method in report_module.METHODS:
        assert (np.diff(row.relative_errors[method]) < 0).all(), method
        assert row.sqnr_db(method) == pytest.approx(-20 * np.log10(row.relative_errors[method]))
    # per group never loses to per channel, per channel never to per tensor (finer blocks contain the coarser ranges)
    assert all(g <= c <= t for g, c, t in zip(row.relative_errors[PER_GROUP], row.relative_errors[PER_CHANNEL], row.relative_errors[PER_TENSOR]))


def test_kmeans_error_is_near_the_exact_optimum() -> None:
    values = (np.random.default_rng(1).standard_normal(3000) * 0.1).astype(np.float32)
    row = tensor_report(TensorInfo("v", "F32", values.shape, values.nbytes), values)
    for bits, error in zip(BIT_WIDTHS[:5], row.relative_errors[KMEANS]):
        clusters, centroids = kmeans1d.cluster(values.astype(np.float64), 2**bits)
        optimum = relative(values, np.array(centroids)[clusters])
        assert optimum * (1 - 1e-6) <= error <= optimum * 1.02, bits


def test_chunked_errors_equal_whole_tensor_errors(monkeypatch, heavy_tailed) -> None:
    info = TensorInfo("w", "F32", heavy_tailed.shape, heavy_tailed.nbytes)
    whole = tensor_report(info, heavy_tailed)
    monkeypatch.setattr(report_module, "_CHUNK_VALUES", 1000)  # 3 rows per chunk, 29 chunks
    chunked = tensor_report(info, heavy_tailed)
    for method in report_module.METHODS:
        assert chunked.relative_errors[method] == pytest.approx(whole.relative_errors[method], rel=1e-5)
    assert chunked.statistics == pytest.approx(whole.statistics)
    for fmt in report_module.FORMATS:  # chunks of whole blocks: as if the tensor were stored at once
        expected = relative(heavy_tailed, quantize_dequantize(heavy_tailed, fmt))
        assert chunked.format_errors[fmt] == pytest.approx(expected, rel=1e-5) == whole.format_errors[fmt]
        assert chunked.format_bytes[fmt] == -(-int(bits_per_weight(fmt, heavy_tailed.size) * heavy_tailed.size) // 8)


def test_statistics_match_numpy_and_scipy(heavy_tailed) -> None:
    found = statistics(heavy_tailed)
    values = heavy_tailed.astype(np.float64).ravel()
    assert found.std == pytest.approx(values.std())
    assert found.max_abs_over_std == pytest.approx(np.abs(values).max() / values.std())
    assert found.excess_kurtosis == pytest.approx(kurtosis(values))
    assert found.beyond_6_sigma == np.mean(np.abs(values - values.mean()) > 6 * values.std())
    outliers = np.zeros(10_000, np.float32)
    outliers[:3] = 1000.0
    assert statistics(outliers).beyond_6_sigma == 3 / 10_000


def test_tensors_that_are_listed_not_quantized() -> None:
    data = {
        "steps": np.arange(4, dtype=np.int64),
        "mask": np.array([True, False]),
        "scalar": np.array(3.0, dtype=np.float32),
        "empty": np.zeros((0, 5), dtype=np.float32),
        "broken": np.array([1.0, np.nan, np.inf, 2.0], dtype=np.float32),
        "zeros": np.zeros((4, 4), dtype=np.float32),
        "w": np.arange(8, dtype=np.float32),
    }
    found = {row.name: row for row in report_weights(save_numpy(data), "m.safetensors").tensors}
    assert found["steps"].status == "I64: integer and bool tensors are listed, not quantized"
    assert "BOOL" in found["mask"].status and "0-d" in found["scalar"].status and "empty" in found["empty"].status
    assert found["broken"].status == "holds 2 NaN/Inf values: reported, not quantized"
    assert not any(found[name].relative_errors for name in ("steps", "mask", "scalar", "empty", "broken"))
    assert found["zeros"].quantized and set(found["zeros"].relative_errors[PER_GROUP]) == {0.0}
    assert found["w"].quantized and found["w"].parameters == 8 and found["w"].stored_bytes == 32


def test_ten_thousand_tiny_tensors_are_all_reported_with_progress() -> None:
    count = 10_000
    header = {f"t{i}": {"dtype": "F32", "shape": [2], "data_offsets": [8 * i, 8 * i + 8]} for i in range(count)}
    data = np.tile(np.array([0.5, -1.0], dtype="<f4"), count).tobytes()
    reports = []
    report = report_weights(safetensors_bytes(header, data), "many.safetensors", progress=lambda fraction, text: reports.append(fraction))
    assert len(report.tensors) == count and all(row.quantized for row in report.tensors)
    assert reports == sorted(reports) and reports[-1] == 1.0
    assert report.tensors[-1].relative_errors[KMEANS][0] == 0.0  # two values, four centroids
