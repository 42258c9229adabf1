"""core/quantize/formats.py and its format modules against independent references: torch's float8 / float4 /
E8M0 dtypes and torch.testing's FP6/FP4 converters, llama.cpp's own numpy port (the `gguf` package), the
published NF4 constants, hand-worked blocks, the formats' stated error bounds, and bits per weight by hand."""

import math

import numpy as np
import pytest
import torch
from gguf import quants as gguf_quants
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
from scipy.linalg import hadamard
from torch.testing._internal.common_quantized import (
    _bfloat16_to_float4_e2m1fn_x2,
    _f32_to_floatx_unpacked,
    _floatx_unpacked_to_f32,
)

from core import distributions
from core.quantize import float_blocks, formats, int_blocks, llama_blocks, rotation
from core.quantize.dtypes import ALL_FORMATS, ELEMENT_FORMATS, FORMATS, decode_array, encode_array

RNG = np.random.default_rng(0)
# Normal weights at three scales, plus exact zeros and a few large values: every binade and both ends.
WEIGHTS = np.concatenate(
    [RNG.standard_normal(4096) * scale for scale in (1e-3, 0.05, 3.0)] + [np.zeros(64), RNG.standard_normal(64) * 300]
).astype(np.float32)
WEIGHTS = WEIGHTS[RNG.permutation(WEIGHTS.size)][: 12288].reshape(48, 256)


def _torch_bits(values: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    return torch.from_numpy(values).to(dtype).view(torch.uint8).numpy()


# ---------------------------------------------------------------- element types against torch


@pytest.mark.parametrize("name, dtype", [("FP8 E4M3", torch.float8_e4m3fn), ("FP8 E5M2", torch.float8_e5m2)])
def test_fp8_codes_equal_torch(name, dtype):
    values = np.concatenate([WEIGHTS.ravel(), RNG.standard_normal(4096).astype(np.float32) * 1e5, [0.0, -0.0]]).astype(np.float32)
    assert np.array_equal(encode_array(values, FORMATS[name]), _torch_bits(values, dtype))
    every_code = np.arange(256, dtype=np.uint8)
    ours, theirs = decode_array(every_code, FORMATS[name]), torch.from_numpy(every_code).view(dtype).float().numpy()
    assert np.array_equal(ours, theirs, equal_nan=True)


def test_saturate_keeps_e5m2_finite_where_torch_overflows_to_infinity():
    # The MX spec clamps elements to the largest normal; torch's float8_e5m2 cast gives inf.
    values = np.array([61439.0, 63000.0, -1e6], dtype=np.float32)
    assert np.isinf(torch.from_numpy(values).to(torch.float8_e5m2).float().numpy()[1:]).all()
    saturated = decode_array(encode_array(values, FORMATS["FP8 E5M2"], saturate=True), FORMATS["FP8 E5M2"])
    assert saturated.tolist() == [57344.0, 57344.0, -57344.0]


@pytest.mark.parametrize("name, ebits, mbits", [("FP6 E3M2", 3, 2), ("FP6 E2M3", 2, 3), ("FP4 E2M1", 2, 1)])
def test_fp6_fp4_codes_equal_torch_reference(name, ebits, mbits):
    fmt = ELEMENT_FORMATS[name]
    values = np.concatenate([WEIGHTS.ravel() / 10, RNG.standard_normal(2048).astype(np.float32) * 4, [40.0, -1e9]]).astype(np.float32)
    ours = encode_array(values, fmt, saturate=True)
    assert np.array_equal(ours, _f32_to_floatx_unpacked(torch.from_numpy(values), ebits, mbits).numpy())
    every_code = np.arange(2**fmt.total_bits, dtype=np.uint8)
    assert np.array_equal(decode_array(every_code, fmt), _floatx_unpacked_to_f32(torch.from_numpy(every_code), ebits, mbits).numpy())


def test_fp4_codes_packed_two_to_a_byte_equal_torch_float4_e2m1fn_x2():
    values = torch.from_numpy(RNG.standard_normal(512).astype(np.float32) * 3).bfloat16()
    packed = _bfloat16_to_float4_e2m1fn_x2(values)
    assert packed.dtype == torch.float4_e2m1fn_x2
    codes = encode_array(values.float().numpy(), ELEMENT_FORMATS["FP4 E2M1"], saturate=True)
    assert np.array_equal(codes[0::2] | (codes[1::2] << 4), packed.view(torch.uint8).numpy())


def test_element_limits_by_hand():
    assert [ELEMENT_FORMATS[n].max_finite for n in ELEMENT_FORMATS] == [28.0, 7.5, 6.0]
    assert [ALL_FORMATS[n].max_exponent for n in ("FP8 E4M3", "FP8 E5M2", "FP6 E3M2", "FP6 E2M3", "FP4 E2M1")] == [8, 15, 4, 2, 2]
    fp4 = sorted(set(decode_array(np.arange(8), ELEMENT_FORMATS["FP4 E2M1"]).tolist()))
    assert fp4 == [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
    with pytest.raises(ValueError, match="no NaN"):
        encode_array(np.array([np.nan]), ELEMENT_FORMATS["FP4 E2M1"])


def test_e8m0_scale_bytes_equal_torch():
    every_byte = np.arange(256, dtype=np.uint8)
    theirs = torch.from_numpy(every_byte).view(torch.float8_e8m0fnu).float().numpy()
    assert np.array_equal(float_blocks.e8m0_value(every_byte), theirs, equal_nan=True)
    scales = formats.encode(WEIGHTS, "mxfp4").fields["scale"][:, 0]
    exact = np.ldexp(np.float32(1), scales.astype(np.int32) - 127)
    assert np.array_equal(scales, _torch_bits(exact, torch.float8_e8m0fnu))


# ---------------------------------------------------------------- MX: the spec's scale, hand-worked blocks


def _mx_block(*values):
    block = np.zeros((1, 32), dtype=np.float32)
    block[0, : len(values)] = values
    return block


@pytest.mark.parametrize(
    "fmt, values, scale_byte, decoded",
    [
        # amax 7.5: floor(log2 7.5) = 2 = emax(E2M1), X = 1. 7.5 saturates to 6; -0.3 -> -0.5 (nearer);
        # 2.5 is a tie of 2 (even mantissa) and 3 -> 2; 0.25 a tie of 0 and 0.5 -> 0; 1.75 a tie of 1.5 and 2 -> 2.
        ("mxfp4", (7.5, -0.3, 2.5, 0.25, 1.75), 127, (6.0, -0.5, 2.0, 0.0, 2.0)),
        # amax 600: floor(log2 600) = 9, emax(E4M3) = 8, X = 2. 600/2 = 300 on the 32-spaced binade [256, 512) -> 288;
        # 0.003/2 = 0.0015 -> subnormal 2^-9 (code 1) -> 0.00390625.
        ("mxfp8_e4m3", (600.0, 0.003, -1.0), 128, (576.0, 0.00390625, -1.0)),
        # amax 126000: floor(log2) = 16, emax(E5M2) = 15, X = 2; 63000 rounds to 65536 = inf in E5M2: the spec
        # saturates to 57344 (torch's cast would give inf). 1000/2 = 500 -> 512 (binade [256, 512), spacing 64: 500 -> 512).
        ("mxfp8_e5m2", (126000.0, 1000.0), 128, (114688.0, 1024.0)),
        # amax 30: floor(log2 30) = 4 = emax(E3M2), X = 1; 30 saturates to 28; 0.1 -> subnormal spacing 1/16: 0.125.
        ("mxfp6_e3m2", (30.0, 0.1, -5.3), 127, (28.0, 0.125, -5.0)),
        # amax 0.9: floor(log2 0.9) = -1, emax(E2M3) = 2, X = 2^-3. 0.9/X = 7.2 -> 7.0 -> 0.875;
        # 0.05/X = 0.4 -> subnormal spacing 1/8: 0.375 -> 0.046875.
        ("mxfp6_e2m3", (0.9, 0.05), 124, (0.875, 0.046875)),
    ],
)
def test_hand_worked_mx_blocks(fmt, values, scale_byte, decoded):
    encoded = formats.encode(_mx_block(*values), fmt)
    assert encoded.fields["scale"].tolist() == [[scale_byte]]
    assert formats.decode(encoded)[0, : len(values)].tolist() == list(decoded)


def test_mxfp4_codes_hand_worked_and_equal_gguf_bytes():
    codes = formats.encode(_mx_block(7.5, -0.3, 2.5, 0.25, 1.75), "mxfp4").fields["codes"][0, :5]
    assert codes.tolist() == [0b0111, 0b1001, 0b0100, 0b0000, 0b0100]
    blocks = RNG.standard_normal((64, 32)).astype(np.float32)
    ours = formats.encode(blocks, "mxfp4").fields
    codes = np.where(ours["codes"] == 0b1000, 0, ours["codes"])  # ggml stores -0 as +0; the spec (and torch) keep the sign
    packed = np.concatenate([ours["scale"], codes[:, :16] | (codes[:, 16:] << 4)], axis=1).astype(np.uint8)
    # ggml picks the nearest level by argmin (ties to the first); with no exact ties the bytes agree.
    assert np.array_equal(packed, gguf_quants.quantize(blocks, GGMLQuantizationType.MXFP4))
    assert np.array_equal(formats.quantize_dequantize(blocks, "mxfp4"), gguf_quants.dequantize(packed, GGMLQuantizationType.MXFP4))


def test_mx_scale_is_the_specs_floor_not_torchs_rceil():
    # amax 7.9: the spec's X = 2^(2 - 2) = 1 (7.9 saturates to 6); RCEIL would take X = 2^ceil(log2(7.9 / 6)) = 2.
    assert formats.encode(_mx_block(7.9, 1.0), "mxfp4").fields["scale"].item() == 127
    assert formats.quantize_dequantize(_mx_block(7.9, 1.0), "mxfp4")[0, :2].tolist() == [6.0, 1.0]


# ---------------------------------------------------------------- NVFP4, NF4, INT


def test_nvfp4_scales_follow_the_recipe_with_torch_e4m3():
    x = WEIGHTS.ravel()[:4096]
    fields = formats.encode(x, "nvfp4").fields
    tensor_scale = np.float32(np.abs(x).max() / np.float32(6 * 448))
    assert fields["tensor_scale"] == tensor_scale
    block_amax = np.abs(x.reshape(-1, 16)).max(axis=1)
    expected = _torch_bits(block_amax / np.float32(6) / tensor_scale, torch.float8_e4m3fn)
    assert np.array_equal(fields["block_scale"][:, 0], expected)
    assert decode_array(fields["block_scale"], FORMATS["FP8 E4M3"]).max() == 448.0


def test_nf4_levels_equal_the_published_constants():
    published = [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
        -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
        0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
        0.7229568362236023, 1.0,
    ]  # bitsandbytes functional.py / QLoRA appendix
    np.testing.assert_allclose(int_blocks.nf4_levels(), published, atol=2e-7)


def test_nf4_codes_are_the_nearest_level_by_brute_force():
    fields = formats.encode(WEIGHTS, "nf4").fields
    blocks = WEIGHTS.reshape(-1, 64)
    assert np.array_equal(fields["absmax"][:, 0], np.abs(blocks).max(axis=1))
    normalized = blocks / fields["absmax"]
    brute = np.abs(normalized[..., None] - int_blocks.nf4_levels()).argmin(axis=-1)
    assert np.array_equal(fields["codes"], brute)


def test_int4_group_codes_equal_torch_per_channel_with_fp16_scales():
    fields = formats.encode(WEIGHTS, "int4_g128").fields
    blocks = torch.from_numpy(WEIGHTS.reshape(-1, 128))
    scale = torch.from_numpy(fields["scale"][:, 0].astype(np.float32)).double()
    expected = torch.fake_quantize_per_channel_affine(blocks, scale.float(), torch.zeros(len(scale), dtype=torch.int32), 0, -7, 7)
    np.testing.assert_allclose(formats.quantize_dequantize(WEIGHTS, "int4_g128").reshape(-1, 128), expected.numpy(), rtol=1e-6, atol=0)
    assert fields["scale"].dtype == np.float16


# ---------------------------------------------------------------- llama.cpp blocks


def _q4_k_bytes(fields):
    """block_q4_K bytes as ggml packs them (quantize_row_q4_K_ref)."""
    scales, mins = fields["scales"].astype(np.uint8), fields["mins"].astype(np.uint8)
    packed = np.zeros((len(scales), 12), dtype=np.uint8)
    packed[:, 0:4] = scales[:, :4] | ((scales[:, 4:] >> 4) << 6)
    packed[:, 4:8] = mins[:, :4] | ((mins[:, 4:] >> 4) << 6)
    packed[:, 8:12] = (scales[:, 4:] & 0xF) | ((mins[:, 4:] & 0xF) << 4)
    codes = fields["qs"].reshape(-1, 4, 2, 32)
    qs = (codes[:, :, 0] | (codes[:, :, 1] << 4)).reshape(-1, 128)
    return np.concatenate([fields["d"].view(np.uint8), fields["dmin"].view(np.uint8), packed, qs], axis=1)


def test_q4_0_and_q8_0_bytes_equal_gguf():
    blocks = WEIGHTS.reshape(-1, 32)
    q4 = formats.encode(blocks, "q4_0").fields
    q4_bytes = np.concatenate([q4["d"].view(np.uint8), q4["qs"][:, :16] | (q4["qs"][:, 16:] << 4)], axis=1)
    assert np.array_equal(q4_bytes, gguf_quants.quantize(blocks, GGMLQuantizationType.Q4_0))
    q8 = formats.encode(blocks, "q8_0").fields
    q8_bytes = np.concatenate([q8["d"].view(np.uint8), q8["qs"].view(np.uint8)], axis=1)
    assert np.array_equal(q8_bytes, gguf_quants.quantize(blocks, GGMLQuantizationType.Q8_0))
    for fmt, packed, qtype in (("q4_0", q4_bytes, GGMLQuantizationType.Q4_0), ("q8_0", q8_bytes, GGMLQuantizationType.Q8_0)):
        assert np.array_equal(formats.quantize_dequantize(blocks, fmt), gguf_quants.dequantize(packed, qtype))


def test_hand_worked_q4_0_block():
    # max by magnitude is -4.0, so d = -4 / -8 = 0.5 and q = min(15, trunc(x / 0.5 + 8.5)):
    # -4 -> 0, 1.0 -> 10, 0.3 -> trunc(9.1) = 9, 3.9 -> trunc(16.3) -> 15 (clamped), 0.25 -> trunc(9.0) = 9.
    block = _mx_block(-4.0, 1.0, 0.3, 3.9, 0.25)
    fields = formats.encode(block, "q4_0").fields
    assert fields["d"].tolist() == [[0.5]]
    assert fields["qs"][0, :6].tolist() == [0, 10, 9, 15, 9, 8]
    assert formats.decode(formats.encode(block, "q4_0"))[0, :5].tolist() == [-4.0, 1.0, 0.5, 3.5, 0.5]


def test_hand_worked_q4_k_super_block_is_stored_exactly():
    # Sub-block j holds every code q = 0…15 twice on the grid x = sc_j * 2^-10 * q - m_j * 2^-12: min–max fits
    # it exactly, the largest scale is 63 * 2^-10 so d = 2^-10 (exact in fp16) and sc_j = 63 / (63 * 2^-10) * s_j
    # comes back as the integer planted; likewise dmin = 2^-12 and the 6-bit mins.
    codes = np.tile(np.arange(16), 2)
    scales, mins = [63, 32, 16, 8, 63, 40, 20, 10], [63, 42, 21, 0, 63, 42, 21, 0]
    block = np.concatenate([sc * 2.0**-10 * codes - m * 2.0**-12 for sc, m in zip(scales, mins)]).astype(np.float32)[None, :]
    fields = formats.encode(block, "q4_k").fields
    assert fields["d"].item() == 2.0**-10 and fields["dmin"].item() == 2.0**-12
    assert fields["scales"].tolist() == [scales]
    assert fields["mins"].tolist() == [mins]
    assert np.array_equal(fields["qs"].reshape(8, 32), np.tile(codes, (8, 1)))
    assert np.array_equal(formats.decode(formats.encode(block, "q4_k")), block)


def test_q4_k_bytes_decode_with_gguf_to_our_values():
    fields = formats.encode(WEIGHTS, "q4_k").fields
    ours = formats.quantize_dequantize(WEIGHTS, "q4_k").reshape(-1, 256)
    theirs = gguf_quants.dequantize(_q4_k_bytes(fields), GGMLQuantizationType.Q4_K)
    assert np.array_equal(ours, theirs)
    assert _q4_k_bytes(fields).shape[1] == GGML_QUANT_SIZES[GGMLQuantizationType.Q4_K][1]


def test_q4_k_search_beats_min_max():
    # make_qkx2_quants' search over 21 scales: the weighted error is never above min–max's.
    x = WEIGHTS.reshape(-1, 8, 32)
    weights = np.sqrt((x * x).mean(axis=2, keepdims=True)) + np.abs(x)
    scale, minimum, codes = llama_blocks._fit_scale_min(x, weights)
    low = np.minimum(x.min(axis=2), 0)
    span = x.max(axis=2) - low
    min_max = np.clip(np.rint((x - low[..., None]) / span[..., None] * 15), 0, 15) * (span / 15)[..., None] + low[..., None]
    searched = codes * scale[..., None] - minimum[..., None]
    assert ((weights * (searched - x) ** 2).sum(axis=2) <= (weights * (min_max - x) ** 2).sum(axis=2) * (1 + 1e-5)).all()
    assert (weights * (searched - x) ** 2).sum() < 0.95 * (weights * (min_max - x) ** 2).sum()


# ---------------------------------------------------------------- every format: its stated error bound


NF4_HALF_GAP = (1 - 0.6961928009986877) / 2  # the widest gap between NF4 levels is -1 … -0.696


def _element_bound(scaled: np.ndarray, fmt) -> np.ndarray:
    """|t - round(t)| bound for t = |x| / scale in a float element type: half the spacing at t's binade, or the
    distance to the largest value where it saturates."""
    binade = np.maximum(np.floor(np.log2(np.maximum(scaled, 1e-45))), 1 - fmt.bias)
    half_spacing = np.ldexp(0.5, (binade - fmt.mantissa_bits).astype(int))
    return np.where(scaled > fmt.max_finite, scaled - fmt.max_finite, half_spacing)


def _stated_bound(fmt: str, x: np.ndarray) -> np.ndarray:
    block = formats.FORMATS[fmt].layout.block
    blocks = formats._blocks(x.ravel(), block)
    return np.broadcast_to(_block_bound(fmt, formats.encode(x, fmt).fields, blocks), blocks.shape)


def _block_bound(fmt: str, fields: dict, blocks: np.ndarray) -> np.ndarray:
    if fmt.startswith("mxfp"):
        element = float_blocks.MX_ELEMENTS[fmt]
        scale = float_blocks.e8m0_value(fields["scale"])
        return scale * _element_bound(np.abs(blocks) / scale, element)
    if fmt in ("nvfp4", "fp4_e2m1"):
        scale = fields["tensor_scale"]
        if fmt == "nvfp4":
            scale = decode_array(fields["block_scale"], FORMATS["FP8 E4M3"]) * scale
        bound = scale * _element_bound(np.abs(blocks) / np.maximum(scale, 1e-45), float_blocks.FP4)
        return np.where(scale > 0, bound, np.abs(blocks))
    if fmt.startswith("int"):
        scale = fields["scale"].astype(np.float32)
        bits = 4 if fmt.startswith("int4") else 8
        top = 2**bits - 1 if "asym" in fmt else 2 ** (bits - 1) - 1
        return scale / 2 + top * np.maximum(scale * 2.0**-11, 2.0**-25)  # fp16 rounding, normal or subnormal
    if fmt == "nf4":
        return fields["absmax"] * NF4_HALF_GAP
    if fmt == "nf4_dq":
        stored = int_blocks.nf4_dq_absmax(fields)[:, None]
        exact = np.abs(blocks).max(axis=1, keepdims=True)
        assert (np.abs(stored - exact) <= np.abs(exact - fields["absmax_offset"]) / 16 + 1e-6).all()
        return exact * NF4_HALF_GAP + np.abs(stored - exact)
    if fmt in ("q8_0", "q4_0"):
        # codes are chosen with the float32 d and decoded with the fp16 one: |code| * |d32 - d16| more
        amax = np.abs(blocks).max(axis=1, keepdims=True)
        d32 = amax / 127 if fmt == "q8_0" else amax / 8
        stored_rounding = np.abs(d32 - np.abs(fields["d"].astype(np.float32)))
        return d32 / 2 + 127 * stored_rounding if fmt == "q8_0" else d32 + 8 * stored_rounding
    assert fmt == "q4_k"
    step = (fields["d"].astype(np.float32) * fields["scales"]).repeat(32, axis=1)
    offset = (fields["dmin"].astype(np.float32) * fields["mins"]).repeat(32, axis=1)
    outside = np.maximum(-offset - blocks, 0) + np.maximum(blocks - (15 * step - offset), 0)
    return step / 2 + outside


@pytest.mark.parametrize("fmt", list(formats.FORMATS))
def test_decode_of_encode_is_within_the_stated_bound(fmt):
    for x in (WEIGHTS, distributions.weight_matrix("outlier", 64, seed=3), distributions.weight_matrix("laplace", 64, seed=4) * 1e-3):
        error = np.abs(formats.quantize_dequantize(x, fmt).ravel() - x.ravel())
        bound = _stated_bound(fmt, x).ravel()[: x.size]
        float32_rounding = 2.0**-22 * np.abs(x.ravel())  # of the products scale · value and x / scale
        assert (error <= bound * (1 + 1e-5) + float32_rounding + 1e-12).all(), fmt


@pytest.mark.parametrize("fmt", list(formats.FORMATS))
def test_shapes_zeros_and_padding(fmt):
    x = RNG.standard_normal((3, 5, 49)).astype(np.float32)  # 735 values: no block size divides it
    assert formats.quantize_dequantize(x, fmt).shape == x.shape
    assert formats.quantize_dequantize(np.zeros((4, 64)), fmt).tolist() == np.zeros((4, 64)).tolist()
    assert formats.quantize_dequantize(x.astype(np.float64), fmt).dtype == np.float32


# ---------------------------------------------------------------- bits per weight by hand


@pytest.mark.parametrize(
    "fmt, expected",
    [
        ("q4_0", 4.5), ("q8_0", 8.5), ("q4_k", 4.5), ("mxfp4", 4.25), ("mxfp6_e3m2", 6.25), ("mxfp8_e4m3", 8.25),
        ("nf4", 4.5), ("int4_g32", 4.5), ("int4_g128", 4.125), ("int4_g128_asym", 4 + 20 / 128), ("int8_g128", 8.125),
        ("int8_g32", 8.5), ("int8_g64_asym", 8 + 24 / 64),
    ],
)
def test_bits_per_weight_of_whole_blocks(fmt, expected):
    assert formats.bits_per_weight(fmt, 4096 * 4096) == expected


@pytest.mark.parametrize("n", [16, 4096, 1_000_000, 4096 * 4096])
def test_bits_per_weight_with_tensor_scales(n):
    assert formats.bits_per_weight("nvfp4", n) == 4.5 + 32 / n
    assert formats.bits_per_weight("fp4_e2m1", n) == 4 + 32 / n
    groups = math.ceil(math.ceil(n / 64) / 256)
    expected = (math.ceil(n / 64) * (64 * 4 + 8) + groups * 32 + 32) / n
    assert formats.bits_per_weight("nf4_dq", n) == pytest.approx(expected, rel=1e-12)
    assert formats.bits_per_weight("nf4_dq", 64 * 256 * 100) == pytest.approx(4 + 8 / 64 + 32 / (64 * 256) + 32 / (64 * 256 * 100))


def test_bits_per_weight_equal_ggml_block_sizes_and_count_padding():
    for fmt, qtype in (("q4_0", "Q4_0"), ("q8_0", "Q8_0"), ("q4_k", "Q4_K"), ("mxfp4", "MXFP4")):
        values, block_bytes = GGML_QUANT_SIZES[GGMLQuantizationType[qtype]]
        assert formats.bits_per_weight(fmt, values) == block_bytes * 8 / values
    assert formats.bits_per_weight("q4_0", 33) == 2 * 18 * 8 / 33  # a second block, 31 zeros of padding


# ---------------------------------------------------------------- rotation


def test_rotation_is_the_random_sign_hadamard_and_its_inverse():
    x = RNG.standard_normal((5, 96)).astype(np.float32)  # 96 = 32 · 3: chunks of 32
    assert rotation.rotation_size(96) == 32 and rotation.rotation_size(784) == 16 and rotation.rotation_size(1024) == 1024
    signs = rotation.random_signs(32, 7)
    expected = (x.reshape(-1, 32) * signs) @ hadamard(32).T / np.sqrt(32)
    np.testing.assert_allclose(rotation.rotate(x, 7).reshape(-1, 32), expected, atol=1e-5)
    np.testing.assert_allclose(rotation.unrotate(rotation.rotate(x, 7), 7), x, atol=1e-5)
    assert not np.array_equal(rotation.random_signs(32, 7), rotation.random_signs(32, 8))


def test_rotation_signs_are_not_the_weights_own_draws():
    # weights drawn with the same seed must not share the signs' random stream (it once aligned a Laplace row).
    for distribution in ("laplace", "normal", "uniform"):
        weights = distributions.weight_matrix(distribution, 256, seed=0)
        assert np.abs(rotation.rotate(weights, 0)).max() < 1.5 * np.abs(rotation.rotate(distributions.weight_matrix("normal", 256, 5), 0)).max()


def test_rotation_spreads_an_outlier_and_helps_the_block_it_was_in():
    x = distributions.weight_matrix("outlier", 256, seed=0)
    rotated = rotation.rotate(x, 0)
    assert np.abs(x).max() == 25.0 and np.abs(rotated).max() < 6
    np.testing.assert_allclose(np.linalg.norm(rotated), np.linalg.norm(x), rtol=1e-5)
    plain = np.linalg.norm(formats.quantize_dequantize(x, "int4_tensor") - x)
    turned = np.linalg.norm(formats.quantize_dequantize(x, "int4_tensor", rotation_seed=0) - x)
    assert turned < 0.5 * plain


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: formats.quantize_dequantize(np.ones(4), "int3"), "fmt must be one of int4_g32"),
        (lambda: formats.quantize_dequantize(np.array([1.0, np.nan]), "q4_0"), "x must be finite"),
        (lambda: formats.quantize_dequantize(np.array([1e39]), "q4_0"), "fit in float32"),
        (lambda: formats.quantize_dequantize(np.array([]), "q4_0"), "must not be empty"),
        (lambda: formats.bits_per_weight("q4_0", 0), "n must be from 1"),
        (lambda: formats.quantize_dequantize(np.ones(4), "q4_0", rotation_seed=-1), "seed"),
        (lambda: formats.quantize_dequantize(np.float32(2), "q4_0", rotation_seed=0), "at least one axis"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
