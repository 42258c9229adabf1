"""Canonical Huffman coding of integer streams, encoded and decoded with numpy (no per-symbol Python loop).

A code is given by its code lengths per symbol (0: symbol absent), the only table a file must store;
codes are canonical (shorter first, then by symbol). A stream of one distinct symbol gets a 1-bit code (as
in DEFLATE), so the table says which symbol it is. Decoding reads a window of `max length` bits at every bit
position through a lookup table, then follows the chain of code boundaries from bit 0 by pointer doubling.

>>> lengths = code_lengths(np.bincount([0, 0, 0, 1, 2]))
>>> lengths.tolist()
[1, 2, 2]
>>> decode(encode(np.array([2, 0, 1]), lengths), lengths, 3).tolist()
[2, 0, 1]
"""

from __future__ import annotations

import heapq

import numpy as np

from core.checks import integer_in_range

MAX_CODE_LENGTH = 20
"""Longest code allowed, so the decoding table (2^length entries) stays small; counts are flattened to fit."""


def _unlimited_lengths(counts: np.ndarray) -> np.ndarray:
    present = np.flatnonzero(counts)
    lengths = np.zeros(counts.size, dtype=np.int64)
    if present.size == 1:
        lengths[present] = 1
        return lengths
    # Huffman's merges over nodes 0…m-1 (the symbols) and m… (each merge a new node, numbered upwards),
    # ties broken by the smallest symbol below; a node's depth is its parent's plus one.
    heap = [(int(counts[symbol]), int(symbol), node) for node, symbol in enumerate(present)]
    heapq.heapify(heap)
    parent = [0] * (2 * present.size - 1)
    for new_node in range(present.size, 2 * present.size - 1):
        count_a, tie_a, node_a = heapq.heappop(heap)
        count_b, tie_b, node_b = heapq.heappop(heap)
        parent[node_a] = parent[node_b] = new_node
        heapq.heappush(heap, (count_a + count_b, min(tie_a, tie_b), new_node))
    depth = [0] * len(parent)
    for node in range(len(parent) - 2, -1, -1):  # parents are numbered above their children
        depth[node] = depth[parent[node]] + 1
    lengths[present] = depth[: present.size]
    return lengths


def code_lengths(counts: np.ndarray) -> np.ndarray:
    """Huffman code lengths (uint8, one per symbol, 0 where the count is 0) for symbol counts (alphabet,)."""
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.size == 0 or counts.dtype.kind not in "iu" or np.any(counts < 0):
        raise ValueError("counts must be a non-empty 1-D array of non-negative integers")
    if not counts.any():
        raise ValueError("counts must hold at least one positive count")
    counts = counts.astype(np.int64)
    lengths = _unlimited_lengths(counts)
    while lengths.max() > MAX_CODE_LENGTH:  # rare (Fibonacci-like counts): flatten and rebuild
        counts = np.where(counts > 0, (counts + 1) // 2, 0)
        lengths = _unlimited_lengths(counts)
    return lengths.astype(np.uint8)


def check_lengths(lengths: np.ndarray) -> np.ndarray:
    """Code lengths as int64 if they describe a prefix code (Kraft sum <= 1, each 0…MAX_CODE_LENGTH), else ValueError."""
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size == 0 or lengths.dtype.kind not in "iu":
        raise ValueError("code lengths must be a non-empty 1-D array of integers")
    lengths = lengths.astype(np.int64)
    if lengths.min() < 0 or lengths.max() > MAX_CODE_LENGTH:
        raise ValueError(f"code lengths must be 0…{MAX_CODE_LENGTH}; got {lengths.min()}…{lengths.max()}")
    used = lengths[lengths > 0]
    if used.size == 0:
        raise ValueError("code lengths describe no code (all are 0)")
    if np.sum(np.ldexp(1.0, -used)) > 1.0:
        raise ValueError("code lengths are not those of a prefix code (their Kraft sum exceeds 1)")
    return lengths


def canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """The canonical code (int64) of each symbol for the given code lengths (0 for absent symbols)."""
    lengths = check_lengths(lengths)
    symbols = np.flatnonzero(lengths)
    order = symbols[np.lexsort((symbols, lengths[symbols]))]
    sorted_lengths = lengths[order]
    codes = np.zeros(lengths.size, dtype=np.int64)
    code, previous = 0, 0
    for length in np.unique(sorted_lengths):  # one step per distinct length, not per symbol
        code <<= int(length) - previous
        previous = int(length)
        run = order[sorted_lengths == length]
        codes[run] = code + np.arange(run.size)
        code += run.size
    return codes


def _symbols(symbols: np.ndarray, alphabet: int) -> np.ndarray:
    symbols = np.asarray(symbols)
    if symbols.ndim != 1 or (symbols.size and symbols.dtype.kind not in "iu"):
        raise ValueError("symbols must be a 1-D array of integers")
    symbols = symbols.astype(np.int64)
    if symbols.size and (symbols.min() < 0 or symbols.max() >= alphabet):
        raise ValueError(f"symbols must be 0…{alphabet - 1}; got {symbols.min()}…{symbols.max()}")
    return symbols


def encode(symbols: np.ndarray, lengths: np.ndarray) -> bytes:
    """Symbols (n,) integers coded with the canonical code of `lengths`, most significant bit first,
    the last byte zero-padded. Every symbol must have a code (length > 0)."""
    lengths = check_lengths(lengths)
    symbols = _symbols(symbols, lengths.size)
    symbol_lengths = lengths[symbols]
    if np.any(symbol_lengths == 0):
        raise ValueError(f"symbol {int(symbols[symbol_lengths == 0][0])} has no code in this table")
    symbol_codes = canonical_codes(lengths)[symbols]
    starts = np.cumsum(symbol_lengths) - symbol_lengths
    owner = np.repeat(np.arange(symbols.size), symbol_lengths)
    bit_in_code = np.arange(owner.size) - starts[owner]
    bits = (symbol_codes[owner] >> (symbol_lengths[owner] - 1 - bit_in_code)) & 1
    return np.packbits(bits.astype(np.uint8)).tobytes()


def encoded_bits(symbols: np.ndarray, lengths: np.ndarray) -> int:
    """Bits `encode` writes for these symbols before padding: the sum of their code lengths."""
    lengths = check_lengths(lengths)
    return int(lengths[_symbols(symbols, lengths.size)].sum())


def decode(data: bytes, lengths: np.ndarray, count: int) -> np.ndarray:
    """The first `count` symbols (int64) of a bitstream written by `encode` with the same `lengths`;
    ValueError if the bits run out or spell no code."""
    lengths = check_lengths(lengths)
    count = integer_in_range(count, "count", 0, 2**40)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    present = np.flatnonzero(lengths)
    longest = int(lengths.max())
    codes = canonical_codes(lengths)
    # Lookup table: every `longest`-bit window starting with a symbol's code maps to that symbol.
    table_symbol = np.full(1 << longest, -1, dtype=np.int64)
    table_length = np.zeros(1 << longest, dtype=np.int64)
    spans = 1 << (longest - lengths[present])
    first = codes[present] << (longest - lengths[present])
    window_symbol = np.repeat(present, spans)
    window_index = np.repeat(first, spans) + (np.arange(spans.sum()) - np.repeat(np.cumsum(spans) - spans, spans))
    table_symbol[window_index] = window_symbol
    table_length[window_index] = lengths[window_symbol]

    bits = np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8)).astype(np.int64)
    n_bits = bits.size
    padded = np.concatenate([bits, np.zeros(longest, dtype=np.int64)])
    windows = np.zeros(n_bits, dtype=np.int64)
    for offset in range(longest):
        windows = (windows << 1) | padded[offset : offset + n_bits]
    step = table_length[windows]
    # jump[p]: where the code starting at bit p ends; n_bits is the absorbing end (a code never starts there).
    jump = np.append(np.where(step > 0, np.minimum(np.arange(n_bits) + step, n_bits), n_bits), n_bits)
    starts = np.zeros(1, dtype=np.int64)
    while starts.size < count:  # positions after 0, 1, 2, 4, … symbols by pointer doubling
        starts = np.concatenate([starts, jump[starts]])
        jump = jump[jump]
    starts = starts[:count]
    if starts[-1] >= n_bits or np.any(step[starts] == 0):
        raise ValueError(f"the bitstream ends or holds an invalid code before {count} symbols are read")
    if starts[-1] + step[starts[-1]] > n_bits:
        raise ValueError(f"the bitstream is too short for {count} symbols")
    return table_symbol[windows[starts]]
