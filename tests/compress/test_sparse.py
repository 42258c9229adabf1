"""The relative-index format against the paper's own example (Fig. 2) and a brute-force walk."""

from __future__ import annotations

import numpy as np
import pytest

from core.compress.sparse import entry_positions, pack_bits, relative_index, unpack_bits


def test_the_papers_3_bit_example() -> None:
    # Han et al. 2016, Fig. 2: 16 slots, 3-bit index, values 3.4, 0.9 and 1.7 with a gap the index cannot
    # span; the stored diffs are 1, 3, 8, 3 and the third entry is a filler zero.
    row = np.zeros(16)
    row[[0, 3, 14]] = [3.4, 0.9, 1.7]
    gaps, filler = relative_index(np.flatnonzero(row), index_bits=3)
    assert gaps.tolist() == [1, 3, 8, 3]
    assert filler.tolist() == [False, False, True, False]
    values = np.where(filler, 0.0, 0.0)
    values[~filler] = row[np.flatnonzero(row)]
    assert values.tolist() == [3.4, 0.9, 0.0, 1.7]
    assert (gaps - 1).max() < 2**3  # every stored diff fits 3 bits


def _walk(positions: list[int], index_bits: int) -> tuple[list[int], list[bool]]:
    """Brute force: step through the positions one at a time, emitting a filler whenever the run is full."""
    longest, gaps, filler, previous = 2**index_bits, [], [], -1
    for position in positions:
        while position - previous > longest:
            previous += longest
            gaps.append(longest)
            filler.append(True)
        gaps.append(position - previous)
        filler.append(False)
        previous = position
    return gaps, filler


@pytest.mark.parametrize("index_bits", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("density", [0.01, 0.1, 0.9, 1.0])
def test_matches_a_brute_force_walk_and_inverts(index_bits: int, density: float) -> None:
    rng = np.random.default_rng(index_bits)
    positions = np.flatnonzero(rng.random(3000) < density)
    gaps, filler = relative_index(positions, index_bits)
    assert (gaps.tolist(), filler.tolist()) == _walk(positions.tolist(), index_bits)
    assert entry_positions(gaps)[~filler].tolist() == positions.tolist()


def test_edge_cases_no_kept_weights_and_the_first_slot() -> None:
    gaps, filler = relative_index(np.array([], dtype=np.int64), 4)
    assert gaps.size == filler.size == 0
    assert relative_index(np.array([0]), 1)[0].tolist() == [1]
    with pytest.raises(ValueError, match="increasing"):
        relative_index(np.array([3, 3]), 4)
    with pytest.raises(ValueError, match="index_bits must be from 1 to 16"):
        relative_index(np.array([1]), 0)


@pytest.mark.parametrize("width", [1, 3, 5, 8, 13])
def test_fixed_width_packing_round_trips_in_the_expected_bytes(width: int) -> None:
    values = np.random.default_rng(width).integers(0, 2**width, size=1001)
    data = pack_bits(values, width)
    assert len(data) == -(-1001 * width // 8)
    assert unpack_bits(data, width, 1001).tolist() == values.tolist()
    # Most significant bit first: 3-bit fields 5, 1 are 101 001 -> 0b10100100.
    assert pack_bits(np.array([5, 1]), 3) == bytes([0b10100100])
    with pytest.raises(ValueError, match="below 2"):
        pack_bits(np.array([2**width]), width)
    with pytest.raises(ValueError, match="needs"):
        unpack_bits(data[:-1], width, 1001)
