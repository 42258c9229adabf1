"""core/weightfile/export.py: the quantized file holds what the report measured (its errors come back
exactly), the safetensors package reads it, its size is the report's; JSON and CSV read back."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from safetensors.numpy import load as load_numpy
from safetensors.numpy import save as save_numpy

from core.weightfile.budget import allocate_bits
from core.weightfile.export import (
    load_quantized,
    pack_codes,
    report_from_csv,
    report_from_json,
    report_to_csv,
    report_to_json,
    unpack_codes,
    write_quantized,
)
from core.weightfile.read import open_weights
from core.weightfile.report import METHODS, report_file


@pytest.fixture(scope="module")
def model() -> bytes:
    rng = np.random.default_rng(3)
    return save_numpy(
        {
            "embed": (rng.standard_t(4, (300, 130)) * 0.02).astype(np.float16),
            "conv": rng.standard_normal((8, 3, 5, 5)).astype(np.float32),
            "bias": rng.standard_normal(40).astype(np.float32),
            "steps": np.arange(3, dtype=np.int64),
            "broken": np.array([1.0, np.nan], dtype=np.float32),
            "constant": np.full((4, 4), 0.25, dtype=np.float32),
        }
    )


@pytest.fixture(scope="module")
def report(model):
    return report_file(open_weights(model, "model.safetensors"))


def test_codes_pack_little_endian_bits_first() -> None:
    # 1 = 01, 2 = 10, 3 = 11 at 2 bits, least significant first: 0b00_11_10_01 = 57
    assert pack_codes(np.array([1, 2, 3]), 2).tolist() == [57]
    codes = np.random.default_rng(0).integers(0, 32, 1001).astype(np.uint8)
    for bits in range(5, 9):
        packed = pack_codes(codes, bits)
        assert packed.size == math.ceil(1001 * bits / 8)
        assert np.array_equal(unpack_codes(packed, bits, 1001), codes)


@pytest.mark.parametrize("method", METHODS)
def test_the_quantized_file_holds_what_the_report_measured(model, report, method) -> None:
    allocation = allocate_bits(report, method, bits_per_weight=4.5)
    out = io.BytesIO()
    written = write_quantized(open_weights(model), report, allocation, out)
    data = out.getvalue()
    assert written == len(data)
    assert load_numpy(data)  # the safetensors package reads it too
    loaded = load_quantized(data)
    original = {info.name: open_weights(model).read(index) for index, info in enumerate(open_weights(model).tensors)}
    for row in report.tensors:
        if row.quantized:
            bits = allocation.bits[row.name]
            error = np.linalg.norm(loaded[row.name] - original[row.name]) / np.linalg.norm(original[row.name])
            assert error == pytest.approx(row.relative_errors[method][report.bit_widths.index(bits)], rel=1e-4, abs=1e-7), row.name
        else:
            assert np.array_equal(loaded[row.name], original[row.name], equal_nan=True)
    header = int.from_bytes(data[:8], "little")
    payload = len(data) - 8 - header
    # each linear tensor packs its zero points apart from its codes: up to one byte more than one bit stream
    assert allocation.quantized_bytes + allocation.kept_bytes <= payload <= allocation.quantized_bytes + allocation.kept_bytes + 3 * len(allocation.bits)


def test_a_file_of_another_kind_is_not_taken_for_a_quantized_one(model) -> None:
    with pytest.raises(ValueError, match="not a quantized file of this tool"):
        load_quantized(model)


def test_the_report_reads_back_from_json_and_csv(report) -> None:
    text = report_to_json(report)
    again = report_from_json(text)
    assert report_to_json(again) == text
    assert again.tensors[0].relative_errors == report.tensors[0].relative_errors
    from_csv = report_from_csv(report_to_csv(report), report.source)
    assert report_to_json(from_csv) == text
    assert [row.status for row in from_csv.tensors] == [row.status for row in report.tensors]


def test_a_whole_file_in_a_block_format_counts_every_quantized_tensor(report) -> None:
    from core.weightfile.budget import in_format, kept_bytes

    quantized = report.quantized_tensors
    size, error = in_format(report, "q4_0")
    assert size == sum(row.format_bytes["q4_0"] for row in quantized) + kept_bytes(report)
    weighted = sum(row.parameters * row.format_errors["q4_0"] ** 2 for row in quantized) / sum(row.parameters for row in quantized)
    assert error == pytest.approx(math.sqrt(weighted))
    with pytest.raises(ValueError, match="fmt must be one of nf4, mxfp4, q4_0, int4_g128"):
        in_format(report, "q4_k")


def test_a_budget_in_megabytes_counts_the_kept_tensors(report) -> None:
    by_bits = allocate_bits(report, "k-means", bits_per_weight=5.0)
    megabytes = by_bits.total_bytes / 1e6
    by_size = allocate_bits(report, "k-means", megabytes=megabytes)
    assert by_size.total_bytes <= megabytes * 1e6 and by_size.kept_bytes == 3 * 8 + 2 * 4  # steps (I64) and broken (2 floats)
    assert by_size.bits == by_bits.bits and by_size.relative_error == by_bits.relative_error
    with pytest.raises(ValueError, match="give exactly one budget"):
        allocate_bits(report, "k-means", bits_per_weight=4.0, megabytes=1.0)
