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
