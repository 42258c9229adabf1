"""Bit layouts of floating-point formats, one value at a time (`encode`) or whole arrays (`encode_array`,
`decode_array`): FP32, FP16, BF16, FP8 E4M3 and E5M2, the OCP microscaling element types FP6 E3M2,
FP6 E2M3 and FP4 E2M1, and INT8 with a scale.

A value is rounded to nearest, ties to even, straight from its float64 (or float32) value, then split
into sign, exponent and mantissa fields. Overflow follows torch: IEEE-style formats (FP32, FP16, BF16,
E5M2) go to +-inf; E4M3 ("fn": finite, no infinity, one NaN pattern per sign) saturates to +-448,
and torch also maps +-inf to +-448 in E4M3 (the OCP FP8 spec allows saturating or NaN). FP6 and FP4
have no infinity and no NaN: every code is a number, and overflow saturates to the largest one
(as the OCP MX spec v1.0 asks). `encode_array(..., saturate=True)` saturates in every format, as the
MX spec's conversion does for E5M2 elements too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.quantize.linear import quant_range, quantize

INT8_BITS = 8


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: 1 sign bit, `exponent_bits`, `mantissa_bits` (stored fraction bits).

    Its specials: `has_infinity` (IEEE style: the top exponent holds ±inf and NaNs), else `has_nan`
    ("fn" style: the all-ones pattern is NaN, the rest of the top exponent are numbers), else none
    (FP6, FP4: every pattern is a number). `torch_dtype` names torch's dtype for it, "" when torch has none.
    """

    name: str
    exponent_bits: int
    mantissa_bits: int
    has_infinity: bool
    torch_dtype: str
    has_nan: bool = True

    @property
    def bias(self) -> int:
        """Exponent bias 2^(e-1) - 1."""
        return 2 ** (self.exponent_bits - 1) - 1

    @property
    def total_bits(self) -> int:
        """Bits per value."""
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def max_code(self) -> int:
        """Magnitude bits (sign cleared) of the largest finite value."""
        top = 2 ** (self.exponent_bits + self.mantissa_bits) - 1
        if self.has_infinity:
            return top - 2**self.mantissa_bits  # the whole top exponent is inf/NaN
        return top - 1 if self.has_nan else top  # E4M3fn spends only its all-ones pattern on NaN

    @property
    def max_finite(self) -> float:
        """Largest finite value."""
        return float(decode_array(np.array([self.max_code]), self)[0])

    @property
    def max_exponent(self) -> int:
        """Unbiased exponent of the largest finite value (emax: 8 for E4M3, 2 for E2M1)."""
        return (self.max_code >> self.mantissa_bits) - self.bias

    @property
    def smallest_normal(self) -> float:
        """Smallest positive normal value, 2^(1 - bias)."""
        return math.ldexp(1.0, 1 - self.bias)

    @property
    def smallest_subnormal(self) -> float:
        """Smallest positive value, 2^(1 - bias - mantissa_bits)."""
        return math.ldexp(1.0, 1 - self.bias - self.mantissa_bits)

    @property
    def epsilon(self) -> float:
        """Gap between 1 and the next value, 2^-mantissa_bits."""
        return math.ldexp(1.0, -self.mantissa_bits)


FORMATS = {
    "FP32": FloatFormat("FP32", 8, 23, True, "float32"),
    "FP16": FloatFormat("FP16", 5, 10, True, "float16"),
    "BF16": FloatFormat("BF16", 8, 7, True, "bfloat16"),
    "FP8 E4M3": FloatFormat("FP8 E4M3", 4, 3, False, "float8_e4m3fn"),
    "FP8 E5M2": FloatFormat("FP8 E5M2", 5, 2, True, "float8_e5m2"),
}
"""The formats the Data types page compares."""

ELEMENT_FORMATS = {
    "FP6 E3M2": FloatFormat("FP6 E3M2", 3, 2, False, "", has_nan=False),
    "FP6 E2M3": FloatFormat("FP6 E2M3", 2, 3, False, "", has_nan=False),
    "FP4 E2M1": FloatFormat("FP4 E2M1", 2, 1, False, "float4_e2m1fn_x2", has_nan=False),
}
"""The sub-byte element types of the OCP microscaling formats (torch has FP4 only packed two to a byte)."""

ALL_FORMATS = {**FORMATS, **ELEMENT_FORMATS}


def encode_array(values: np.ndarray, fmt: FloatFormat, saturate: bool = False) -> np.ndarray:
    """Bit patterns (sign, exponent, mantissa) of `values` rounded to nearest-even in `fmt`, same shape:
    uint8 for formats of at most 8 bits, else uint16 / uint32.

    Overflow goes to ±inf in IEEE-style formats and saturates to ±max_finite in the others, or in every
    format when `saturate`. Computes in the values' float dtype (float32 or float64): exact either way.

    >>> encode_array(np.array([1.0, -0.5, 7.0]), ELEMENT_FORMATS["FP4 E2M1"]).tolist()
    [2, 9, 7]
    """
    shape = np.shape(values)
    array = np.asarray(values).reshape(-1)
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    finite = np.isfinite(array)
    all_finite = bool(finite.all())
    codes = _magnitude_codes(np.abs(array) if all_finite else np.where(finite, np.abs(array), 0), fmt)
    overflow = codes > fmt.max_code if all_finite else (codes > fmt.max_code) | np.isinf(array)
    if overflow.any():
        codes[overflow] = fmt.max_code + 1 if fmt.has_infinity and not saturate else fmt.max_code
    if not all_finite:
        nan = np.isnan(array)
        if nan.any() and not (fmt.has_nan or fmt.has_infinity):
            raise ValueError(f"values must not be NaN: {fmt.name} has no NaN; got {np.count_nonzero(nan)} NaN")
        codes[nan] = _nan_code(fmt)
    codes |= np.signbit(array).astype(codes.dtype) << (fmt.exponent_bits + fmt.mantissa_bits)
    return codes.astype(_CODE_DTYPES[(fmt.total_bits + 7) // 8]).reshape(shape)


def decode_array(codes: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    """float32 values of bit patterns in `fmt` (the inverse of encode_array), same shape."""
    codes = np.asarray(codes)
    if fmt.total_bits == 32:
        return codes.astype(np.uint32).view(np.float32)
    return _code_table(fmt)[codes]


_CODE_DTYPES = {1: np.uint8, 2: np.uint16, 3: np.uint32, 4: np.uint32}


def _magnitude_codes(magnitude: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    """int64 codes (sign cleared) of finite |values| rounded to nearest-even, not yet capped at max_code.

    With e = max(floor(log2 a), 1 - bias) the value's binade (subnormals share the lowest), the rounded
    significand q = round(a / 2^(e - m)) counts quanta; (e - (1 - bias)) * 2^m + q is then the code: a
    significand that rounds up to 2^(m+1) carries into the next exponent, as the bit pattern does.
    """
    m, lowest = fmt.mantissa_bits, 1 - fmt.bias
    _, exponent = np.frexp(magnitude)  # magnitude = f * 2^exponent with f in [0.5, 1); 0 -> exponent 0
    binade = np.maximum(exponent - 1, lowest)
    quanta = np.rint(np.ldexp(magnitude, m - binade)).astype(np.int64)  # exact scaling by a power of two
    codes = ((binade - lowest).astype(np.int64) << m) + quanta
    codes[quanta == 0] = 0  # zero's frexp exponent is 0, not its binade
    return codes


def _nan_code(fmt: FloatFormat) -> int:
    top_exponent = (2**fmt.exponent_bits - 1) << fmt.mantissa_bits
    return top_exponent | (2 ** (fmt.mantissa_bits - 1) if fmt.has_infinity else 2**fmt.mantissa_bits - 1)


@lru_cache(maxsize=None)
def _code_table(fmt: FloatFormat) -> np.ndarray:
    """float32 value of every bit pattern of a format of at most 16 bits."""
    codes = np.arange(2**fmt.total_bits, dtype=np.int64)
    exponent = (codes >> fmt.mantissa_bits) & (2**fmt.exponent_bits - 1)
    mantissa = (codes & (2**fmt.mantissa_bits - 1)).astype(np.float64)
    significand = np.where(exponent == 0, mantissa, mantissa + 2**fmt.mantissa_bits)
    values = np.ldexp(significand, np.maximum(exponent, 1) - fmt.bias - fmt.mantissa_bits)
    magnitude_bits = codes & (2 ** (fmt.exponent_bits + fmt.mantissa_bits) - 1)
    if fmt.has_infinity:
        values = np.where(exponent == 2**fmt.exponent_bits - 1, np.where(mantissa == 0, np.inf, np.nan), values)
    elif fmt.has_nan:
        values = np.where(magnitude_bits == _nan_code(fmt), np.nan, values)
    values = np.where(codes >> (fmt.exponent_bits + fmt.mantissa_bits) == 1, -values, values)
    table = values.astype(np.float32)
    table.flags.writeable = False
    return table


@dataclass(frozen=True)
class Encoding:
    """One value stored in a format: its fields, their bit strings, the value kept and what kind it is."""

    value: float
    stored: float
    sign: int
    exponent: int
    mantissa: int
    bits: str
    kind: str
    """"zero", "subnormal", "normal", "infinity", "nan", or "saturated" (overflow clamped to +-max, E4M3: 448)."""

    @property
    def error(self) -> float:
        """stored - value (nan when either is not finite)."""
        if not (math.isfinite(self.stored) and math.isfinite(self.value)):
            return math.nan
        return self.stored - self.value


def encode(value: float, format_name: str) -> Encoding:
    """`value` rounded to nearest-even in the format named `format_name` (a key of ALL_FORMATS), with its bit fields.

    >>> encode(0.1, "BF16").bits
    '0 01111011 1001101'
    """
    if format_name not in ALL_FORMATS:
        raise ValueError(f"format_name must be one of {', '.join(ALL_FORMATS)}; got {format_name!r}")
    if not _is_real(value):
        raise ValueError(f"value must be a real number; got {value!r}")
    fmt = ALL_FORMATS[format_name]
    value = float(value)
    code = int(encode_array(np.array(value), fmt))
    magnitude_bits = fmt.exponent_bits + fmt.mantissa_bits
    sign, exponent, mantissa = code >> magnitude_bits, (code >> fmt.mantissa_bits) & (2**fmt.exponent_bits - 1), code & (2**fmt.mantissa_bits - 1)
    stored = float(decode_array(np.array(code), fmt))
    if math.isnan(value):
        kind = "nan"
    elif math.isinf(stored):
        kind = "infinity"
    elif math.isinf(value) or _magnitude_codes(np.array([abs(value)]), fmt)[0] > fmt.max_code:
        kind = "saturated"
    else:
        kind = "zero" if stored == 0 else "subnormal" if exponent == 0 else "normal"
    bits = f"{sign} {exponent:0{fmt.exponent_bits}b} {mantissa:0{fmt.mantissa_bits}b}"
    return Encoding(value, stored, sign, exponent, mantissa, bits, kind)


def int8_encode(value: float, scale: float) -> Encoding:
    """`value` as a symmetric INT8 code q = clamp(round(value / scale), -127, 127) (as core.quantize.linear computes it); stored q * scale.

    Fields: sign is the sign bit of the two's-complement byte, mantissa the code q, exponent 0.
    """
    if not (_is_real(value) and math.isfinite(value)):
        raise ValueError(f"value must be a finite real number for INT8; got {value!r}")
    if not (_is_real(scale) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number; got {scale!r}")
    scale_array, zero_point = np.array([scale], dtype=np.float32), np.zeros(1, dtype=np.int32)
    code = int(quantize([value], scale_array, zero_point, INT8_BITS, symmetric=True)[0])
    stored = code * float(scale)  # the real number the code stands for, without float32 rounding of the product
    # Clipped: beyond the top code's rounding cell. (Comparing |stored - value| with s/2 in float64 called
    # exact ties between two codes, like 0.025 at scale 0.01, clipped.)
    clipped = abs(value) / scale > quant_range(INT8_BITS, symmetric=True)[1] + 0.5
    kind = "saturated" if clipped else "zero" if code == 0 else "normal"
    return Encoding(float(value), stored, int(code < 0), 0, code, format(code & 0xFF, "08b"), kind)


def _is_real(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
