"""Weight files built byte by byte for the tests, good and bad."""

from __future__ import annotations

import io
import json

import numpy as np


def safetensors_bytes(header: dict, data: bytes) -> bytes:
    """A safetensors file from a header dict and raw data, nothing checked."""
    encoded = json.dumps(header).encode()
    return len(encoded).to_bytes(8, "little") + encoded + data


def one_tensor(dtype: str = "F32", shape: list[int] = (2, 2), offsets: list[int] | None = None, data: bytes | None = None, name: str = "w") -> bytes:
    """A file of one tensor whose header entries can be made to lie."""
    data = np.arange(4, dtype="<f4").tobytes() if data is None else data
    header = {name: {"dtype": dtype, "shape": list(shape), "data_offsets": offsets or [0, len(data)]}}
    return safetensors_bytes(header, data)


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
