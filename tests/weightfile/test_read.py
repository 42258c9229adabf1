"""core/weightfile/read.py: files written by the safetensors package and numpy read back exactly;
BF16 and F8 widened as torch widens them; every lying header refused with the lie named."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from files import npy_bytes, npz_bytes, one_tensor, safetensors_bytes
from safetensors.numpy import save as save_numpy
from safetensors.numpy import save_file
from safetensors.torch import save as save_torch

from core.weightfile.read import open_weights


def read_all(source, name=None) -> dict[str, np.ndarray]:
    weights = open_weights(source, name)
    return {info.name: weights.read(index) for index, info in enumerate(weights.tensors)}


def test_what_the_safetensors_package_writes_reads_back_exactly() -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "f32": rng.standard_normal((3, 5)).astype(np.float32),
        "f16": rng.standard_normal((4, 2, 3)).astype(np.float16),
        "f64": rng.standard_normal(7),
        "i64": np.arange(6, dtype=np.int64).reshape(2, 3),
        "u8": np.arange(5, dtype=np.uint8),
        "mask": np.array([True, False, True]),
    }
    weights = open_weights(save_numpy(arrays, metadata={"note": "hello"}), "model.safetensors")
    assert weights.metadata == {"note": "hello"}
    infos = {info.name: info for info in weights.tensors}
    assert {name: info.dtype for name, info in infos.items()} == {"f32": "F32", "f16": "F16", "f64": "F64", "i64": "I64", "u8": "U8", "mask": "BOOL"}
    read = read_all(save_numpy(arrays))
    for name, array in arrays.items():
        assert infos[name].shape == array.shape and infos[name].nbytes == array.nbytes
        expected = array.astype(np.float32) if array.dtype.kind == "f" else array
        assert read[name].dtype == expected.dtype and np.array_equal(read[name], expected), name


def test_bf16_and_float8_widen_as_torch_widens_them() -> None:
    values = torch.tensor([0.0, -1.5, 3.14159, 1e-3, -448.0, 2.0**-9, 57344.0])
    tensors = {"bf16": values.to(torch.bfloat16), "e4m3": values[:6].to(torch.float8_e4m3fn), "e5m2": values.to(torch.float8_e5m2)}
    weights = open_weights(save_torch(tensors))
    assert [info.dtype for info in weights.tensors] == ["BF16", "F8_E4M3", "F8_E5M2"]
    read = read_all(save_torch(tensors))
    for name, tensor in tensors.items():
        assert read[name].dtype == np.float32 and np.array_equal(read[name], tensor.float().numpy()), name


def test_a_path_is_read_memory_mapped_the_same_as_its_bytes(tmp_path) -> None:
    arrays = {"a": np.arange(12, dtype=np.float16).reshape(3, 4), "b": np.ones(3, dtype=np.int32)}
    save_file(arrays, tmp_path / "m.safetensors")
    from_path, from_bytes = read_all(tmp_path / "m.safetensors"), read_all((tmp_path / "m.safetensors").read_bytes())
    assert all(np.array_equal(from_path[name], from_bytes[name]) for name in arrays)
    assert read_all(tmp_path / "m.safetensors")["a"].flags.writeable  # a copy: the map is closed


def test_sharded_folder_and_index(tmp_path) -> None:
    save_file({"a": np.ones((2, 2), np.float32)}, tmp_path / "model-00001-of-00002.safetensors")
    save_file({"b": np.zeros(3, np.float32)}, tmp_path / "model-00002-of-00002.safetensors")
    assert sorted(read_all(tmp_path)) == ["a", "b"]
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
    assert sorted(read_all(index)) == ["a", "b"] == sorted(read_all(tmp_path))
    index.write_text(json.dumps({"weight_map": {"a": "model-00002-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
    with pytest.raises(ValueError, match="lists 'a' in model-00002-of-00002.safetensors, which does not hold it"):
        open_weights(index)
    index.write_text(json.dumps({"weight_map": {"a": "../elsewhere.safetensors"}}))
    with pytest.raises(ValueError, match="must be a file name in the index's own folder"):
        open_weights(index)


def test_npz_and_npy_are_read_without_pickle() -> None:
    w = np.arange(6, dtype=np.float64).reshape(2, 3)
    assert np.array_equal(read_all(npy_bytes(w), "w.npy")["w"], w.astype(np.float32))
    read = read_all(npz_bytes(w=w, steps=np.arange(3)), "m.npz")
    assert np.array_equal(read["w"], w.astype(np.float32)) and read["steps"].dtype == np.int64
    big_endian = w.astype(">f4")
    assert np.array_equal(read_all(npy_bytes(big_endian), "b.npy")["b"], w.astype(np.float32))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"These are my notes, not weights.\n" * 5, "is not a safetensors, .npz or .npy file"),
        (b"\x01\x02", "fewer than the 8-byte header length"),
        ((10**9).to_bytes(8, "little") + b'{"w": {}}', "header length of 1,000,000,000 bytes, beyond the end of the file (17 bytes)"),
        ((9).to_bytes(8, "little") + b"{not json", "its header is not JSON"),
        (safetensors_bytes([1, 2], b""), "is not a safetensors, .npz or .npy file"),
        (safetensors_bytes({"w": {"dtype": "F32", "shape": [2]}}, b""), "an entry must hold dtype, shape and data_offsets"),
        (one_tensor(dtype="F4"), "unknown dtype 'F4'; accepted: F64, F32"),
        (one_tensor(shape=[2, -2]), "shape must be a list of non-negative integers"),
        (one_tensor(offsets=[8, 4]), "data_offsets must be [begin, end] with 0 <= begin <= end"),
        (one_tensor(offsets=[0, 32]), "data_offsets [0, 32] run past the end of the data (16 bytes)"),
        (one_tensor(shape=[3, 2]), "hold 16 bytes, but shape (3, 2) of F32 needs 24"),
        (one_tensor(dtype="F16"), "hold 16 bytes, but shape (2, 2) of F16 needs 8"),
        (
            safetensors_bytes(
                {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}},
                bytes(16),
            ),
            "tensors 'a' and 'b' overlap (bytes 4 to 8 of the data)",
        ),
        (b'\x1d\x00\x00\x00\x00\x00\x00\x00{"a": 1, "a": 2, "__x": 3}   ', "the name 'a' appears twice in the header"),
        (npy_bytes(np.array([{"code": "evil"}], dtype=object), allow_pickle=True), "holds Python objects (dtype object)"),
        (npz_bytes(w=np.zeros(2), names=np.array(["a", object()], dtype=object)), "holds Python objects"),
        (npy_bytes(np.array(["text"])), "has dtype <U4; accepted: float16/32/64"),
        (b"PK\x03\x04 broken zip", "is not a readable .npz archive"),
    ],
    ids=lambda value: value[:30] if isinstance(value, str) else None,
)
def test_a_bad_file_is_refused_with_the_problem_named(data: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=None) as refused:
        open_weights(data, "upload.bin")
    assert problem in str(refused.value)


def test_a_truncated_npy_is_refused_when_read() -> None:
    data = npy_bytes(np.arange(100, dtype=np.float32))[:-40]
    weights = open_weights(data, "short.npy")
    with pytest.raises(ValueError, match="short.npy cannot be read"):
        weights.read(0)
