"""Huffman coding against information theory (H <= L < H + 1), a heap-free reference for the lengths'
optimality, and round trips on random, single-symbol and 256-symbol streams."""

from __future__ import annotations

import numpy as np
import pytest

from core.compress.huffman import MAX_CODE_LENGTH, canonical_codes, code_lengths, decode, encode, encoded_bits


def _entropy(symbols: np.ndarray) -> float:
    p = np.bincount(symbols) / symbols.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


STREAMS = {
    "geometric": np.random.default_rng(0).geometric(0.3, size=20_000) - 1,
    "uniform 256": np.random.default_rng(1).integers(0, 256, size=50_000),
    "two symbols": (np.random.default_rng(2).random(10_000) < 0.9).astype(np.int64),
    "zipf": np.minimum(np.random.default_rng(3).zipf(1.5, size=30_000), 255) - 1,
}


@pytest.mark.parametrize("name", STREAMS)
def test_average_length_is_within_one_bit_of_the_entropy(name: str) -> None:
    symbols = STREAMS[name]
    lengths = code_lengths(np.bincount(symbols))
    average = encoded_bits(symbols, lengths) / symbols.size
    entropy = _entropy(symbols)
    assert entropy <= average < entropy + 1
    assert len(encode(symbols, lengths)) == -(-encoded_bits(symbols, lengths) // 8)


@pytest.mark.parametrize("name", STREAMS)
def test_decode_inverts_encode(name: str) -> None:
    symbols = STREAMS[name]
    lengths = code_lengths(np.bincount(symbols))
    assert decode(encode(symbols, lengths), lengths, symbols.size).tolist() == symbols.tolist()


def test_every_one_of_256_symbols_round_trips() -> None:
    symbols = np.random.default_rng(4).permutation(np.repeat(np.arange(256), np.arange(1, 257)))
    lengths = code_lengths(np.bincount(symbols, minlength=256))
    assert np.count_nonzero(lengths) == 256
    assert decode(encode(symbols, lengths), lengths, symbols.size).tolist() == symbols.tolist()


def test_a_single_symbol_stream_costs_one_bit_a_symbol_and_round_trips() -> None:
    symbols = np.full(1000, 7)
    lengths = code_lengths(np.bincount(symbols, minlength=16))
    assert lengths.tolist() == [0] * 7 + [1] + [0] * 8
    data = encode(symbols, lengths)
    assert len(data) == 125
    assert decode(data, lengths, 1000).tolist() == symbols.tolist()


def test_lengths_are_optimal_against_brute_force_on_small_alphabets() -> None:
    # The optimal expected length of a prefix code equals the sum of the merged weights in Huffman's
    # construction; check it against the minimum over all complete length assignments of 4 symbols.
    import itertools

    counts = np.array([10, 6, 3, 1])
    best = min(
        int(np.dot(counts, lengths))
        for lengths in itertools.product(range(1, 4), repeat=4)
        if sum(2.0**-l for l in lengths) <= 1
    )
    assert int(np.dot(counts, code_lengths(counts))) == best


def test_canonical_codes_are_prefix_free_and_ordered() -> None:
    lengths = np.array([3, 0, 2, 3, 2, 2])
    codes = canonical_codes(lengths)
    # Canonical order: length 2 -> symbols 2, 4, 5 get 00, 01, 10; length 3 -> symbols 0, 3 get 110, 111.
    assert {s: format(codes[s], f"0{lengths[s]}b") for s in np.flatnonzero(lengths)} == {
        2: "00", 4: "01", 5: "10", 0: "110", 3: "111"
    }


def test_skewed_counts_are_limited_to_the_table_size() -> None:
    fibonacci = [1, 1]
    while len(fibonacci) < 40:
        fibonacci.append(fibonacci[-1] + fibonacci[-2])
    symbols_counts = np.array(fibonacci)
    lengths = code_lengths(symbols_counts)
    assert lengths.max() <= MAX_CODE_LENGTH
    assert np.sum(2.0 ** -lengths.astype(float)) <= 1
    symbols = np.arange(40).repeat(3)
    assert decode(encode(symbols, lengths), lengths, symbols.size).tolist() == symbols.tolist()


def test_bad_tables_and_streams_raise_clear_errors() -> None:
    lengths = code_lengths(np.array([5, 3, 2]))
    with pytest.raises(ValueError, match="Kraft"):
        decode(b"\x00", np.array([1, 1, 1]), 1)
    with pytest.raises(ValueError, match="no code"):
        decode(b"\x00", np.array([0, 0]), 1)
    with pytest.raises(ValueError, match="symbols must be 0…2"):
        encode(np.array([3]), lengths)
    data = encode(np.array([0, 1, 2] * 10), lengths)
    with pytest.raises(ValueError, match="bitstream"):
        decode(data[:2], lengths, 30)
    with pytest.raises(ValueError, match="no code in this table"):
        encode(np.array([1]), np.array([1, 0, 1]))
