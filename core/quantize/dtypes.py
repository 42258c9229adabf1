"""Bit layouts of floating-point formats (FP32, FP16, BF16, FP8 E4M3 and E5M2) and of INT8 with a scale.

A value is rounded to nearest, ties to even, straight from its float64 value, then split into
sign, exponent and mantissa fields. Overflow follows torch: IEEE-style formats (FP32, FP16, BF16,
E5M2) go to +-inf; E4M3 ("fn": finite, no infinity, one NaN pattern per sign) saturates to +-448,
and torch also maps +-inf to +-448 in E4M3 (the OCP FP8 spec allows saturating or NaN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.quantize.linear import quant_range, quantize

INT8_BITS = 8


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: 1 sign bit, `exponent_bits`, `mantissa_bits` (stored fraction bits)."""

    name: str
    exponent_bits: int
    mantissa_bits: int
    has_infinity: bool
    torch_dtype: str

    @property
    def bias(self) -> int:
        """Exponent bias 2^(e-1) - 1."""
        return 2 ** (self.exponent_bits - 1) - 1

    @property
    def total_bits(self) -> int:
        """Bits per value."""
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def max_finite(self) -> float:
        """Largest finite value."""
        top_field = 2**self.exponent_bits - (2 if self.has_infinity else 1)
        # E4M3fn keeps the top exponent for numbers but spends its all-ones mantissa on NaN.
        top_fraction = 2 - 2.0 ** -self.mantissa_bits * (1 if self.has_infinity else 2)
        return math.ldexp(top_fraction, top_field - self.bias)

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
    """"zero", "subnormal", "normal", "infinity", "nan", or "saturated" (E4M3 overflow clamped to +-448)."""

    @property
    def error(self) -> float:
        """stored - value (nan when either is not finite)."""
        if not (math.isfinite(self.stored) and math.isfinite(self.value)):
            return math.nan
        return self.stored - self.value


def encode(value: float, format_name: str) -> Encoding:
    """`value` rounded to nearest-even in the format named `format_name` (a key of FORMATS), with its bit fields.

    >>> encode(0.1, "BF16").bits
    '0 01111011 1001101'
    """
    if format_name not in FORMATS:
        raise ValueError(f"format_name must be one of {', '.join(FORMATS)}; got {format_name!r}")
    if not _is_real(value):
        raise ValueError(f"value must be a real number; got {value!r}")
    fmt = FORMATS[format_name]
    value = float(value)
    sign = 1 if math.copysign(1.0, value) < 0 else 0
    if math.isnan(value):
        nan_mantissa = 2**fmt.mantissa_bits - 1 if not fmt.has_infinity else 2 ** (fmt.mantissa_bits - 1)
        return _fields(fmt, value, math.nan, sign, 2**fmt.exponent_bits - 1, nan_mantissa, "nan")
    magnitude = _round_to_format(abs(value), fmt)
    if magnitude > fmt.max_finite:
        if fmt.has_infinity:
            return _fields(fmt, value, math.copysign(math.inf, value), sign, 2**fmt.exponent_bits - 1, 0, "infinity")
        magnitude = fmt.max_finite
        stored = math.copysign(magnitude, value)
        exponent, mantissa = _split(magnitude, fmt)
        return _fields(fmt, value, stored, sign, exponent, mantissa, "saturated")
    exponent, mantissa = _split(magnitude, fmt)
    kind = "zero" if magnitude == 0 else "subnormal" if exponent == 0 else "normal"
    return _fields(fmt, value, math.copysign(magnitude, value), sign, exponent, mantissa, kind)


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


def _round_to_format(magnitude: float, fmt: FloatFormat) -> float:
    """|value| rounded to the format's grid, ties to even, ignoring the top of the range."""
    if magnitude == 0 or math.isinf(magnitude):
        return magnitude
    exponent = max(math.frexp(magnitude)[1] - 1, 1 - fmt.bias)
    quantum = math.ldexp(1.0, exponent - fmt.mantissa_bits)
    return round(magnitude / quantum) * quantum  # exact: dividing by a power of two; round() ties to even


def _split(magnitude: float, fmt: FloatFormat) -> tuple[int, int]:
    """(biased exponent field, mantissa field) of a finite non-negative value on the format's grid."""
    if magnitude < fmt.smallest_normal:
        return 0, round(magnitude / fmt.smallest_subnormal)
    fraction, exponent = math.frexp(magnitude)  # magnitude = fraction * 2^exponent, fraction in [0.5, 1)
    return exponent - 1 + fmt.bias, round((fraction * 2 - 1) * 2**fmt.mantissa_bits)


def _fields(fmt: FloatFormat, value: float, stored: float, sign: int, exponent: int, mantissa: int, kind: str) -> Encoding:
    bits = f"{sign} {exponent:0{fmt.exponent_bits}b} {mantissa:0{fmt.mantissa_bits}b}"
    return Encoding(value, stored, sign, exponent, mantissa, bits, kind)
