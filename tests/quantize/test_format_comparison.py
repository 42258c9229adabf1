"""core/quantize/format_comparison.py: its numbers recomputed here with numpy, the k-means reference against
the exact 1-D k-means, the block inspector against the encoded fields, and the outlier story."""

import numpy as np
import pytest

from core import distributions
from core.quantize import format_comparison, formats
from core.quantize.kmeans import kmeans_1d

WEIGHTS = distributions.weight_matrix("laplace", 64, seed=2)


def test_compare_formats_columns_equal_direct_computation():
    seen = []
    columns = format_comparison.compare_formats(WEIGHTS, ["q4_0", "mxfp4"], progress=lambda f, t: seen.append(f))
    assert columns["format"] == ["q4_0", "mxfp4"] and columns["family"] == ["llama.cpp", "OCP MX"]
    for i, name in enumerate(columns["format"]):
        decoded = formats.quantize_dequantize(WEIGHTS, name).astype(np.float64)
        relative = np.linalg.norm(decoded - WEIGHTS) / np.linalg.norm(WEIGHTS.astype(np.float64))
        assert columns["relative_error"][i] == pytest.approx(relative, rel=1e-9)
        assert columns["sqnr_db"][i] == pytest.approx(-20 * np.log10(relative))
        assert columns["max_abs_error"][i] == np.abs(decoded - WEIGHTS).max()
        assert columns["bits_per_weight"][i] == formats.bits_per_weight(name, WEIGHTS.size)
    assert seen == [0.0, 0.5, 1.0]
    rotated = format_comparison.compare_formats(WEIGHTS, ["q4_0"], rotation_seed=3)
    direct = formats.quantize_dequantize(WEIGHTS, "q4_0", rotation_seed=3) - WEIGHTS
    assert rotated["relative_error"][0] == pytest.approx(np.linalg.norm(direct) / np.linalg.norm(WEIGHTS), rel=1e-6)


def test_kmeans_reference_against_exact_kmeans_and_bytes_by_hand():
    curve = format_comparison.kmeans_reference(WEIGHTS, (2, 4))
    assert curve["bits_per_weight"] == [(4096 * 2 / 8 + 4 * 4) * 8 / 4096, (4096 * 4 / 8 + 16 * 4) * 8 / 4096]
    centroids, labels = kmeans_1d(WEIGHTS, 16, "exact")
    exact = np.linalg.norm(centroids[labels] - WEIGHTS) / np.linalg.norm(WEIGHTS)
    assert exact <= curve["relative_error"][1] <= exact * 1.02
    assert curve["relative_error"][0] > curve["relative_error"][1]


def test_inspect_block_matches_the_encoded_fields():
    view = format_comparison.inspect_block(WEIGHTS, "q4_0", 2)
    block = WEIGHTS.reshape(-1)[64:96]
    fields = formats.encode(block, "q4_0").fields
    assert view.start == 64 and np.array_equal(view.values, block)
    assert view.codes.tolist() == fields["qs"][0].tolist()
    assert view.code_bits[0] == format(int(fields["qs"][0, 0]), "04b")
    assert np.array_equal(view.decoded, formats.quantize_dequantize(block, "q4_0"))
    assert np.array_equal(view.errors, view.decoded - view.values)
    assert view.scales == [("d", "fp16 scale", f"{fields['d'].item():.6g}", f"{fields['d'].item():.6g}")]


def test_inspect_block_shows_float_fields_and_per_tensor_runs():
    mx = format_comparison.inspect_block(WEIGHTS, "mxfp4", 0)
    byte = int(formats.encode(WEIGHTS, "mxfp4").fields["scale"][0, 0])
    assert mx.scales[0][2:] == (format(byte, "08b"), f"2^{byte - 127}")
    assert all(len(bits.split(" ")) == 3 for bits in mx.code_bits)  # sign, exponent, mantissa
    per_tensor = format_comparison.inspect_block(WEIGHTS, "fp4_e2m1", 5)
    assert per_tensor.start == 160 and len(per_tensor.values) == 32
    assert format_comparison.block_count("fp4_e2m1", 4096) == 128 and format_comparison.block_count("q4_k", 4096) == 16
    q4_k = format_comparison.inspect_block(WEIGHTS, "q4_k", 15)
    assert [row[0] for row in q4_k.scales] == ["d", "dmin", "scales", "mins"] and len(q4_k.scales[2][2].split(", ")) == 8
    dq = format_comparison.inspect_block(WEIGHTS, "nf4_dq", 1)
    assert [row[0] for row in dq.scales] == ["absmax_code", "absmax_scale", "absmax_offset"]
    with pytest.raises(ValueError, match="index must be from 0 to 15"):
        format_comparison.inspect_block(WEIGHTS, "q4_k", 16)


def test_outlier_story_per_tensor_suffers_and_rotation_rescues_it():
    weights = distributions.weight_matrix("outlier", 128, seed=1)
    story = format_comparison.outlier_story(weights, "int4_tensor", "int4_g32", seed=0)
    assert story.names == ("int4_tensor", "int4_tensor + rotation", "int4_g32", "int4_g32 + rotation")
    tensor, tensor_rotated, block, _ = story.relative_errors
    assert tensor > 3 * block and tensor_rotated < tensor / 2
    nonzero = weights != 0
    assert story.zero_fractions[0] == np.mean(formats.quantize_dequantize(weights, "int4_tensor")[nonzero] == 0) > 0.8
    assert story.rotation_size == 128 and np.abs(story.rotated).max() < 25 / 4
    assert story.bits_per_weight == (4 + 32 / 128**2, 4 + 32 / 128**2, 4.5, 4.5)


def test_bad_input():
    with pytest.raises(ValueError, match="all zeros"):
        format_comparison.compare_formats(np.zeros((4, 32)))
    with pytest.raises(ValueError, match="fmt must be one of"):
        format_comparison.compare_formats(WEIGHTS, ["fp3"])
    assert format_comparison.sqnr_db(0.1) == pytest.approx(20.0) and format_comparison.sqnr_db(0) == float("inf")
