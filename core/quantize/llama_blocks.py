"""llama.cpp's block formats Q8_0, Q4_0 and Q4_K, written after ggml-quants.c (quantize_row_*_ref and
dequantize_row_*), vectorised over blocks. The GGUF byte layouts:

    block_q8_0 (34 bytes / 32 values):  ggml_half d; int8_t qs[32];             x = d * q
    block_q4_0 (18 bytes / 32 values):  ggml_half d; uint8_t qs[16] (2 per byte); x = d * (q - 8)
    block_q4_K (144 bytes / 256 values): ggml_half d, dmin; uint8_t scales[12] (8 six-bit scales and
        8 six-bit mins); uint8_t qs[128];    x = d * sc_j * q - dmin * m_j in sub-block j of 32

Rounding as ggml: Q8_0 d = amax / 127, q = roundf(x / d) (half away from zero); Q4_0 d = max / -8 with max
the value of largest magnitude, q = min(15, trunc(x / d + 8.5)); both keep d as fp16 (round to nearest-even)
but compute q with the float32 d, as ggml does. Q4_K fits each sub-block's scale and min with llama.cpp's
make_qkx2_quants (weights |x| + rms, 20 candidate scales, weighted least squares; nearest_int rounds half to
even), quantizes the 8 scales and 8 mins to 6 bits against their largest (d = max scale / 63 and
dmin = max min / 63 as fp16), then recomputes each code with the stored scale and min.
Error bounds: Q8_0 and Q4_0 at most |d| / 2 per value (Q4_0: |d| for a value equal to -max, which clamps
to code 15), plus the fp16 rounding of d times the code; Q4_K at most d_j / 2 inside [-dmin_j, 15 d_j - dmin_j].
"""

from __future__ import annotations

import numpy as np

from core.quantize.block_layout import Field, Layout

QK = 32
QK_K = 256
SUB_BLOCKS = QK_K // QK
SIX_BITS = 63
Q4_K_STEPS = 20  # make_qkx2_quants(..., rmin=-1, rdelta=0.1, nstep=20)
Q4_K_RMIN, Q4_K_RDELTA = -1.0, 0.1

Q8_0_LAYOUT = Layout(QK, (Field("d", 16, QK, "fp16 scale"), Field("qs", 8, 1, "int8 code")))
Q4_0_LAYOUT = Layout(QK, (Field("d", 16, QK, "fp16 scale"), Field("qs", 4, 1, "4-bit code, x = d·(q − 8)")))
Q4_K_LAYOUT = Layout(
    QK_K,
    (
        Field("d", 16, QK_K, "fp16 super-scale of the 6-bit scales"),
        Field("dmin", 16, QK_K, "fp16 super-scale of the 6-bit mins"),
        Field("scales", 6, QK, "6-bit sub-block scale"),
        Field("mins", 6, QK, "6-bit sub-block min"),
        Field("qs", 4, 1, "4-bit code"),
    ),
)


def q8_0_encode(blocks: np.ndarray) -> dict[str, np.ndarray]:
    """{"d": (nb, 1) float16, "qs": (nb, 32) int8} as quantize_row_q8_0_ref."""
    d = np.abs(blocks).max(axis=1, keepdims=True) / np.float32(127)
    inverse = _inverse(d)
    return {"d": d.astype(np.float16), "qs": _round_half_away(blocks * inverse).astype(np.int8)}


def q8_0_decode(fields: dict[str, np.ndarray]) -> np.ndarray:
    """(nb, 32) float32 d * q."""
    return fields["d"].astype(np.float32) * fields["qs"].astype(np.float32)


def q4_0_encode(blocks: np.ndarray) -> dict[str, np.ndarray]:
    """{"d": (nb, 1) float16, "qs": (nb, 32) uint8 in 0…15} as quantize_row_q4_0_ref."""
    largest = np.take_along_axis(blocks, np.abs(blocks).argmax(axis=1)[:, None], axis=1)
    d = largest / np.float32(-8)
    codes = np.minimum(np.trunc(blocks * _inverse(d) + np.float32(8.5)), 15)
    return {"d": d.astype(np.float16), "qs": codes.astype(np.uint8)}


def q4_0_decode(fields: dict[str, np.ndarray]) -> np.ndarray:
    """(nb, 32) float32 d * (q - 8)."""
    return fields["d"].astype(np.float32) * (fields["qs"].astype(np.float32) - 8)


def q4_k_encode(blocks: np.ndarray) -> dict[str, np.ndarray]:
    """{"d", "dmin": (nb, 1) float16, "scales", "mins": (nb, 8) uint8 six-bit, "qs": (nb, 256) uint8} as
    quantize_row_q4_K_ref."""
    x = blocks.reshape(-1, SUB_BLOCKS, QK)
    rms = np.sqrt((x * x).mean(axis=2, keepdims=True))
    scales, mins, codes = _fit_scale_min(x, rms + np.abs(x))
    largest_scale, largest_min = scales.max(axis=1, keepdims=True), mins.max(axis=1, keepdims=True)
    six_bit_scales = np.minimum(np.rint(_inverse(largest_scale, SIX_BITS) * scales), SIX_BITS)
    six_bit_mins = np.minimum(np.rint(_inverse(largest_min, SIX_BITS) * mins), SIX_BITS)
    d = (largest_scale / np.float32(SIX_BITS)).astype(np.float16)
    dmin = (largest_min / np.float32(SIX_BITS)).astype(np.float16)
    step = (d.astype(np.float32) * six_bit_scales)[:, :, None]
    offset = (dmin.astype(np.float32) * six_bit_mins)[:, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        requantized = np.clip(np.rint((x + offset) / step), 0, 15)
    codes = np.where(step != 0, requantized, codes)  # ggml skips a sub-block whose scale is 0: its codes stay
    return {
        "d": d,
        "dmin": dmin,
        "scales": six_bit_scales.astype(np.uint8),
        "mins": six_bit_mins.astype(np.uint8),
        "qs": codes.reshape(blocks.shape).astype(np.uint8),
    }


def q4_k_decode(fields: dict[str, np.ndarray]) -> np.ndarray:
    """(nb, 256) float32: d * sc_j * q - dmin * m_j."""
    step = fields["d"].astype(np.float32) * fields["scales"].astype(np.float32)
    offset = fields["dmin"].astype(np.float32) * fields["mins"].astype(np.float32)
    codes = fields["qs"].reshape(-1, SUB_BLOCKS, QK).astype(np.float32)
    return (step[:, :, None] * codes - offset[:, :, None]).reshape(fields["qs"].shape)


def _fit_scale_min(x: np.ndarray, weights: np.ndarray, top: int = 15) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """make_qkx2_quants over the last axis: (scale >= 0, min >= 0 with x ≈ scale * q - min, codes 0…top).

    Starts from min–max, then tries iscale = (top + rmin + rdelta * i) / (max - min) for i = 0…20: codes at
    that scale, the weighted least-squares scale and min for those codes (min forced to 0 if it came out
    positive), and keeps whichever has the smallest weighted squared error.
    """
    low = np.minimum(x.min(axis=2), 0)
    span = x.max(axis=2) - low
    flat = span == 0
    span = np.where(flat, np.float32(1), span)
    position = (x - low[:, :, None]) / span[:, :, None]  # in [0, 1]
    sum_w, sum_x = weights.sum(axis=2), np.einsum("ijk,ijk->ij", weights, x)
    sum_x2 = np.einsum("ijk,ijk->ij", weights * x, x)

    def codes_at(multiplier: np.ndarray | float) -> np.ndarray:
        """Codes at iscale = multiplier / span (nearest_int rounds half to even)."""
        return np.clip(np.rint(position * np.float32(multiplier)), 0, top)

    def sums(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Σ w·q, Σ w·q², Σ w·q·x."""
        weighted = weights * codes
        return weighted.sum(axis=2), np.einsum("ijk,ijk->ij", weighted, codes), np.einsum("ijk,ijk->ij", weighted, x)

    def error(scale: np.ndarray, minimum: np.ndarray, sum_l: np.ndarray, sum_l2: np.ndarray, sum_xl: np.ndarray) -> np.ndarray:
        """Σ w (scale * q + min - x)^2, expanded into the sums."""
        return (
            scale * scale * sum_l2 + minimum * minimum * sum_w + sum_x2
            + 2 * scale * minimum * sum_l - 2 * scale * sum_xl - 2 * minimum * sum_x
        )

    best_scale, best_min = span / np.float32(top), low
    best_error = error(best_scale, best_min, *sums(codes_at(top)))
    best_multiplier = np.full(span.shape, np.float32(top))
    for step in range(Q4_K_STEPS + 1):
        multiplier = np.float32(top + Q4_K_RMIN + Q4_K_RDELTA * step)
        sum_l, sum_l2, sum_xl = sums(codes_at(multiplier))
        determinant = sum_w * sum_l2 - sum_l * sum_l
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = (sum_w * sum_xl - sum_x * sum_l) / determinant
            minimum = (sum_l2 * sum_x - sum_l * sum_xl) / determinant
            positive_min = minimum > 0
            scale = np.where(positive_min, sum_xl / sum_l2, scale)
        minimum = np.where(positive_min, np.float32(0), minimum)
        candidate_error = error(scale, minimum, sum_l, sum_l2, sum_xl)
        better = (determinant > 0) & (candidate_error < best_error)
        best_scale = np.where(better, scale, best_scale)
        best_min = np.where(better, minimum, best_min)
        best_error = np.where(better, candidate_error, best_error)
        best_multiplier = np.where(better, multiplier, best_multiplier)
    best_codes = np.where(flat[:, :, None], 0, codes_at(best_multiplier[:, :, None]))
    return np.where(flat, np.float32(0), best_scale).astype(np.float32), (-best_min).astype(np.float32), best_codes


def _inverse(d: np.ndarray, numerator: float = 1.0) -> np.ndarray:
    """numerator / d, and 0 where d is 0 (ggml's `d ? 1/d : 0`)."""
    with np.errstate(divide="ignore"):
        return np.where(d != 0, np.float32(numerator) / d, np.float32(0)).astype(np.float32)


def _round_half_away(values: np.ndarray) -> np.ndarray:
    """C's roundf: round half away from zero."""
    magnitude = np.abs(values)
    whole = np.floor(magnitude)
    return np.sign(values) * (whole + np.floor(2 * (magnitude - whole)))  # exact, unlike floor(|v| + 0.5) in float32
