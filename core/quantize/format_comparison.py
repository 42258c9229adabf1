"""Number formats measured on one weight tensor: bits per weight against error for every format, the 1-D
k-means codebook at the same bits as a reference, one block taken apart, and what a rotation does to an outlier.

Errors are over the whole tensor: relative error ||W - Q||_F / ||W||_F and SQNR = 10 log10(||W||² / ||W - Q||²) dB.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.checks import finite_array, integer_in_range
from core.measure.sizes import shared_bytes
from core.quantize import float_blocks, formats, rotation
from core.quantize.dtypes import ALL_FORMATS, decode_array
from core.quantize.weight_sharing import quantize_weights

Progress = Callable[[float, str], None]
KMEANS_BITS = tuple(range(1, 9))


def _matrix(weights: object) -> np.ndarray:
    """weights as a float32 matrix (rows of the last axis), not all zeros."""
    array = finite_array(weights, "weights").astype(np.float32)
    if not array.any():
        raise ValueError("weights must not be all zeros: their relative error is undefined")
    return array.reshape(-1, array.shape[-1]) if array.ndim != 2 else array


def _frobenius(values: np.ndarray) -> float:
    return float(np.sqrt(np.square(values, dtype=np.float64).sum()))


def sqnr_db(relative: float) -> float:
    """Signal-to-quantization-noise ratio in dB of a relative error ||W - Q|| / ||W|| (inf when it is 0)."""
    return float("inf") if relative == 0 else -20 * float(np.log10(relative))


def compare_formats(
    weights: np.ndarray,
    names: Sequence[str] = tuple(formats.FORMATS),
    rotation_seed: int | None = None,
    progress: Progress | None = None,
) -> dict[str, list]:
    """Each named format on `weights` (any shape; blocks along the last axis), as columns: "format", "family",
    "bits_per_weight", "relative_error" (Frobenius), "sqnr_db", "max_abs_error". With a rotation_seed, each is
    quantized after a random-sign Hadamard rotation (undone before measuring)."""
    matrix = _matrix(weights)
    columns: dict[str, list] = {key: [] for key in ("format", "family", "bits_per_weight", "relative_error", "sqnr_db", "max_abs_error")}
    # Not core.measure.norms.relative_error: it validates and copies both tensors to float64 matrices and takes
    # the norm through a matrix product, ~50 ms per format at a million weights; this is the same number.
    norm = _frobenius(matrix)
    for done, name in enumerate(names):
        if progress:
            progress(done / len(names), name)
        difference = formats.quantize_dequantize(matrix, name, rotation_seed=rotation_seed) - matrix
        relative = _frobenius(difference) / norm
        columns["format"].append(name)
        columns["family"].append(formats.format_named(name).family)
        columns["bits_per_weight"].append(formats.bits_per_weight(name, matrix.size))
        columns["relative_error"].append(relative)
        columns["sqnr_db"].append(sqnr_db(relative))
        columns["max_abs_error"].append(float(np.abs(difference).max()))
    if progress:
        progress(1.0, "done")
    return columns


def kmeans_reference(weights: np.ndarray, bit_widths: Sequence[int] = KMEANS_BITS) -> dict[str, list]:
    """1-D k-means with 2^b shared values per tensor (core.quantize.kmeans via weight_sharing), as columns "bits",
    "bits_per_weight" (b-bit indices plus a float32 codebook of 2^b values) and "relative_error"."""
    matrix = _matrix(weights)
    norm = _frobenius(matrix)
    return {
        "bits": list(bit_widths),
        "bits_per_weight": [shared_bytes(matrix.size, 2**b) * 8 / matrix.size for b in bit_widths],
        "relative_error": [_frobenius(quantize_weights(matrix, b, "kmeans") - matrix) / norm for b in bit_widths],
    }


@dataclass(frozen=True)
class BlockView:
    """One block of a tensor in a format: its original values, each element's stored code (as an integer and
    as bits), the decoded values, and the block's scale fields as (name, what it is, stored, value) rows."""

    start: int
    values: np.ndarray
    codes: np.ndarray
    code_bits: list[str]
    decoded: np.ndarray
    scales: list[tuple[str, str, str, str]]

    @property
    def errors(self) -> np.ndarray:
        """decoded - values."""
        return self.decoded - self.values


DISPLAY_BLOCK = 32  # values shown for a format whose only scale is per tensor


def block_count(fmt: str, n: int) -> int:
    """How many blocks the inspector can show for a tensor of n values (a per-tensor format in runs of 32)."""
    return -(-integer_in_range(n, "n", 1, 2**62) // _display_block(fmt))


def inspect_block(weights: np.ndarray, fmt: str, index: int) -> BlockView:
    """Block `index` (0-based, row-major runs of the format's block) of `weights` stored in `fmt`."""
    flat = finite_array(weights, "weights").astype(np.float32).reshape(-1)
    size = _display_block(fmt)
    index = integer_in_range(index, "index", 0, block_count(fmt, flat.size) - 1)
    encoded = formats.encode(flat, fmt)
    layout = formats.format_named(fmt).layout
    start, stop = index * size, min((index + 1) * size, flat.size)
    code_field = next(field for field in layout.fields if field.per == 1)
    codes = encoded.fields[code_field.name].reshape(-1)[start:stop].astype(np.int64)
    decoded = formats.decode(encoded)[start:stop]
    block = start // layout.block  # the format's own block holding the first shown value
    scales = [
        (field.name, field.what, *_scale_text(fmt, field.name, _field_at(encoded.fields[field.name], block, layout.block, field.per)))
        for field in layout.fields
        if field.per != 1
    ]
    return BlockView(start, flat[start:stop], codes, [_bits_text(fmt, code, code_field.bits) for code in codes], decoded, scales)


def _display_block(fmt: str) -> int:
    block = formats.format_named(fmt).layout.block
    return DISPLAY_BLOCK if block == 1 else block


def _field_at(field: np.ndarray, block: int, block_size: int, per: int) -> np.ndarray:
    """The part of a stored field that covers block number `block`."""
    if field.ndim == 0:
        return field
    if field.ndim == 1:  # one entry per `per` values, covering several blocks
        return field[block * block_size // per]
    return field[block]


def _scale_text(fmt: str, name: str, stored: np.ndarray) -> tuple[str, str]:
    """(the stored field as written, the number it stands for)."""
    stored = np.atleast_1d(stored)
    if fmt.startswith("mxfp"):
        return " ".join(f"{int(b):08b}" for b in stored), ", ".join(f"2^{int(b) - 127}" for b in stored)
    if name in ("block_scale", "absmax_code"):
        e4m3 = ALL_FORMATS["FP8 E4M3"]
        return " ".join(f"{int(b):08b}" for b in stored), ", ".join(f"{v:.6g}" for v in decode_array(stored, e4m3))
    if stored.dtype.kind in "iu":
        return ", ".join(str(int(v)) for v in stored), ", ".join(str(int(v)) for v in stored)
    return ", ".join(f"{v:.6g}" for v in stored), ", ".join(f"{float(v):.6g}" for v in stored)


def _bits_text(fmt: str, code: int, bits: int) -> str:
    """A code's bit pattern; float elements split into sign, exponent and mantissa."""
    pattern = format(code & (2**bits - 1), f"0{bits}b")
    element = float_blocks.MX_ELEMENTS.get(fmt) or (float_blocks.FP4 if fmt in ("nvfp4", "fp4_e2m1") else None)
    if element is None:
        return pattern
    return f"{pattern[0]} {pattern[1 : 1 + element.exponent_bits]} {pattern[1 + element.exponent_bits :]}"


@dataclass(frozen=True)
class OutlierStory:
    """One tensor stored four ways: one scale per tensor, the same after a rotation, per block, per block after a rotation."""

    names: tuple[str, ...]
    bits_per_weight: tuple[float, ...]
    relative_errors: tuple[float, ...]
    zero_fractions: tuple[float, ...]
    """Share of the nonzero weights that decode to exactly 0."""
    rotated: np.ndarray
    """The weights after the rotation, float32 with the tensor's shape."""
    rotation_size: int


def outlier_story(weights: np.ndarray, per_tensor: str, per_block: str, seed: int = 0) -> OutlierStory:
    """`weights` in the per-tensor format and the per-block one, each without and with rotate(·, seed) first."""
    matrix = _matrix(weights)
    ways = [(per_tensor, None), (per_tensor, seed), (per_block, None), (per_block, seed)]
    decoded = [formats.quantize_dequantize(matrix, name, rotation_seed=turn) for name, turn in ways]
    nonzero = matrix != 0
    return OutlierStory(
        tuple(name if turn is None else f"{name} + rotation" for name, turn in ways),
        tuple(formats.bits_per_weight(name, matrix.size) for name, _ in ways),
        tuple(_frobenius(d - matrix) / _frobenius(matrix) for d in decoded),
        tuple(float(np.mean(d[nonzero] == 0)) for d in decoded),
        rotation.rotate(matrix, seed),
        rotation.rotation_size(matrix.shape[-1]),
    )
