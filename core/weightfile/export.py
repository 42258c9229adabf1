"""The quantized file (safetensors) and the report as JSON and CSV; each reads back.

Quantized safetensors layout, for a tensor `W` quantized at b bits (codes are packed: b bits each,
least significant bit first, in a little-endian bit stream, so the file takes the bytes the report
counts, up to rounding to whole bytes per array):
- k-means:  `W:indices` U8 (packed, ceil(log2 k) bits per weight), `W:codebook` F32 (k,)
- linear:   `W:codes` U8 (packed, b bits per weight), `W:scale` F32 with the block-grid shape of W
            seen as a matrix, `W:zero_point` U8 (packed, b bits per block)
- kept (integers, NaN/Inf, 0-d, empty): `W` itself, F32 for floats, its own dtype otherwise.
`__metadata__["quantization"]` is JSON: {"method": ..., "tensors": {W: {"bits", "shape", "dtype"}}}.
`load_quantized` reads it back (through read.open_weights, with every offset checked) and dequantizes.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Callable
from typing import BinaryIO

import numpy as np

from core.measure.sizes import index_bits
from core.quantize.linear import dequantize
from core.weightfile.budget import BitAllocation
from core.weightfile.read import DTYPES, WeightFile, open_weights
from core.weightfile.report import (
    KMEANS,
    TensorReport,
    TensorStatistics,
    WeightReport,
    as_matrix,
    block_size,
    kmeans_fit,
    linear_codes,
)

FORMAT = "quantization-explorer/1"
_PACK_VALUES = 1 << 20  # a multiple of 8: every packed chunk ends on a byte


def pack_codes(codes: np.ndarray, bits: int) -> np.ndarray:
    """uint8 codes (each < 2^bits) packed `bits` bits each, least significant first: ceil(n * bits / 8) bytes."""
    flat = np.asarray(codes, dtype=np.uint8).reshape(-1)
    chunks = []
    for start in range(0, flat.size, _PACK_VALUES):
        planes = np.unpackbits(flat[start : start + _PACK_VALUES, None], axis=1, bitorder="little")[:, :bits]
        chunks.append(np.packbits(planes.reshape(-1), bitorder="little"))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.uint8)


def unpack_codes(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """The `count` uint8 codes that pack_codes(codes, bits) packed."""
    codes = np.zeros(count, dtype=np.uint8)
    if bits == 0:  # a codebook of one value needs no index
        return codes
    step = _PACK_VALUES * bits // 8
    for index, start in enumerate(range(0, count, _PACK_VALUES)):
        values = min(_PACK_VALUES, count - start)
        planes = np.unpackbits(packed[index * step : index * step + math.ceil(values * bits / 8)], count=values * bits, bitorder="little")
        codes[start : start + values] = np.packbits(planes.reshape(values, bits), axis=1, bitorder="little").reshape(-1)
    return codes


def _quantized_arrays(values: np.ndarray, method: str, bits: int) -> dict[str, tuple[str, np.ndarray]]:
    """{suffix: (dtype name, array)} of one tensor quantized by method at bits."""
    if method == KMEANS:
        codebook, labels = kmeans_fit(values, bits)
        return {"indices": ("U8", pack_codes(labels, index_bits(codebook.size))), "codebook": ("F32", codebook)}
    matrix = as_matrix(values)
    codes = np.empty(matrix.shape, dtype=np.uint8)
    scales, zero_points = [], []
    for rows, chunk_codes, scale, zero_point, _ in linear_codes(matrix, method, bits):
        codes[rows] = chunk_codes
        scales.append(scale)
        zero_points.append(zero_point)
    if block_size(method, matrix.shape)[0] == matrix.shape[0]:  # per tensor: every chunk has the one scale
        scales, zero_points = scales[:1], zero_points[:1]
    return {
        "codes": ("U8", pack_codes(codes, bits)),
        "scale": ("F32", np.concatenate(scales).astype(np.float32)),
        "zero_point": ("U8", pack_codes(np.concatenate(zero_points), bits)),
    }


def write_quantized(weights: WeightFile, report: WeightReport, allocation: BitAllocation, out: BinaryIO, progress: Callable[[float, str], None] | None = None) -> int:
    """Write the weight file quantized as `allocation` says (layout above) to `out`; returns the bytes written.
    Reads one float tensor at a time and holds only the packed results (a fraction of the float file)."""
    arrays: dict[str, tuple[str, np.ndarray]] = {}
    layout = {}
    for index, (info, row) in enumerate(zip(weights.tensors, report.tensors)):
        if progress:
            progress(index / len(weights), f"quantizing {info.name[:60]}")
        values = weights.read(index)
        if row.name in allocation.bits:
            bits = allocation.bits[row.name]
            for suffix, array in _quantized_arrays(values, allocation.method, bits).items():
                arrays[f"{row.name}:{suffix}"] = array
            layout[row.name] = {"bits": bits, "shape": list(info.shape), "dtype": info.dtype}
        else:
            arrays[row.name] = ("F32" if info.is_float else info.dtype, values)
    metadata = {"format": FORMAT, "quantization": json.dumps({"method": allocation.method, "tensors": layout})}
    return write_safetensors(arrays, metadata, out)


def quantized_file(source: str | bytes, name: str | None, report: WeightReport, allocation: BitAllocation, progress: Callable[[float, str], None] | None = None) -> bytes:
    """The quantized safetensors file (layout above) of a weight file given by path or bytes, as bytes."""
    out = io.BytesIO()
    write_quantized(open_weights(source, name), report, allocation, out, progress)
    return out.getvalue()


def write_safetensors(arrays: dict[str, tuple[str, np.ndarray]], metadata: dict[str, str], out: BinaryIO) -> int:
    """Write {name: (safetensors dtype, array)} and metadata as a safetensors file; returns the bytes written."""
    header: dict[str, object] = {"__metadata__": metadata}
    offset = 0
    for name, (dtype, array) in arrays.items():
        nbytes = array.size * np.dtype(DTYPES[dtype].storage).itemsize
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned, as safetensors' own writer does
    out.write(len(encoded).to_bytes(8, "little") + encoded)
    for dtype, array in arrays.values():
        out.write(np.ascontiguousarray(array, dtype=np.dtype(DTYPES[dtype].storage)).tobytes())
    return 8 + len(encoded) + offset


def load_quantized(source: str | bytes) -> dict[str, np.ndarray]:
    """{tensor name: float32 values (kept tensors: as stored)} of a file written by write_quantized."""
    weights = open_weights(source)
    if weights.metadata.get("format") != FORMAT:
        raise ValueError(f"not a quantized file of this tool: __metadata__ format is {weights.metadata.get('format')!r}, expected {FORMAT!r}")
    layout = json.loads(weights.metadata["quantization"])
    method = layout["method"]
    arrays = {info.name: index for index, info in enumerate(weights.tensors)}
    read = lambda name: weights.read(arrays[name])
    loaded = {}
    for name, info in zip(arrays, weights.tensors):
        base = name.rsplit(":", 1)[0]
        if base in layout["tensors"] and base not in loaded:
            spec = layout["tensors"][base]
            shape, bits = tuple(spec["shape"]), spec["bits"]
            count = math.prod(shape)
            if method == KMEANS:
                codebook = read(f"{base}:codebook")
                loaded[base] = codebook[unpack_codes(read(f"{base}:indices"), index_bits(codebook.size), count)].reshape(shape)
            else:
                scale = read(f"{base}:scale")
                matrix_shape = as_matrix(np.empty(shape, dtype=np.uint8)).shape
                codes = unpack_codes(read(f"{base}:codes"), bits, count).reshape(matrix_shape)
                zero_point = unpack_codes(read(f"{base}:zero_point"), bits, scale.size).reshape(scale.shape)
                loaded[base] = dequantize(codes, scale, zero_point, block_size(method, matrix_shape)).reshape(shape)
        elif base not in layout["tensors"]:
            loaded[name] = read(name)
    return loaded


# ---------------------------------------------------------------- the report as JSON and CSV


def _plain(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def report_to_json(report: WeightReport) -> str:
    """The whole report as JSON (NaN and infinities as null)."""
    tensors = []
    for tensor in report.tensors:
        row = dataclasses.asdict(tensor)
        if tensor.statistics is not None:
            row["statistics"] = {key: _plain(value) for key, value in row["statistics"].items()}
        row["relative_errors"] = {method: [_plain(e) for e in errors] for method, errors in tensor.relative_errors.items()}
        row["format_errors"] = {fmt: _plain(error) for fmt, error in tensor.format_errors.items()}
        tensors.append(row)
    whole = {"source": report.source, "bit_widths": report.bit_widths, "methods": report.methods, "formats": report.formats, "tensors": tensors}
    return json.dumps(whole, indent=1)


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def report_from_json(text: str) -> WeightReport:
    """The WeightReport that report_to_json wrote."""
    data = json.loads(text)
    tensors = []
    for row in data["tensors"]:
        statistics = row["statistics"] and TensorStatistics(**{key: _number(value) for key, value in row["statistics"].items()})
        tensors.append(
            TensorReport(
                row["name"], row["dtype"], tuple(row["shape"]), row["parameters"], row["stored_bytes"], row["status"], statistics,
                {method: tuple(map(_number, errors)) for method, errors in row["relative_errors"].items()},
                {method: tuple(sizes) for method, sizes in row["quantized_bytes"].items()},
                {fmt: _number(error) for fmt, error in row["format_errors"].items()},
                row["format_bytes"],
            )
        )
    return WeightReport(data["source"], tuple(data["bit_widths"]), tuple(data["methods"]), tuple(tensors), tuple(data["formats"]))


_STATISTICS = [field.name for field in dataclasses.fields(TensorStatistics)]
_FORMAT_ERROR, _FORMAT_BYTES = " relative error", " bytes"


def _error_column(method: str, bits: int) -> str:
    return f"{method} {bits}-bit relative error"


def _bytes_column(method: str, bits: int) -> str:
    return f"{method} {bits}-bit bytes"


def report_to_csv(report: WeightReport) -> str:
    """One row per tensor: name, dtype, shape (JSON), parameters, stored bytes, status, statistics,
    then the relative error and bytes of every method at every bit width (empty when not quantized)."""
    columns = ["name", "dtype", "shape", "parameters", "stored_bytes", "status", *_STATISTICS]
    for method in report.methods:
        columns += [column(method, bits) for bits in report.bit_widths for column in (_error_column, _bytes_column)]
    columns += [column for fmt in report.formats for column in (f"{fmt}{_FORMAT_ERROR}", f"{fmt}{_FORMAT_BYTES}")]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    for tensor in report.tensors:
        row = {"name": tensor.name, "dtype": tensor.dtype, "shape": json.dumps(list(tensor.shape)), "parameters": tensor.parameters}
        row |= {"stored_bytes": tensor.stored_bytes, "status": tensor.status}
        if tensor.statistics is not None:
            row |= {key: repr(value) for key, value in dataclasses.asdict(tensor.statistics).items()}
        for method, errors in tensor.relative_errors.items():
            for bits, error, size in zip(report.bit_widths, errors, tensor.quantized_bytes[method]):
                row |= {_error_column(method, bits): repr(error), _bytes_column(method, bits): size}
        for fmt, error in tensor.format_errors.items():
            row |= {f"{fmt}{_FORMAT_ERROR}": repr(error), f"{fmt}{_FORMAT_BYTES}": tensor.format_bytes[fmt]}
        writer.writerow(row)
    return buffer.getvalue()


def report_from_csv(text: str, source: str) -> WeightReport:
    """The WeightReport that report_to_csv wrote (the CSV does not hold the source's name: give it)."""
    reader = csv.DictReader(io.StringIO(text))
    suffix = "-bit relative error"
    measured = [column[: -len(suffix)].rsplit(" ", 1) for column in reader.fieldnames or [] if column.endswith(suffix)]
    methods = tuple(dict.fromkeys(method for method, _ in measured))
    bit_widths = tuple(dict.fromkeys(int(bits) for _, bits in measured))
    formats = tuple(column[: -len(_FORMAT_ERROR)] for column in reader.fieldnames or [] if column.endswith(_FORMAT_ERROR) and not column.endswith(suffix))
    tensors = []
    for row in reader:
        statistics = TensorStatistics(*(float(row[key]) for key in _STATISTICS)) if row["std"] else None
        quantized = bool(row[_error_column(methods[0], bit_widths[0])]) if methods else False
        errors = {m: tuple(float(row[_error_column(m, b)]) for b in bit_widths) for m in methods} if quantized else {}
        sizes = {m: tuple(int(row[_bytes_column(m, b)]) for b in bit_widths) for m in methods} if quantized else {}
        shape = tuple(json.loads(row["shape"]))
        format_errors = {fmt: float(row[f"{fmt}{_FORMAT_ERROR}"]) for fmt in formats} if quantized else {}
        format_bytes = {fmt: int(row[f"{fmt}{_FORMAT_BYTES}"]) for fmt in formats} if quantized else {}
        listed = (row["name"], row["dtype"], shape, int(row["parameters"]), int(row["stored_bytes"]), row["status"])
        tensors.append(TensorReport(*listed, statistics, errors, sizes, format_errors, format_bytes))
    return WeightReport(source, bit_widths, methods, tuple(tensors), formats)
