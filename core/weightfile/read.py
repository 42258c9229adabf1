"""Weight files read safely, one tensor at a time: safetensors (single, or sharded: a folder or a
`*.index.json`), `.npz` and `.npy` (never unpickled).

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON
`{"name": {"dtype": "F16", "shape": [768, 3072], "data_offsets": [begin, end]}, "__metadata__": {...}}`
and then the raw little-endian data, offsets counted from the end of the header. Every length and
offset is checked before it is trusted, and an error names the one that lies. Tensors are read
memory-mapped one at a time, so memory is bounded by the largest tensor, not the file. Floats are
widened to float32 (BF16 by shifting its bits, F8_E4M3 / F8_E5M2 through a 256-entry table);
integer and bool tensors keep their own dtype.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import mmap
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit
HEADER_LENGTH_BYTES = 8


def _float8_table(exponent_bits: int, mantissa_bits: int, finite_only: bool) -> np.ndarray:
    """float32 value of each of the 256 codes of a sign/exponent/mantissa 8-bit float.
    finite_only (E4M3 "fn"): no infinities, NaN only at all ones; else IEEE-like (E5M2): top exponent is inf/NaN."""
    codes = np.arange(256)
    bias = 2 ** (exponent_bits - 1) - 1
    sign = np.where(codes >> 7, -1.0, 1.0)
    exponent = (codes >> mantissa_bits) & (2**exponent_bits - 1)
    mantissa = codes & (2**mantissa_bits - 1)
    fraction = mantissa / 2**mantissa_bits
    values = np.where(exponent == 0, fraction * 2.0 ** (1 - bias), (1 + fraction) * 2.0 ** (exponent - bias))
    top = exponent == 2**exponent_bits - 1
    if finite_only:
        values = np.where(top & (mantissa == 2**mantissa_bits - 1), np.nan, values)
    else:
        values = np.where(top, np.where(mantissa == 0, np.inf, np.nan), values)
    return (sign * values).astype(np.float32)


@dataclass(frozen=True)
class _Dtype:
    storage: str
    """numpy dtype of the stored bytes (little-endian)."""
    widen: Callable[[np.ndarray], np.ndarray] | None = None
    """Turns the stored values into float32 (None: integers and bools, kept as they are)."""


def _to_float32(stored: np.ndarray) -> np.ndarray:
    return stored.astype(np.float32)


def _bfloat16(stored: np.ndarray) -> np.ndarray:
    return (stored.astype(np.uint32) << 16).view(np.float32)


_E4M3, _E5M2 = _float8_table(4, 3, finite_only=True), _float8_table(5, 2, finite_only=False)

DTYPES = {
    "F64": _Dtype("<f8", _to_float32),
    "F32": _Dtype("<f4", _to_float32),
    "F16": _Dtype("<f2", _to_float32),
    "BF16": _Dtype("<u2", _bfloat16),
    "F8_E4M3": _Dtype("u1", _E4M3.__getitem__),
    "F8_E5M2": _Dtype("u1", _E5M2.__getitem__),
    "I64": _Dtype("<i8"),
    "I32": _Dtype("<i4"),
    "I16": _Dtype("<i2"),
    "I8": _Dtype("i1"),
    "U64": _Dtype("<u8"),
    "U32": _Dtype("<u4"),
    "U16": _Dtype("<u2"),
    "U8": _Dtype("u1"),
    "BOOL": _Dtype("?"),
}
"""The safetensors dtypes read, by their header name."""
FLOAT_DTYPES = frozenset(name for name, dtype in DTYPES.items() if dtype.widen is not None)
_NUMPY_NAMES = {np.dtype(dtype.storage).newbyteorder("="): name for name, dtype in DTYPES.items() if name not in ("BF16", "F8_E4M3", "F8_E5M2")}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as its file describes it."""

    name: str
    dtype: str
    """Its safetensors dtype name ("F16", "BF16", "I64", …), also for .npz/.npy arrays."""
    shape: tuple[int, ...]
    nbytes: int
    """Bytes it takes in the file."""

    @property
    def parameters(self) -> int:
        return math.prod(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES


class WeightFile:
    """The tensors of a weight file (or a folder of shards), listed from the headers; `read(i)` loads one."""

    def __init__(self, name: str, tensors: list[TensorInfo], readers: list[Callable[[], np.ndarray]], metadata: dict | None = None) -> None:
        self.name = name
        self.tensors = tensors
        self.metadata = metadata or {}
        """A single safetensors file's __metadata__ (strings by the format's rule; {} for others)."""
        self._readers = readers

    def __len__(self) -> int:
        return len(self.tensors)

    def read(self, index: int) -> np.ndarray:
        """Tensor `index` with its shape: float32 for float dtypes (widened), its own dtype otherwise."""
        return self._readers[index]()


class _Blob:
    """Bytes of one file: an upload held in memory, or a path memory-mapped for one read at a time."""

    def __init__(self, data: bytes | Path) -> None:
        self.data = data
        self.size = len(data) if isinstance(data, bytes) else os.path.getsize(data)

    def head(self, stop: int) -> bytes:
        if isinstance(self.data, bytes):
            return self.data[:stop]
        with open(self.data, "rb") as file:
            return file.read(stop)

    def array(self, dtype: _Dtype, shape: tuple[int, ...], start: int) -> np.ndarray:
        """The tensor stored at `start`, copied out (widened to float32 for floats)."""
        count = math.prod(shape)
        convert = dtype.widen or (lambda stored: stored.astype(stored.dtype.newbyteorder("=")))
        if count == 0 or isinstance(self.data, bytes):
            buffer = self.data if isinstance(self.data, bytes) else b""
            return convert(np.frombuffer(buffer, dtype.storage, count, start)).reshape(shape)
        with open(self.data, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            stored = np.frombuffer(mapped, dtype.storage, count, start)
            values = convert(stored)
            del stored  # the map can close only once no array looks into it
        return values.reshape(shape)


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = next(key for key in keys if keys.count(key) > 1)
        raise ValueError(f"the name {twice!r} appears twice in the header")
    return dict(pairs)


def _natural(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _safetensors(blob: _Blob, file_name: str) -> tuple[list[TensorInfo], list[Callable[[], np.ndarray]], dict]:
    """Parse and check a safetensors header; each reader loads one tensor."""
    if blob.size < HEADER_LENGTH_BYTES:
        raise ValueError(
            f"{file_name} is not a safetensors file: it has {blob.size} bytes, fewer than the 8-byte header length it must start with"
        )
    head = blob.head(HEADER_LENGTH_BYTES)
    header_length = int.from_bytes(head, "little")
    if header_length > blob.size - HEADER_LENGTH_BYTES:
        raise ValueError(
            f"{file_name} is not a readable safetensors file: its first 8 bytes give a header length of "
            f"{header_length:,} bytes, beyond the end of the file ({blob.size:,} bytes)"
        )
    if header_length > MAX_HEADER_BYTES:
        raise ValueError(f"{file_name}: header length {header_length:,} bytes is over the {MAX_HEADER_BYTES:,} accepted")
    try:
        header = json.loads(blob.head(HEADER_LENGTH_BYTES + header_length)[HEADER_LENGTH_BYTES:], object_pairs_hook=_reject_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{file_name} is not a readable safetensors file: its header is not JSON ({error})") from None
    except ValueError as error:
        raise ValueError(f"{file_name}: {error}") from None
    if not isinstance(header, dict):
        raise ValueError(f"{file_name}: the header must be a JSON object of tensors; got a JSON {type(header).__name__}")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(value, str) for value in metadata.values()):
        raise ValueError(f"{file_name}: __metadata__ must map names to strings")
    data_start = HEADER_LENGTH_BYTES + header_length
    data_size = blob.size - data_start
    tensors, spans = [], []
    for name, entry in header.items():
        where = f"{file_name}, tensor {name!r}"
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
            raise ValueError(f"{where}: an entry must hold dtype, shape and data_offsets; got {str(entry)[:80]}")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            raise ValueError(f"{where}: unknown dtype {str(dtype)[:20]!r}; accepted: {', '.join(DTYPES)}")
        if not isinstance(shape, list) or not all(_natural(n) for n in shape):
            raise ValueError(f"{where}: shape must be a list of non-negative integers; got {str(shape)[:80]}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_natural(n) for n in offsets) and offsets[0] <= offsets[1]):
            raise ValueError(f"{where}: data_offsets must be [begin, end] with 0 <= begin <= end; got {str(offsets)[:80]}")
        begin, end = offsets
        if end > data_size:
            raise ValueError(f"{where}: data_offsets [{begin:,}, {end:,}] run past the end of the data ({data_size:,} bytes)")
        needed = math.prod(shape) * np.dtype(DTYPES[dtype].storage).itemsize
        if end - begin != needed:
            raise ValueError(
                f"{where}: data_offsets [{begin:,}, {end:,}] hold {end - begin:,} bytes, but shape {tuple(shape)} of {dtype} needs {needed:,}"
            )
        tensors.append(TensorInfo(name, dtype, tuple(shape), needed))
        spans.append((begin, end, name))
    ordered = sorted(spans)
    for (_, first_end, first), (second_begin, _, second) in itertools.pairwise(ordered):
        if second_begin < first_end:
            raise ValueError(f"{file_name}: tensors {first!r} and {second!r} overlap (bytes {second_begin:,} to {first_end:,} of the data)")

    def reader(info: TensorInfo, begin: int) -> Callable[[], np.ndarray]:
        return lambda: blob.array(DTYPES[info.dtype], info.shape, data_start + begin)

    return tensors, [reader(info, begin) for info, (begin, _, _) in zip(tensors, spans)], metadata


def _numpy_dtype_name(dtype: np.dtype, where: str) -> str:
    if dtype.hasobject:
        raise ValueError(f"{where} holds Python objects (dtype {dtype}); only numeric arrays are read, never unpickled")
    name = _NUMPY_NAMES.get(dtype.newbyteorder("="))
    if name is None:
        raise ValueError(f"{where} has dtype {dtype}; accepted: float16/32/64, integers and bool")
    return name


def _npy_header(file: io.BufferedIOBase, where: str) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(file)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(file)
    except ValueError as error:
        raise ValueError(f"{where} is not a readable .npy array ({error})") from None
    _numpy_dtype_name(dtype, where)
    return tuple(shape), dtype


def _loaded_npy(open_file: Callable[[], io.BufferedIOBase], where: str) -> np.ndarray:
    with open_file() as file:
        try:
            array = np.lib.format.read_array(file, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise ValueError(f"{where} cannot be read: {error}") from None
    info_dtype = DTYPES[_numpy_dtype_name(array.dtype, where)]
    return info_dtype.widen(array) if info_dtype.widen else array.astype(array.dtype.newbyteorder("="))


def _npy(blob: _Blob, file_name: str) -> tuple[list[TensorInfo], list[Callable[[], np.ndarray]], dict]:
    def open_file() -> io.BufferedIOBase:
        return io.BytesIO(blob.data) if isinstance(blob.data, bytes) else open(blob.data, "rb")

    with open_file() as file:
        shape, dtype = _npy_header(file, file_name)
    info = TensorInfo(Path(file_name).stem, _numpy_dtype_name(dtype, file_name), shape, math.prod(shape) * dtype.itemsize)
    return [info], [lambda: _loaded_npy(open_file, file_name)], {}


def _npz(blob: _Blob, file_name: str) -> tuple[list[TensorInfo], list[Callable[[], np.ndarray]], dict]:
    source = io.BytesIO(blob.data) if isinstance(blob.data, bytes) else blob.data
    try:
        archive = zipfile.ZipFile(source)
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"{file_name} is not a readable .npz archive ({error})") from None
    tensors, readers = [], []
    for member in members:
        where = f"{file_name}, array {member.filename!r}"
        if not member.filename.endswith(".npy"):
            raise ValueError(f"{where}: an .npz holds only .npy arrays")
        with archive.open(member) as file:
            shape, dtype = _npy_header(file, where)
        tensors.append(TensorInfo(member.filename[: -len(".npy")], _numpy_dtype_name(dtype, where), shape, math.prod(shape) * dtype.itemsize))
        readers.append(lambda member=member, where=where: _loaded_npy(lambda: archive.open(member), where))
    return tensors, readers, {}


def _one_file(data: bytes | Path, file_name: str) -> tuple[list[TensorInfo], list[Callable[[], np.ndarray]], dict]:
    blob = _Blob(data)
    magic = blob.head(6)
    if magic == b"\x93NUMPY":
        return _npy(blob, file_name)
    if magic[:4] == b"PK\x03\x04":
        return _npz(blob, file_name)
    if blob.size > HEADER_LENGTH_BYTES and blob.head(9)[8:9] != b"{":
        raise ValueError(
            f"{file_name} is not a safetensors, .npz or .npy file: a safetensors header starts with '{{' after its "
            f"8-byte length; this file starts with {blob.head(12)!r}"
        )
    return _safetensors(blob, file_name)


def _shards(folder: Path, index: Path | None) -> list[Path]:
    if index is None:
        shards = sorted(folder.glob("*.safetensors"))
        if not shards:
            raise ValueError(f"{folder} holds no .safetensors files and no *.index.json")
        return shards
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{index.name} is not a safetensors index (a JSON object with a weight_map): {error}") from None
    if not isinstance(weight_map, dict) or not all(isinstance(shard, str) for shard in weight_map.values()):
        raise ValueError(f"{index.name}: weight_map must map tensor names to shard file names")
    shards = sorted(set(weight_map.values()))
    for shard in shards:
        if Path(shard).name != shard or shard in ("", ".", ".."):
            raise ValueError(f"{index.name}: shard {shard!r} must be a file name in the index's own folder")
        if not (folder / shard).is_file():
            raise ValueError(f"{index.name}: shard {shard!r} is not in {folder}")
    return [folder / shard for shard in shards]


def open_weights(source: str | os.PathLike | bytes, name: str | None = None) -> WeightFile:
    """The tensors of a safetensors / .npz / .npy file (a path or its bytes), of a folder of safetensors
    shards, or of a `*.index.json`; raises ValueError naming what is wrong. `name` labels bytes in messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return WeightFile(name or "the file", *_one_file(bytes(source), name or "the file"))
    path = Path(source)
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    if path.is_file() and not path.name.endswith(".index.json"):
        return WeightFile(name or path.name, *_one_file(path, name or path.name))
    folder, index = (path, next(iter(sorted(path.glob("*.index.json"))), None)) if path.is_dir() else (path.parent, path)
    tensors, readers, owner = [], [], {}
    for shard in _shards(folder, index):
        shard_tensors, shard_readers, _ = _one_file(shard, shard.name)
        for info in shard_tensors:
            if info.name in owner:
                raise ValueError(f"tensor {info.name!r} is in both {owner[info.name]} and {shard.name}")
            owner[info.name] = shard.name
        tensors += shard_tensors
        readers += shard_readers
    if index is not None:
        for tensor, shard in json.loads(index.read_text())["weight_map"].items():
            if owner.get(tensor) != shard:
                raise ValueError(f"{index.name} lists {tensor!r} in {shard}, which does not hold it")
    return WeightFile(name or path.name, tensors, readers)
