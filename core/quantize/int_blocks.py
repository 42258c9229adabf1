"""Block formats with integer codes: INT4 / INT8 per group of g values with an fp16 scale (the GPTQ / AWQ
checkpoint layout), and NF4 (QLoRA) with and without double quantization of its block scales.

Each format is a pair of functions over blocks, `encode(blocks) -> fields` and `decode(fields) -> blocks`,
with blocks a (number of blocks, block size) float32 array and fields a dict of the stored arrays.

INT, per group (core.quantize.linear does the arithmetic): symmetric codes -(2^(b-1) - 1)…2^(b-1) - 1 with
scale amax / (2^(b-1) - 1); asymmetric codes 0…2^b - 1 with scale (max - min) / (2^b - 1) over the range
widened to hold 0, and a b-bit zero point. The scale is stored as float16 (rounded to nearest-even, at
least fp16's smallest subnormal 2^-24, at most 65504) and the codes are computed with that stored scale,
round half to even and clamped: the error is at most half the stored scale, except where rounding the scale
down made amax / scale exceed the top code, by at most (top code) × |s - fp16(s)| more (fp16 rounds to within
2^-11 s, or 2^-25 below its normal range, 6.1e-5).

NF4 (Dettmers et al., QLoRA, 2023): 64 values share their absmax, stored as float32; each value is the index
of the nearest of 16 levels (NF4_LEVELS, normal quantiles scaled to [-1, 1], with an exact 0) for x / absmax.
The error is at most absmax times half the widest gap between levels (-1 … -0.696: 0.152).
Double quantization ("nf4_dq") stores each absmax in 8 bits instead of 32: the tensor's mean absmax (float32)
is subtracted, and the centred absmaxes, in groups of 256 blocks, are stored as FP8 E4M3 with one float32
scale per group (group amax / 448). The QLoRA paper's 8-bit floats, block 256; bitsandbytes codes them with
its own 8-bit "dynamic" map instead of E4M3 (same bits, slightly different levels). As in bitsandbytes, the
codes are chosen with the exact absmax, then decoded with the stored one.
"""

from __future__ import annotations

from functools import lru_cache
from statistics import NormalDist

import numpy as np

from core.quantize import linear
from core.quantize.block_layout import PER_TENSOR, Field, Layout
from core.quantize.dtypes import FORMATS, decode_array, encode_array

FP16_SMALLEST = np.float32(2.0**-24)
FP16_LARGEST = np.float32(65504)
NF4_BLOCK = 64
NF4_DQ_GROUP = 256  # absmax values per second-level scale
NF4_OFFSET = 0.9677083  # QLoRA / bitsandbytes: the quantile of the largest level, (1 - 1/(2*15) + 1 - 1/(2*16)) / 2
E4M3 = FORMATS["FP8 E4M3"]


def int_layout(bits: int, group: int, symmetric: bool) -> Layout:
    """INT codes of `bits` bits per group of `group`, an fp16 scale and (asymmetric) a bits-wide zero point."""
    fields = [Field("codes", bits, 1, f"INT{bits} code"), Field("scale", 16, group, "fp16 scale")]
    if not symmetric:
        fields.append(Field("zero_point", bits, group, f"{bits}-bit zero point"))
    return Layout(group, tuple(fields))


def int_encode(blocks: np.ndarray, bits: int, symmetric: bool) -> dict[str, np.ndarray]:
    """{"scale": (nb, 1) float16, "zero_point": (nb, 1) int32 (asymmetric only), "codes": (nb, g) int32}."""
    block_size = (1, blocks.shape[1])
    scale, zero_point = linear.choose_qparams(blocks, bits, symmetric, block_size)
    scale = np.clip(scale, FP16_SMALLEST, FP16_LARGEST).astype(np.float16)
    codes = linear.quantize(blocks, scale.astype(np.float32), zero_point, bits, block_size, symmetric)
    return {"scale": scale, "codes": codes} if symmetric else {"scale": scale, "zero_point": zero_point, "codes": codes}


def int_decode(fields: dict[str, np.ndarray]) -> np.ndarray:
    """(nb, g) float32: (code - zero point) × scale."""
    codes = fields["codes"]
    zero_point = fields.get("zero_point", np.zeros(fields["scale"].shape, dtype=np.int32))
    return linear.dequantize(codes, fields["scale"].astype(np.float32), zero_point, (1, codes.shape[1]))


@lru_cache(maxsize=1)
def nf4_levels() -> np.ndarray:
    """The 16 NF4 levels, ascending float32 in [-1, 1]: 8 positive normal quantiles from NF4_OFFSET down to 1/2
    (exclusive), 7 negative ones from 1 - NF4_OFFSET, and 0, divided by the largest (bitsandbytes' create_normal_map)."""
    normal = NormalDist()
    positive = [normal.inv_cdf(p) for p in np.linspace(NF4_OFFSET, 0.5, 9)[:-1]]
    negative = [-normal.inv_cdf(p) for p in np.linspace(NF4_OFFSET, 0.5, 8)[:-1]]
    levels = np.sort(np.array([*negative, 0.0, *positive]))
    levels = (levels / levels.max()).astype(np.float32)
    levels.flags.writeable = False
    return levels


NF4_LAYOUT = Layout(NF4_BLOCK, (Field("codes", 4, 1, "NF4 level index"), Field("absmax", 32, NF4_BLOCK, "float32 absmax")))

NF4_DQ_LAYOUT = Layout(
    NF4_BLOCK,
    (
        Field("codes", 4, 1, "NF4 level index"),
        Field("absmax_code", 8, NF4_BLOCK, "FP8 E4M3 code of absmax − offset"),
        Field("absmax_scale", 32, NF4_BLOCK * NF4_DQ_GROUP, "float32 scale of 256 absmax codes"),
        Field("absmax_offset", 32, PER_TENSOR, "float32 mean absmax"),
    ),
)


def nf4_encode(blocks: np.ndarray) -> dict[str, np.ndarray]:
    """{"absmax": (nb, 1) float32, "codes": (nb, 64) uint8 indices of the nearest NF4 level to x / absmax}."""
    absmax = np.abs(blocks).max(axis=1, keepdims=True)
    return {"absmax": absmax, "codes": _nearest_levels(blocks, absmax)}


def nf4_decode(fields: dict[str, np.ndarray]) -> np.ndarray:
    """(nb, 64) float32: NF4 level × absmax."""
    return nf4_levels()[fields["codes"]] * fields["absmax"]


def nf4_dq_encode(blocks: np.ndarray) -> dict[str, np.ndarray]:
    """NF4 codes, and the absmax double quantized: {"absmax_offset": (), "absmax_scale": (groups,) float32,
    "absmax_code": (nb, 1) uint8 E4M3, "codes": (nb, 64) uint8}."""
    absmax = np.abs(blocks).max(axis=1)
    offset = np.float32(absmax.mean())
    centred = _grouped(absmax - offset, NF4_DQ_GROUP)
    group_scale = np.abs(centred).max(axis=1) / np.float32(E4M3.max_finite)
    group_scale = np.where(group_scale > 0, group_scale, np.float32(1))
    absmax_code = encode_array(centred / group_scale[:, None], E4M3, saturate=True).reshape(-1)[: absmax.size]
    codes = _nearest_levels(blocks, absmax[:, None])
    return {"absmax_offset": np.array(offset), "absmax_scale": group_scale, "absmax_code": absmax_code[:, None], "codes": codes}


def nf4_dq_decode(fields: dict[str, np.ndarray]) -> np.ndarray:
    """(nb, 64) float32: NF4 level × (E4M3 code × group scale + offset)."""
    return nf4_levels()[fields["codes"]] * nf4_dq_absmax(fields)[:, None]


def nf4_dq_absmax(fields: dict[str, np.ndarray]) -> np.ndarray:
    """(nb,) float32 absmax as stored by double quantization."""
    codes = fields["absmax_code"][:, 0]
    scale = np.repeat(fields["absmax_scale"], NF4_DQ_GROUP)[: codes.size]
    return decode_array(codes, E4M3) * scale + fields["absmax_offset"]


def _nearest_levels(blocks: np.ndarray, absmax: np.ndarray) -> np.ndarray:
    levels = nf4_levels()
    with np.errstate(divide="ignore", invalid="ignore"):
        normalized = np.where(absmax > 0, blocks / absmax, np.float32(0))
    midpoints = (levels[1:] + levels[:-1]) / 2
    return np.searchsorted(midpoints, normalized).astype(np.uint8)


def _grouped(values: np.ndarray, group: int) -> np.ndarray:
    """values (n,) zero-padded to whole groups, as (groups, group)."""
    padded = np.zeros(-(-values.size // group) * group, dtype=values.dtype)
    padded[: values.size] = values
    return padded.reshape(-1, group)
