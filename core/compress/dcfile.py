"""The .dc file: one self-describing file holding a compressed model, every byte of it accounted for.

Layout (integers little-endian):

    b"QEDC"   magic
    u8        version (1)
    u32       header length H
    H bytes   header, UTF-8 JSON: {"model": name, "tensors": [tensor, ...]} in state-dict order
    payload   the blocks, back to back; each is [offset from the payload's start, length] in the header

A tensor is either dense, {"name", "shape", "dense": [offset, length]} with 4-byte float32 values, or sparse
(Deep Compression's storage): {"name", "shape", "entries": m, "index_bits": b, ...} whose m entries are the
kept weights in row-major order plus fillers (`core.compress.sparse`), with blocks:
  - "gaps": each entry's gap - 1, in b-bit fields ("coding": "fixed") or Huffman-coded ("huffman");
  - either "values": m float32 (a pruned model before weight sharing), or "codebook": k float32 shared
    values and "codes": each entry's code in "weight_bits"-bit fields or Huffman-coded, code 0 being zero
    (`core.compress.sharing`);
  - with "huffman": "gap_lengths" (2^b uint8) and "code_lengths" (2^weight_bits uint8), the canonical Huffman
    code lengths (`core.compress.huffman`).
Biases are stored dense float32. The reader checks every field, length and offset before trusting it.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping

import numpy as np

from core.compress import huffman
from core.compress.sharing import SharedWeights
from core.compress.sparse import MAX_INDEX_BITS, entry_positions, pack_bits, relative_index, unpack_bits

MAGIC = b"QEDC"
VERSION = 1
_PREAMBLE = struct.Struct("<4sBI")
MAX_VALUES = 1 << 31
"""Largest tensor a file may declare (a header claiming more is rejected before any allocation)."""


class _Blocks:
    """Payload under construction: appends blocks and remembers where each one lies."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> list[int]:
        self.parts.append(data)
        self.size += len(data)
        return [self.size - len(data), len(data)]


def _stream(blocks: _Blocks, symbols: np.ndarray, width: int, huffman_coded: bool) -> tuple[list[int], list[int] | None]:
    """Write symbols below 2^width fixed-width or Huffman-coded; returns (data block, code-length block or None)."""
    if not huffman_coded:
        return blocks.add(pack_bits(symbols, width)), None
    counts = np.bincount(symbols, minlength=1 << width)
    counts[0] += not symbols.size  # an empty stream still needs a valid table
    lengths = huffman.code_lengths(counts)
    return blocks.add(huffman.encode(symbols, lengths)), blocks.add(lengths.tobytes())


def _sparse_entry(
    blocks: _Blocks, name: str, weights: np.ndarray, mask: np.ndarray, shared: SharedWeights | None, index_bits: int, huffman_coded: bool
) -> dict:
    positions = np.flatnonzero(mask.ravel())
    gaps, filler = relative_index(positions, index_bits)
    entry: dict = {"name": name, "shape": list(weights.shape), "entries": int(gaps.size), "index_bits": index_bits}
    entry["coding"] = "huffman" if huffman_coded else "fixed"
    entry["gaps"], gap_lengths = _stream(blocks, gaps - 1, index_bits, huffman_coded)
    if shared is None:
        values = np.zeros(gaps.size, dtype="<f4")
        values[~filler] = weights.ravel()[positions]
        entry["values"] = blocks.add(values.tobytes())
    else:
        codes = np.zeros(gaps.size, dtype=np.int64)
        codes[~filler] = shared.labels.ravel()[positions]
        entry["weight_bits"] = shared.bits
        entry["codebook"] = blocks.add(np.asarray(shared.codebook, dtype="<f4").tobytes())
        entry["codes"], code_lengths = _stream(blocks, codes, shared.bits, huffman_coded)
        if huffman_coded:
            entry["code_lengths"] = code_lengths
    if huffman_coded:
        entry["gap_lengths"] = gap_lengths
    return entry


def save_compressed(
    model: str,
    state_dict: Mapping[str, np.ndarray],
    masks: Mapping[str, np.ndarray] | None = None,
    shared: Mapping[str, SharedWeights] | None = None,
    index_bits: int | Mapping[str, int] = 5,
    huffman_coded: bool = True,
) -> bytes:
    """A .dc file of the model `model` (a name kept in the header) holding `state_dict` ({tensor name: array}).

    Tensors in `shared` ({name: SharedWeights}) are stored sparse with their codebook and codes; tensors in
    `masks` only ({name: bool array}) sparse with float32 values; the rest dense float32. index_bits: the
    relative index's width (one for all, or per tensor name), 1…16. huffman_coded: Huffman-code the gaps and
    codes, else pack them at fixed width. `load_compressed` gives back exactly the weights the file holds.
    """
    masks, shared = dict(masks or {}), dict(shared or {})
    for name in [*masks, *shared]:
        if name not in state_dict:
            raise ValueError(f"masks and shared must name tensors of state_dict; got {name!r}")
    blocks, tensors = _Blocks(), []
    for name, array in state_dict.items():
        weights = np.asarray(array, dtype=np.float32)
        if name in shared or name in masks:
            bits = index_bits[name] if isinstance(index_bits, Mapping) else index_bits
            if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= MAX_INDEX_BITS:
                raise ValueError(f"index_bits for {name} must be 1…{MAX_INDEX_BITS}; got {bits!r}")
            mask = shared[name].labels > 0 if name in shared else np.asarray(masks[name], dtype=bool)
            tensors.append(_sparse_entry(blocks, name, weights, mask, shared.get(name), int(bits), huffman_coded))
        else:
            tensors.append({"name": name, "shape": list(weights.shape), "dense": blocks.add(weights.astype("<f4").tobytes())})
    header = json.dumps({"model": model, "tensors": tensors}, separators=(",", ":")).encode()
    return _PREAMBLE.pack(MAGIC, VERSION, len(header)) + header + b"".join(blocks.parts)


# ---------------------------------------------------------------- reading


class _Reader:
    """The payload, handing out blocks only after checking their place and length."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.end = 0

    def block(self, entry: dict, key: str, length: int | None = None) -> bytes:
        where = entry.get(key)
        if not (isinstance(where, list) and len(where) == 2 and all(type(v) is int and v >= 0 for v in where)):
            raise ValueError(f"tensor {entry['name']}: block {key!r} must be [offset, length]; got {where!r}")
        offset, size = where
        if offset + size > len(self.payload):
            raise ValueError(f"tensor {entry['name']}: block {key!r} ends at byte {offset + size} of a {len(self.payload)}-byte payload (truncated file?)")
        if length is not None and size != length:
            raise ValueError(f"tensor {entry['name']}: block {key!r} must be {length} bytes; it is {size}")
        self.end = max(self.end, offset + size)
        return self.payload[offset : offset + size]


def _integer(entry: dict, key: str, low: int, high: int) -> int:
    value = entry.get(key)
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"tensor {entry.get('name')}: {key!r} must be an integer {low}…{high}; got {value!r}")
    return value


def _read_stream(reader: _Reader, entry: dict, key: str, lengths_key: str, width: int, count: int) -> np.ndarray:
    if entry["coding"] == "fixed":
        return unpack_bits(reader.block(entry, key, -(-count * width // 8)), width, count)
    lengths = np.frombuffer(reader.block(entry, lengths_key, 1 << width), dtype=np.uint8)
    try:
        return huffman.decode(reader.block(entry, key), lengths, count)
    except ValueError as error:
        raise ValueError(f"tensor {entry['name']}: {key!r} stream: {error}") from None


def _read_sparse(reader: _Reader, entry: dict, size: int) -> np.ndarray:
    count = _integer(entry, "entries", 0, 2 * MAX_VALUES)
    index_bits = _integer(entry, "index_bits", 1, MAX_INDEX_BITS)
    if entry.get("coding") not in ("fixed", "huffman"):
        raise ValueError(f"tensor {entry['name']}: coding must be fixed or huffman; got {entry.get('coding')!r}")
    positions = entry_positions(_read_stream(reader, entry, "gaps", "gap_lengths", index_bits, count) + 1)
    if count and positions[-1] >= size:
        raise ValueError(f"tensor {entry['name']}: its gaps reach position {positions[-1]} of a tensor of {size} values")
    dense = np.zeros(size, dtype=np.float32)
    if "values" in entry:
        dense[positions] = np.frombuffer(reader.block(entry, "values", 4 * count), dtype="<f4")
        return dense
    bits = _integer(entry, "weight_bits", 1, 8)
    codebook_bytes = reader.block(entry, "codebook")
    if len(codebook_bytes) % 4 or len(codebook_bytes) // 4 >= 1 << bits:
        raise ValueError(f"tensor {entry['name']}: codebook must hold at most {(1 << bits) - 1} float32 values; it has {len(codebook_bytes)} bytes")
    codebook = np.concatenate([np.zeros(1, dtype=np.float32), np.frombuffer(codebook_bytes, dtype="<f4")])
    codes = _read_stream(reader, entry, "codes", "code_lengths", bits, count)
    if count and codes.max() >= codebook.size:
        raise ValueError(f"tensor {entry['name']}: code {codes.max()} is beyond its codebook of {codebook.size - 1} values")
    dense[positions] = codebook[codes]
    return dense


def read_header(data: bytes) -> tuple[dict, bytes]:
    """The checked JSON header of a .dc file and its payload; ValueError naming what is wrong."""
    data = bytes(data)
    if len(data) < _PREAMBLE.size or data[:4] != MAGIC:
        raise ValueError(f"data is not a .dc file: it must start with {MAGIC!r} (got {data[:4]!r}, {len(data)} bytes)")
    _, version, header_length = _PREAMBLE.unpack_from(data)
    if version != VERSION:
        raise ValueError(f"this reader reads .dc version {VERSION}; the file says version {version}")
    if _PREAMBLE.size + header_length > len(data):
        raise ValueError(f"the header claims {header_length} bytes but only {len(data) - _PREAMBLE.size} follow (truncated file?)")
    try:
        header = json.loads(data[_PREAMBLE.size : _PREAMBLE.size + header_length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"the .dc header is not valid JSON ({error})") from None
    if not isinstance(header, dict) or not isinstance(header.get("model"), str) or not isinstance(header.get("tensors"), list):
        raise ValueError('the .dc header must be {"model": name, "tensors": [...]}')
    for entry in header["tensors"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ValueError(f"each tensor in the header must be an object with a name; got {entry!r:.80}")
        shape = entry.get("shape")
        if not (isinstance(shape, list) and all(type(d) is int and 0 < d <= MAX_VALUES for d in shape)) or np.prod(shape, dtype=float) > MAX_VALUES:
            raise ValueError(f"tensor {entry['name']}: shape must be a list of positive sizes, at most {MAX_VALUES} values; got {shape!r}")
    return header, data[_PREAMBLE.size + header_length :]


def load_compressed(data: bytes) -> dict[str, np.ndarray]:
    """The dense state dict {tensor name: float32 array} stored in a .dc file, exactly as written.
    Corrupt, truncated or foreign bytes raise ValueError saying what is wrong."""
    header, payload = read_header(data)
    reader = _Reader(payload)
    state: dict[str, np.ndarray] = {}
    for entry in header["tensors"]:
        shape = tuple(entry["shape"])
        size = int(np.prod(shape, dtype=np.int64))
        if "dense" in entry:
            values = np.frombuffer(reader.block(entry, "dense", 4 * size), dtype="<f4").astype(np.float32)
        else:
            values = _read_sparse(reader, entry, size)
        state[entry["name"]] = values.reshape(shape)
    if reader.end != len(payload):
        raise ValueError(f"the payload holds {len(payload) - reader.end} bytes after its last block (not a file this writer made)")
    return state
