"""Block formats whose elements are small floats: the OCP microscaling formats (MXFP8, MXFP6, MXFP4),
NVIDIA's NVFP4, and FP4 E2M1 with one per-tensor scale.

Each format is a pair of functions over blocks, `encode(blocks) -> fields` and `decode(fields) -> blocks`,
with blocks a (number of blocks, block size) float32 array and fields a dict of the stored arrays (codes as
bit patterns, see core.quantize.dtypes). Elements round to nearest, ties to even, and saturate: a scaled
value beyond the element type's largest finite value is stored as that value (never inf or NaN).

MX (OCP Microscaling Formats spec v1.0, section 6.3): 32 elements share one scale X = 2^(floor(log2(amax)) - emax),
amax the block's largest |value| and emax the exponent of the element type's largest normal (E4M3 8, E5M2 15,
E3M2 4, E2M3 2, E2M1 2); X is stored as an E8M0 byte (the exponent + 127, 0xFF being NaN) and clamped to
2^-127…2^127. Because X comes from amax's exponent alone, amax / X lies in [2^emax, 2^(emax+1)), which can be
above the element maximum (6 for E2M1): those values saturate. torch's own MX cast (torch.testing's
`to_mxfp`, from torchao) rounds X up instead ("RCEIL", ceil(log2(amax / max))), so it never saturates but can
waste a binade; this module follows the spec. Per element the error is at most X times half the element
spacing at the element's binade, or X * (2^(emax+1) - max) where it saturates.

NVFP4 (NVIDIA): 16 E2M1 elements share an FP8 E4M3 scale, and one FP32 scale s_t = amax(tensor) / (6 * 448)
covers the tensor, so the largest block scale is 448. Block scale s_b = E4M3(amax(block) / 6 / s_t), rounded
to nearest-even; elements E2M1(x / (s_b * s_t)). A block whose scale rounds to 0 (amax below 2^-10 * 6 * s_t)
decodes to zeros.
"""

from __future__ import annotations

import numpy as np

from core.quantize.block_layout import PER_TENSOR, Field, Layout
from core.quantize.dtypes import ELEMENT_FORMATS, FORMATS, FloatFormat, decode_array, encode_array

MX_BLOCK = 32
NVFP4_BLOCK = 16
E8M0_BIAS = 127
E8M0_NAN = 0xFF
FP4 = ELEMENT_FORMATS["FP4 E2M1"]
E4M3 = FORMATS["FP8 E4M3"]

MX_ELEMENTS = {
    "mxfp8_e4m3": FORMATS["FP8 E4M3"],
    "mxfp8_e5m2": FORMATS["FP8 E5M2"],
    "mxfp6_e3m2": ELEMENT_FORMATS["FP6 E3M2"],
    "mxfp6_e2m3": ELEMENT_FORMATS["FP6 E2M3"],
    "mxfp4": FP4,
}


def mx_layout(element: FloatFormat) -> Layout:
    """An MX block: 32 elements of the element type and one E8M0 shared scale."""
    return Layout(
        MX_BLOCK,
        (
            Field("codes", element.total_bits, 1, f"{element.name} element (sign, exponent, mantissa bits)"),
            Field("scale", 8, MX_BLOCK, "E8M0 shared scale: X = 2^(byte - 127)"),
        ),
    )


def mx_encode(blocks: np.ndarray, element: FloatFormat) -> dict[str, np.ndarray]:
    """{"scale": (nb, 1) uint8 E8M0 bytes, "codes": (nb, 32) element bit patterns} of (nb, 32) float32 blocks."""
    amax = np.abs(blocks).max(axis=1)
    _, exponent = np.frexp(amax)  # floor(log2(amax)) = exponent - 1 when amax > 0
    shared = np.where(amax > 0, exponent - 1 - element.max_exponent, -E8M0_BIAS)
    shared = np.clip(shared, -E8M0_BIAS, E8M0_BIAS)
    codes = encode_array(np.ldexp(blocks, -shared[:, None]), element, saturate=True)
    return {"scale": (shared + E8M0_BIAS).astype(np.uint8)[:, None], "codes": codes}


def mx_decode(fields: dict[str, np.ndarray], element: FloatFormat) -> np.ndarray:
    """(nb, 32) float32 values: each element's value times its block's 2^(scale byte - 127)."""
    return np.ldexp(decode_array(fields["codes"], element), fields["scale"].astype(np.int32) - E8M0_BIAS)


def e8m0_value(byte: np.ndarray) -> np.ndarray:
    """float32 value of E8M0 scale bytes: 2^(byte - 127), NaN for 0xFF."""
    byte = np.asarray(byte)
    return np.where(byte == E8M0_NAN, np.float32(np.nan), np.ldexp(np.float32(1), np.minimum(byte, E8M0_NAN - 1).astype(np.int32) - E8M0_BIAS))


NVFP4_LAYOUT = Layout(
    NVFP4_BLOCK,
    (
        Field("codes", 4, 1, "FP4 E2M1 element"),
        Field("block_scale", 8, NVFP4_BLOCK, "FP8 E4M3 block scale"),
        Field("tensor_scale", 32, PER_TENSOR, "FP32 tensor scale amax / (6 · 448)"),
    ),
)


def nvfp4_encode(blocks: np.ndarray) -> dict[str, np.ndarray]:
    """{"tensor_scale": () float32, "block_scale": (nb, 1) E4M3 bytes, "codes": (nb, 16) E2M1 codes} of (nb, 16) blocks."""
    amax = np.abs(blocks).max(axis=1)
    tensor_scale = _positive_scale(amax.max() / np.float32(FP4.max_finite * E4M3.max_finite))
    block_scale = encode_array(amax / np.float32(FP4.max_finite) / tensor_scale, E4M3, saturate=True)
    scale = decode_array(block_scale, E4M3) * tensor_scale
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(scale[:, None] > 0, blocks / scale[:, None], np.float32(0))
    return {"tensor_scale": np.array(tensor_scale), "block_scale": block_scale[:, None], "codes": encode_array(scaled, FP4, saturate=True)}


def nvfp4_decode(fields: dict[str, np.ndarray]) -> np.ndarray:
    """(nb, 16) float32: E2M1 element × E4M3 block scale × FP32 tensor scale."""
    scale = decode_array(fields["block_scale"], E4M3) * fields["tensor_scale"]
    return decode_array(fields["codes"], FP4) * scale


FP4_TENSOR_LAYOUT = Layout(
    1,
    (
        Field("codes", 4, 1, "FP4 E2M1 element"),
        Field("tensor_scale", 32, PER_TENSOR, "FP32 tensor scale amax / 6"),
    ),
)


def fp4_tensor_encode(blocks: np.ndarray) -> dict[str, np.ndarray]:
    """{"tensor_scale": () float32 amax / 6, "codes": E2M1 codes of x / scale} (one scale for the whole tensor)."""
    tensor_scale = _positive_scale(np.abs(blocks).max() / np.float32(FP4.max_finite))
    return {"tensor_scale": np.array(tensor_scale), "codes": encode_array(blocks / tensor_scale, FP4, saturate=True)}


def fp4_tensor_decode(fields: dict[str, np.ndarray]) -> np.ndarray:
    """float32 E2M1 values × the tensor scale."""
    return decode_array(fields["codes"], FP4) * fields["tensor_scale"]


def _positive_scale(scale: np.floating) -> np.float32:
    """A tensor scale, 1 for an all-zero tensor (any scale stores zeros exactly)."""
    return np.float32(scale) if scale > 0 else np.float32(1)
