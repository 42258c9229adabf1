"""The number formats models ship in, side by side: each encodes a tensor to its stored fields (codes,
scales, zero points) and decodes it back, and its bits per weight follow from its block layout.

Formats (`FORMATS`, by name):

| name | block | stored per block (bits per weight at n a multiple of the block) |
|---|---|---|
| int4_g32, int4_g64, int4_g128 | 32 / 64 / 128 | symmetric INT4 codes, fp16 scale (4.5 / 4.25 / 4.125) |
| int4_g32_asym, int4_g64_asym, int4_g128_asym | 32 / 64 / 128 | INT4 codes, fp16 scale, 4-bit zero point (4.625 / 4.3125 / 4.15625) |
| int8_g32, int8_g64, int8_g128 | 32 / 64 / 128 | symmetric INT8 codes, fp16 scale (8.5 / 8.25 / 8.125) |
| int8_g32_asym, int8_g64_asym, int8_g128_asym | 32 / 64 / 128 | INT8 codes, fp16 scale, 8-bit zero point (8.75 / 8.375 / 8.1875) |
| fp4_e2m1 | tensor | FP4 E2M1 codes, one FP32 scale amax / 6 (4 + 32/n) |
| nf4 | 64 | NF4 level indices, float32 absmax (4.5) |
| nf4_dq | 64 | NF4 indices, FP8 absmax per block, FP32 per 256 blocks, FP32 offset (4.127 + 32/n) |
| mxfp8_e4m3, mxfp8_e5m2 | 32 | FP8 elements, E8M0 shared scale (8.25) |
| mxfp6_e3m2, mxfp6_e2m3 | 32 | FP6 elements, E8M0 shared scale (6.25) |
| mxfp4 | 32 | FP4 E2M1 elements, E8M0 shared scale (4.25) |
| nvfp4 | 16 | FP4 E2M1 elements, FP8 E4M3 block scale, FP32 tensor scale (4.5 + 32/n) |
| q8_0, q4_0 | 32 | llama.cpp: int8 / 4-bit codes, fp16 scale (8.5 / 4.5) |
| q4_k | 256 | llama.cpp: 4-bit codes, 6-bit scale and min per 32, two fp16 super-scales (4.5) |
| int4_tensor | tensor | symmetric INT4 codes, one FP32 scale amax / 7 (4 + 32/n) |

Blocks are runs of consecutive values in row-major order, so they run along the last axis (the input axis of an
(out, in) weight matrix); when the last axis is not a multiple of the block, blocks continue into the next row.
The last block is padded with zeros, which are stored and counted. How each format rounds and saturates is in
its module: core.quantize.int_blocks, core.quantize.float_blocks, core.quantize.llama_blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from core.checks import finite_array, integer_in_range
from core.quantize import float_blocks, int_blocks, llama_blocks, rotation
from core.quantize.block_layout import PER_TENSOR, Field, Layout

Fields = dict[str, np.ndarray]
GROUPS = (32, 64, 128)


@dataclass(frozen=True)
class BlockFormat:
    """A number format: its name, family and one-line description, its layout, and encode / decode over (nb, block) blocks."""

    name: str
    family: str
    description: str
    layout: Layout
    encode_blocks: Callable[[np.ndarray], Fields]
    decode_blocks: Callable[[Fields], np.ndarray]


@dataclass(frozen=True)
class Encoded:
    """A tensor in a block format: the format's name, the tensor's shape and its stored fields. Per-block fields
    are (number of blocks, block // per) arrays; fields covering several blocks are 1-D; per-tensor ones 0-d."""

    fmt: str
    shape: tuple[int, ...]
    fields: Fields


def _int_format(bits: int, group: int, symmetric: bool) -> BlockFormat:
    kind = "symmetric" if symmetric else "asymmetric (zero point)"
    return BlockFormat(
        f"int{bits}_g{group}" + ("" if symmetric else "_asym"),
        "INT per group",
        f"INT{bits} per group of {group}, {kind}, fp16 scale (GPTQ / AWQ layout)",
        int_blocks.int_layout(bits, group, symmetric),
        partial(int_blocks.int_encode, bits=bits, symmetric=symmetric),
        int_blocks.int_decode,
    )


def _mx_format(name: str) -> BlockFormat:
    element = float_blocks.MX_ELEMENTS[name]
    return BlockFormat(
        name,
        "OCP MX",
        f"{element.name} elements in blocks of 32 sharing an E8M0 power-of-two scale (OCP MX v1.0)",
        float_blocks.mx_layout(element),
        partial(float_blocks.mx_encode, element=element),
        partial(float_blocks.mx_decode, element=element),
    )


def _int4_tensor_encode(blocks: np.ndarray) -> Fields:
    fields = int_blocks.int_encode(blocks.reshape(1, -1), bits=4, symmetric=True)
    return {"scale": fields["scale"].astype(np.float32).reshape(()), "codes": fields["codes"].reshape(blocks.shape)}


def _int4_tensor_decode(fields: Fields) -> np.ndarray:
    return fields["codes"].astype(np.float32) * fields["scale"]


_FORMATS = [
    *(_int_format(bits, group, symmetric) for bits in (4, 8) for symmetric in (True, False) for group in GROUPS),
    BlockFormat(
        "int4_tensor",
        "per tensor",
        "INT4, symmetric, one scale for the whole tensor",
        Layout(1, (Field("codes", 4, 1, "INT4 code"), Field("scale", 32, PER_TENSOR, "FP32 scale amax / 7"))),
        _int4_tensor_encode,
        _int4_tensor_decode,
    ),
    BlockFormat(
        "fp4_e2m1",
        "per tensor",
        "FP4 E2M1 elements, one FP32 scale for the whole tensor",
        float_blocks.FP4_TENSOR_LAYOUT,
        float_blocks.fp4_tensor_encode,
        float_blocks.fp4_tensor_decode,
    ),
    BlockFormat("nf4", "NF4 (QLoRA)", "NF4: 16 normal-quantile levels, float32 absmax per 64", int_blocks.NF4_LAYOUT, int_blocks.nf4_encode, int_blocks.nf4_decode),
    BlockFormat(
        "nf4_dq",
        "NF4 (QLoRA)",
        "NF4 with double quantization: 8-bit absmax per 64, FP32 scale per 256 absmaxes",
        int_blocks.NF4_DQ_LAYOUT,
        int_blocks.nf4_dq_encode,
        int_blocks.nf4_dq_decode,
    ),
    *(_mx_format(name) for name in float_blocks.MX_ELEMENTS),
    BlockFormat(
        "nvfp4",
        "NVFP4",
        "FP4 E2M1 in blocks of 16, FP8 E4M3 block scale, FP32 tensor scale (NVIDIA)",
        float_blocks.NVFP4_LAYOUT,
        float_blocks.nvfp4_encode,
        float_blocks.nvfp4_decode,
    ),
    BlockFormat("q8_0", "llama.cpp", "llama.cpp Q8_0: int8 codes, fp16 scale per 32", llama_blocks.Q8_0_LAYOUT, llama_blocks.q8_0_encode, llama_blocks.q8_0_decode),
    BlockFormat("q4_0", "llama.cpp", "llama.cpp Q4_0: 4-bit codes, fp16 scale per 32", llama_blocks.Q4_0_LAYOUT, llama_blocks.q4_0_encode, llama_blocks.q4_0_decode),
    BlockFormat(
        "q4_k",
        "llama.cpp",
        "llama.cpp Q4_K: super-blocks of 256, 6-bit scales and mins per 32, fp16 super-scales",
        llama_blocks.Q4_K_LAYOUT,
        llama_blocks.q4_k_encode,
        llama_blocks.q4_k_decode,
    ),
]
FORMATS: dict[str, BlockFormat] = {fmt.name: fmt for fmt in _FORMATS}


def format_named(fmt: str) -> BlockFormat:
    """The BlockFormat called `fmt` (a key of FORMATS), or ValueError naming the accepted names."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}; got {fmt!r}")
    return FORMATS[fmt]


def bits_per_weight(fmt: str, n: int) -> float:
    """Bits per weight of a tensor of n values stored in `fmt`: codes and every scale, zero point and padding.

    >>> bits_per_weight("q4_0", 4096), bits_per_weight("mxfp4", 4096), bits_per_weight("nvfp4", 4096)
    (4.5, 4.25, 4.5078125)
    """
    return format_named(fmt).layout.bits_per_weight(integer_in_range(n, "n", 1, 2**62))


def encode(x: np.ndarray, fmt: str) -> Encoded:
    """x (any shape, finite, fits float32) stored in `fmt`: its fields, blocked along the flattened last axis."""
    block_format = format_named(fmt)
    values = _float32_values(x)
    return Encoded(fmt, values.shape, block_format.encode_blocks(_blocks(values.reshape(-1), block_format.layout.block)))


def decode(encoded: Encoded) -> np.ndarray:
    """The float32 values an Encoded tensor stands for, in its original shape (padding dropped)."""
    blocks = format_named(encoded.fmt).decode_blocks(encoded.fields)
    size = int(np.prod(encoded.shape))
    return blocks.reshape(-1)[:size].reshape(encoded.shape).astype(np.float32, copy=False)


def quantize_dequantize(x: np.ndarray, fmt: str, *, rotation_seed: int | None = None) -> np.ndarray:
    """x stored in `fmt` and read back: float32 with x's shape. With a `rotation_seed`, x is rotated along its last
    axis by a random-sign Hadamard matrix (core.quantize.rotation) before encoding and rotated back after.

    >>> quantize_dequantize(np.array([0.3, -1.0, 2.5, 6.0]), "fp4_e2m1").tolist()
    [0.5, -1.0, 2.0, 6.0]
    """
    format_named(fmt)
    if rotation_seed is None:
        return decode(encode(x, fmt))
    return rotation.unrotate(decode(encode(rotation.rotate(_float32_values(x), rotation_seed), fmt)), rotation_seed)


def _float32_values(x: object) -> np.ndarray:
    values = finite_array(x, "x")
    with np.errstate(over="ignore"):
        values32 = values.astype(np.float32)
    if not np.isfinite(values32).all():
        raise ValueError(f"x must fit in float32 (|x| <= {np.finfo(np.float32).max:.3g}); got max |x| = {np.abs(values).max():.3g}")
    return values32


def _blocks(flat: np.ndarray, block: int) -> np.ndarray:
    """flat values zero-padded to whole blocks, as (number of blocks, block)."""
    padding = -flat.size % block
    if padding:
        flat = np.concatenate([flat, np.zeros(padding, dtype=flat.dtype)])
    return flat.reshape(-1, block)
