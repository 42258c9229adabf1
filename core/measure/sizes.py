"""Storage sizes in real bytes: every size the app shows comes from here."""

from __future__ import annotations

import math

from core.checks import integer_in_range

_MAX_COUNT = 2**62


def index_bits(k: int) -> int:
    """Bits needed to index one of k shared values: ceil(log2 k), and 0 when k == 1."""
    k = integer_in_range(k, "k", 1, _MAX_COUNT)
    return (k - 1).bit_length()


def float_bytes(n_values: int, value_bits: int = 32) -> int:
    """Bytes of n_values stored as plain value_bits-bit numbers, rounded up to whole bytes."""
    n_values = integer_in_range(n_values, "n_values", 0, _MAX_COUNT)
    value_bits = integer_in_range(value_bits, "value_bits", 1, 64)
    return math.ceil(n_values * value_bits / 8)


def shared_bytes(n_values: int, k: int, value_bits: int = 32) -> int:
    """Bytes of a weight-shared tensor: n_values indices packed at index_bits(k) bits, plus k codebook values.

    >>> shared_bytes(529_760, 8, value_bits=24)  # 880x602 image, 8 shared RGB colors
    198684
    """
    n_values = integer_in_range(n_values, "n_values", 0, _MAX_COUNT)
    return math.ceil(n_values * index_bits(k) / 8) + float_bytes(k, value_bits)


def linear_bits(n_values: int, bits: int, blocks: int = 1, symmetric: bool = False, scale_bits: int = 32) -> int:
    """Bits of a linearly quantized tensor: n_values codes of `bits` bits, and per block a scale
    of scale_bits plus, when asymmetric, a zero point of `bits` bits."""
    n_values = integer_in_range(n_values, "n_values", 0, _MAX_COUNT)
    bits = integer_in_range(bits, "bits", 1, 32)
    blocks = integer_in_range(blocks, "blocks", 1, max(1, n_values))
    return n_values * bits + blocks * (scale_bits + (0 if symmetric else bits))


def linear_bytes(n_values: int, bits: int, blocks: int = 1, symmetric: bool = False, scale_bits: int = 32) -> int:
    """linear_bits rounded up to whole bytes.

    >>> linear_bytes(400, 4)  # 400 4-bit codes + one float32 scale + one 4-bit zero point
    205
    """
    return math.ceil(linear_bits(n_values, bits, blocks, symmetric, scale_bits) / 8)
