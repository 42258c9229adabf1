"""Sparse storage of a pruned tensor as in Deep Compression (§2, Fig. 2): the kept weights in row-major
order, each with the gap to the previous entry in `index_bits` bits; a gap too long for those bits is
bridged by filler entries (a zero weight) every 2^index_bits positions. Also: fixed-width bit packing.

Gaps count from a virtual entry at position -1, so every gap is 1…2^b and is stored as gap - 1 in b bits
(the paper's "exceeds 8, the largest 3-bit number": gaps of 8 fit, 9 needs a filler).

>>> gaps, filler = relative_index(np.array([0, 3, 14]), index_bits=3)
>>> gaps.tolist(), filler.tolist()
([1, 3, 8, 3], [False, False, True, False])
"""

from __future__ import annotations

import numpy as np

from core.checks import integer_in_range

MAX_INDEX_BITS = 16


def relative_index(positions: np.ndarray, index_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Entries for kept positions (sorted, distinct, >= 0): (gaps (m,) int64 in 1…2^index_bits, filler (m,) bool),
    m = kept + fillers; a filler entry stands for a zero weight inserted to bridge a long gap."""
    index_bits = integer_in_range(index_bits, "index_bits", 1, MAX_INDEX_BITS)
    positions = np.asarray(positions, dtype=np.int64)
    if positions.ndim != 1 or (positions.size and (positions[0] < 0 or np.any(np.diff(positions) <= 0))):
        raise ValueError("positions must be a 1-D array of increasing non-negative integers")
    longest = 1 << index_bits
    distances = np.diff(positions, prepend=-1)
    fillers = (distances - 1) // longest  # fillers before each kept weight
    entries = fillers + 1
    gaps = np.full(int(entries.sum()), longest, dtype=np.int64)
    last = np.cumsum(entries) - 1  # each kept weight is the last entry of its run
    gaps[last] = distances - fillers * longest
    filler = np.ones(gaps.size, dtype=bool)
    filler[last] = False
    return gaps, filler


def entry_positions(gaps: np.ndarray) -> np.ndarray:
    """Positions (m,) int64 of the entries whose gaps (m,) are given (the inverse of `relative_index`)."""
    return np.cumsum(np.asarray(gaps, dtype=np.int64)) - 1


def pack_bits(values: np.ndarray, width: int) -> bytes:
    """Non-negative integers below 2^width packed as `width`-bit fields, most significant bit first, the last
    byte zero-padded: ceil(n * width / 8) bytes."""
    width = integer_in_range(width, "width", 1, 32)
    values = np.asarray(values, dtype=np.uint64).ravel()
    if values.size and int(values.max()) >> width:
        raise ValueError(f"values must be below 2^{width} to pack in {width} bits; got {int(values.max())}")
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    bits = ((values[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)
    return np.packbits(bits.ravel()).tobytes()


def unpack_bits(data: bytes, width: int, count: int) -> np.ndarray:
    """The `count` integers (int64) packed by `pack_bits` at `width` bits; ValueError if data is too short."""
    width = integer_in_range(width, "width", 1, 32)
    needed = -(-count * width // 8)
    if len(data) < needed:
        raise ValueError(f"a block of {count} {width}-bit values needs {needed} bytes; got {len(data)}")
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8, count=needed))[: count * width].reshape(count, width)
    weights = np.left_shift(np.int64(1), np.arange(width - 1, -1, -1, dtype=np.int64))
    return bits.astype(np.int64) @ weights
