"""Hand-built image files for the tests: exact headers and scanlines, no encoder in between."""

import struct
import zlib


def png_file(width: int, height: int, bit_depth: int, rows: bytes) -> bytes:
    """A hand-built RGB PNG: its header says width x height at bit_depth; rows are the raw scanlines."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but carries almost no data: a bomb's shape."""
    return png_file(width, height, 8, b"\0" * 64)
