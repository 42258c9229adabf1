"""The .dc file: exact round trips at every stage, sizes that follow from the layout, and clear errors on
corrupt, truncated or foreign bytes."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from core.compress.dcfile import load_compressed, read_header, save_compressed
from core.compress.sharing import share_weights


@pytest.fixture(scope="module")
def model() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    state = {
        "fc.weight": rng.normal(size=(40, 70)).astype(np.float32),
        "fc.bias": rng.normal(size=40).astype(np.float32),
        "conv.weight": rng.normal(size=(4, 2, 3, 3)).astype(np.float32),
        "conv.bias": rng.normal(size=4).astype(np.float32),
    }
    masks = {"fc.weight": np.abs(state["fc.weight"]) > 1.5, "conv.weight": np.abs(state["conv.weight"]) > 0.2}
    return state, masks


def _shared(state, masks, bits=4):
    return {name: share_weights(state[name], mask, bits) for name, mask in masks.items()}


def _dense_with(state, shared):
    return {name: shared[name].dense() if name in shared else array for name, array in state.items()}


def test_dense_float32_round_trips_bit_for_bit(model) -> None:
    state, _ = model
    data = save_compressed("toy", state)
    loaded = load_compressed(data)
    assert list(loaded) == list(state)
    for name in state:
        assert loaded[name].dtype == np.float32 and loaded[name].tobytes() == state[name].tobytes()
    header, _ = read_header(data)
    assert len(data) == 9 + len(json.dumps(header, separators=(",", ":"))) + 4 * sum(a.size for a in state.values())


def test_pruned_float_values_round_trip(model) -> None:
    state, masks = model
    pruned = {name: np.where(masks[name], array, 0).astype(np.float32) if name in masks else array for name, array in state.items()}
    loaded = load_compressed(save_compressed("toy", pruned, masks=masks, index_bits=3, huffman_coded=False))
    for name in state:
        assert loaded[name].tobytes() == pruned[name].tobytes()


@pytest.mark.parametrize("huffman_coded", [False, True])
@pytest.mark.parametrize("index_bits", [1, 3, 5, 8])
def test_shared_layers_round_trip_exactly(model, huffman_coded: bool, index_bits: int) -> None:
    state, masks = model
    shared = _shared(state, masks)
    expected = _dense_with(state, shared)
    loaded = load_compressed(save_compressed("toy", expected, shared=shared, index_bits=index_bits, huffman_coded=huffman_coded))
    for name in state:
        assert loaded[name].tobytes() == expected[name].tobytes()


def test_fixed_width_blocks_have_the_sizes_the_layout_gives(model) -> None:
    state, masks = model
    shared = _shared(state, masks, bits=4)
    data = save_compressed("toy", _dense_with(state, shared), shared=shared, index_bits=5, huffman_coded=False)
    entry = next(e for e in read_header(data)[0]["tensors"] if e["name"] == "fc.weight")
    assert entry["codes"][1] == -(-entry["entries"] * 4 // 8)
    assert entry["gaps"][1] == -(-entry["entries"] * 5 // 8)
    assert entry["codebook"][1] == 4 * shared["fc.weight"].codebook.size


def test_huffman_makes_a_layer_smaller() -> None:
    weights = np.random.default_rng(1).normal(size=(200, 300)).astype(np.float32)
    state, masks = {"fc.weight": weights}, {"fc.weight": np.abs(weights) > 1.5}
    shared = _shared(state, masks, bits=6)
    dense = _dense_with(state, shared)
    fixed = save_compressed("toy", dense, shared=shared, index_bits=5, huffman_coded=False)
    coded = save_compressed("toy", dense, shared=shared, index_bits=5, huffman_coded=True)
    assert len(coded) < len(fixed)


def test_edge_layers_all_pruned_and_all_kept(model) -> None:
    state, _ = model
    masks = {"fc.weight": np.zeros((40, 70), dtype=bool), "conv.weight": np.ones((4, 2, 3, 3), dtype=bool)}
    for bits in (1, 8):
        shared = _shared(state, masks, bits)
        expected = _dense_with(state, shared)
        for huffman_coded in (False, True):
            loaded = load_compressed(save_compressed("toy", expected, shared=shared, huffman_coded=huffman_coded))
            assert all(loaded[name].tobytes() == expected[name].tobytes() for name in state)
            assert (loaded["fc.weight"] == 0).all()


@pytest.fixture(scope="module")
def good_file(model) -> bytes:
    state, masks = model
    shared = _shared(state, masks)
    return save_compressed("toy", _dense_with(state, shared), shared=shared)


def _with_header(data: bytes, edit) -> bytes:
    header, payload = read_header(data)
    edit(header)
    text = json.dumps(header).encode()
    return b"QEDC\x01" + struct.pack("<I", len(text)) + text + payload


def _entry(header: dict, name: str = "fc.weight") -> dict:
    return next(e for e in header["tensors"] if e["name"] == name)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda d: b"PK\x03\x04" + d[4:], "not a .dc file"),
        (lambda d: b"", "not a .dc file"),
        (lambda d: d[:5] + struct.pack("<I", 10**9) + d[9:], "truncated"),
        (lambda d: d[:4] + b"\x09" + d[5:], "version"),
        (lambda d: d[:9] + b"{" * 20 + d[29:], "not valid JSON"),
        (lambda d: d[:-10], "truncated"),
        (lambda d: d + b"\x00" * 3, "after its last block"),
        (lambda d: _with_header(d, lambda h: _entry(h).update(shape=[-1])), "shape"),
        (lambda d: _with_header(d, lambda h: _entry(h).update(shape=[10**6, 10**6])), "shape"),
        (lambda d: _with_header(d, lambda h: _entry(h).update(entries=10**6)), "stream"),
        (lambda d: _with_header(d, lambda h: _entry(h).update(index_bits=40)), "index_bits"),
        (lambda d: _with_header(d, lambda h: _entry(h).update(weight_bits=2)), "codebook"),
        (lambda d: _with_header(d, lambda h: _entry(h).update(codes="here")), "codes"),
        (lambda d: _with_header(d, lambda h: _entry(h).update(coding="zip")), "coding"),
        (lambda d: _with_header(d, lambda h: _entry(h, "fc.bias").update(dense=[0, 3])), "must be 160 bytes"),
        (lambda d: _with_header(d, lambda h: h.pop("tensors")), "header must be"),
    ],
)
def test_corrupt_truncated_or_foreign_bytes_raise_value_error(good_file: bytes, corrupt, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_compressed(corrupt(good_file))


def test_random_byte_flips_never_escape_as_other_errors(good_file: bytes) -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        data = bytearray(good_file)
        for position in rng.integers(0, len(data), size=3):
            data[position] = rng.integers(0, 256)
        try:
            load_compressed(bytes(data))
        except ValueError:
            pass


def test_gaps_pointing_past_the_tensor_are_rejected(model) -> None:
    state, masks = model
    shared = _shared(state, masks)
    data = save_compressed("toy", _dense_with(state, shared), shared=shared, huffman_coded=False)
    # Rewrite fc.weight as a smaller tensor: its gaps now reach beyond the end.
    with pytest.raises(ValueError, match="reach position"):
        load_compressed(_with_header(data, lambda h: _entry(h).update(shape=[40, 10])))
