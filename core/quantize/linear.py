"""Uniform (linear) quantization, torchao style: choose_qparams -> quantize -> dequantize.

Granularity is data, not code: one `block_size` tuple (same length as x.shape) says which
elements share a scale and zero point. For a (m, n) matrix:

    per tensor (m, n)   per row (1, n)   per column (m, 1)   per group of g (1, g)   per element (1, 1)

Blocks tile the array from index 0; when a block size does not divide the axis, the last block
along it is shorter (so groups of 32 work on a 784-wide layer). Scales and zero points have the
block-grid shape ceil(x.shape / block_size).

Mappings (b bits):
- asymmetric (affine): integers [0, 2^b - 1]; the range [min, max] is widened to include 0,
  scale = (max - min) / (2^b - 1), zero_point = round(-min / scale) clamped, so 0.0 is exact.
  Example, b = 8, x in [-1, 3]: scale = 4/255, zero_point = 64, 3.0 -> 255, -1.0 -> 0.
- symmetric (scale only): integers [-(2^(b-1) - 1), 2^(b-1) - 1], scale = max|x| / (2^(b-1) - 1),
  zero_point = 0. Example, b = 8, max|x| = 4: 1.5 -> round(47.625) = 48.
  At b = 1 it is sign quantization: q = -1 or +1 (x >= 0 -> +1), scale = mean|x| (the
  least-squares scale for signs).

Arithmetic is float32 as in torch: q = round_half_even(x * (1 / scale)) + zero_point, clamped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.checks import bits as check_bits
from core.checks import finite_array
from core.checks import limit_and_value
from core.measure.norms import relative_error
from core.measure.sizes import linear_bits

_SMALLEST_SCALE = np.finfo(np.float32).tiny
SCALE_BITS = 32


def quant_range(bits: int, symmetric: bool) -> tuple[int, int]:
    """Integer range (qmin, qmax) of b-bit codes: symmetric [-(2^(b-1)-1), 2^(b-1)-1] ((-1, 1) at 1 bit), else [0, 2^b-1]."""
    bits = check_bits(bits)
    if symmetric:
        qmax = max(2 ** (bits - 1) - 1, 1)
        return -qmax, qmax
    return 0, 2**bits - 1


def choose_qparams(
    x: np.ndarray, bits: int, symmetric: bool, block_size: Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(scale float32, zero_point int32), each of block-grid shape, for quantizing x at `bits` bits (1-8).

    >>> choose_qparams([-1.0, 3.0], 8, symmetric=False)
    (array([0.01568628], dtype=float32), array([64], dtype=int32))
    """
    x = _float32_array(x, "x")
    return _choose_qparams(x, check_bits(bits), symmetric, _block_size(block_size, x.shape))


def quantize(
    x: np.ndarray,
    scale: np.ndarray,
    zero_point: np.ndarray,
    bits: int,
    block_size: Sequence[int] | None = None,
    symmetric: bool = False,
) -> np.ndarray:
    """int32 codes with the shape of x: clamp(round(x / scale) + zero_point) into quant_range(bits, symmetric)."""
    x = _float32_array(x, "x")
    bits = check_bits(bits)
    block_size = _block_size(block_size, x.shape)
    scale, zero_point = _qparams(scale, zero_point, x.shape, block_size, *quant_range(bits, symmetric))
    return _quantize(x, _expand_blocks(scale, x.shape, block_size), _expand_blocks(zero_point, x.shape, block_size), bits, symmetric)


def dequantize(
    q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, block_size: Sequence[int] | None = None
) -> np.ndarray:
    """float32 values (q - zero_point) * scale with the shape of the integer codes q."""
    q = finite_array(q, "q")
    if q.dtype.kind not in "iub":
        raise ValueError(f"q must hold integer codes; got dtype {q.dtype}")
    block_size = _block_size(block_size, q.shape)
    scale, zero_point = _qparams(scale, zero_point, q.shape, block_size, -(2**31), 2**31 - 1)
    return _dequantize(q, _expand_blocks(scale, q.shape, block_size), _expand_blocks(zero_point, q.shape, block_size))


def fake_quantize(
    x: np.ndarray, bits: int, symmetric: bool = False, block_size: Sequence[int] | None = None
) -> np.ndarray:
    """x quantized to `bits` bits and back (float32, shape of x); block_size None means one scale per tensor."""
    x = _float32_array(x, "x")
    bits = check_bits(bits)
    block_size = _block_size(block_size, x.shape)
    scale, zero_point = _choose_qparams(x, bits, symmetric, block_size)
    scale = _expand_blocks(scale, x.shape, block_size)
    zero_point = _expand_blocks(zero_point, x.shape, block_size)
    return _dequantize(_quantize(x, scale, zero_point, bits, symmetric), scale, zero_point)


def granularities(shape: tuple[int, int], groups: Sequence[int] = (32, 64, 128)) -> dict[str, tuple[int, int]]:
    """Named block sizes for an (m, n) matrix: per tensor, per row, per column, per group of g (along rows), per element."""
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be (m, n) with m, n >= 1; got {shape}")
    rows, columns = shape
    named = {"per tensor": (rows, columns), "per row": (1, columns), "per column": (rows, 1)}
    for group in groups:
        named[f"per group of {group}"] = (1, min(group, columns))
    named["per element"] = (1, 1)
    return named


def bits_per_value(
    shape: Sequence[int], block_size: Sequence[int] | None, bits: int, symmetric: bool, scale_bits: int = SCALE_BITS
) -> float:
    """Storage bits per element: the b-bit code plus each block's scale (scale_bits) and, if asymmetric, b-bit zero point."""
    n_values = int(np.prod(shape))
    return linear_bits(n_values, check_bits(bits), block_count(shape, block_size), symmetric, scale_bits) / n_values


def block_count(shape: Sequence[int], block_size: Sequence[int] | None) -> int:
    """Number of blocks (scales stored) when an array of `shape` is tiled by block_size (None: 1)."""
    shape = tuple(int(n) for n in shape)
    return int(np.prod(_grid_shape(shape, _block_size(block_size, shape))))


def granularity_errors(
    weights: np.ndarray, bit_widths: Sequence[int] = tuple(range(2, 9)), symmetric: bool = True
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{granularity name (see granularities): (storage bits per weight, relative error ||W - Q||_F / ||W||_F)},
    each array with one entry per bit width, for an (m, n) weight matrix."""
    weights = _float32_array(weights, "weights")
    if weights.ndim != 2:
        raise ValueError(f"weights must be an (m, n) matrix; got shape {weights.shape}")
    curves = {}
    for name, block_size in granularities(weights.shape).items():
        storage = [bits_per_value(weights.shape, block_size, b, symmetric) for b in bit_widths]
        errors = [relative_error(weights, fake_quantize(weights, b, symmetric, block_size), "fro") for b in bit_widths]
        curves[name] = (np.array(storage), np.array(errors))
    return curves


def _choose_qparams(x: np.ndarray, bits: int, symmetric: bool, block_size: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    qmin, qmax = quant_range(bits, symmetric)
    if symmetric and bits == 1:
        sums = _reduce_blocks(np.add, np.abs(x).astype(np.float64), block_size)
        scale = (sums / _block_counts(x.shape, block_size)).astype(np.float32)
    elif symmetric:
        scale = _reduce_blocks(np.maximum, np.abs(x), block_size) / np.float32(qmax)
    else:
        low = np.minimum(_reduce_blocks(np.minimum, x, block_size), np.float32(0))
        high = np.maximum(_reduce_blocks(np.maximum, x, block_size), np.float32(0))
        scale = (high - low) / np.float32(qmax - qmin)
    scale = np.where(scale > 0, np.maximum(scale, _SMALLEST_SCALE), np.float32(1)).astype(np.float32)
    if symmetric:
        return scale, np.zeros(scale.shape, dtype=np.int32)
    zero_point = np.clip(qmin - np.rint(low / scale), qmin, qmax).astype(np.int32)
    return scale, zero_point


def _quantize(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, bits: int, symmetric: bool) -> np.ndarray:
    """Codes for x from scale and zero_point already expanded to broadcast against x."""
    if symmetric and bits == 1:
        return np.where(x < 0, -1, 1).astype(np.int32)
    qmin, qmax = quant_range(bits, symmetric)
    # float32 throughout: an int64 zero point would promote every code to float64 (4x slower); the sums
    # are small integers, exact in float32.
    codes = np.rint(x * (np.float32(1) / scale))
    codes += zero_point.astype(np.float32)
    return np.clip(codes, qmin, qmax, out=codes).astype(np.int32)


def _dequantize(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray) -> np.ndarray:
    return (q.astype(np.int64) - zero_point).astype(np.float32) * scale


def _float32_array(values: object, name: str) -> np.ndarray:
    array = finite_array(values, name)
    with np.errstate(over="ignore"):
        array32 = array.astype(np.float32)
    if not np.isfinite(array32).all():
        limit, largest = limit_and_value(float(np.finfo(np.float32).max), float(np.abs(array).max()))
        raise ValueError(f"{name} must fit in float32 (|x| <= {limit}); got max |x| = {largest}")
    return array32


def _block_size(block_size: Sequence[int] | None, shape: tuple[int, ...]) -> tuple[int, ...]:
    if block_size is None:
        return tuple(shape)
    sizes = tuple(block_size)
    accepted = f"a tuple of {len(shape)} integers, each from 1 to the axis length {tuple(shape)}"
    if len(sizes) != len(shape):
        raise ValueError(f"block_size must be {accepted}; got {sizes}")
    for size, n in zip(sizes, shape):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 1 <= size <= n:
            raise ValueError(f"block_size must be {accepted}; got {sizes}")
    return tuple(int(size) for size in sizes)


def _grid_shape(shape: tuple[int, ...], block_size: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(-(-n // size) for n, size in zip(shape, block_size))


def _qparams(
    scale: object, zero_point: object, shape: tuple[int, ...], block_size: tuple[int, ...], qmin: int, qmax: int
) -> tuple[np.ndarray, np.ndarray]:
    grid = _grid_shape(shape, block_size)
    scale = _float32_array(scale, "scale")
    if scale.shape != grid or not (scale > 0).all():
        raise ValueError(f"scale must be positive with the block-grid shape {grid}; got shape {scale.shape}")
    zero_point = finite_array(zero_point, "zero_point")
    if zero_point.shape != grid or zero_point.dtype.kind not in "iu":
        raise ValueError(f"zero_point must hold integers with the block-grid shape {grid}; got {zero_point.dtype} {zero_point.shape}")
    if zero_point.min() < qmin or zero_point.max() > qmax:
        raise ValueError(f"zero_point must lie in the integer range [{qmin}, {qmax}]; got [{zero_point.min()}, {zero_point.max()}]")
    return scale, zero_point.astype(np.int64)


def _reduce_blocks(ufunc: np.ufunc, x: np.ndarray, block_size: tuple[int, ...]) -> np.ndarray:
    for axis, size in enumerate(block_size):
        if size >= x.shape[axis]:
            x = ufunc.reduce(x, axis=axis, keepdims=True)
        elif size > 1:  # blocks of 1 along an axis leave it as it is
            x = ufunc.reduceat(x, np.arange(0, x.shape[axis], size), axis=axis)
    return x


def _block_counts(shape: tuple[int, ...], block_size: tuple[int, ...]) -> np.ndarray:
    return _reduce_blocks(np.add, np.ones(shape, dtype=np.int64), block_size)


def _expand_blocks(per_block: np.ndarray, shape: tuple[int, ...], block_size: tuple[int, ...]) -> np.ndarray:
    """Per-block values repeated to broadcast against an array of `shape` (axes with one block stay length 1)."""
    for axis, (n, size) in enumerate(zip(shape, block_size)):
        if per_block.shape[axis] == 1:
            continue
        repeats = np.full(per_block.shape[axis], size)
        repeats[-1] = n - size * (per_block.shape[axis] - 1)
        per_block = np.repeat(per_block, repeats, axis=axis)
    return per_block
