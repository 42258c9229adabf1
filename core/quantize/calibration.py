"""Calibration: choosing the clip threshold t of an activation quantizer from sample activations.

Codes: non-negative activations (pixels, ReLU outputs) use unsigned codes 0…2^b-1 on [0, t]
(zero point 0); activations with negative values use signed symmetric codes on [-t, t].
Methods:
- "max":        t = max|x|, nothing clipped.
- "percentile": t = the given percentile of |x| (e.g. 99.99).
- "entropy":    TensorRT's KL method (Migacz, GTC 2017): a 2048-bin histogram of |x|; for each
                cut point i from 128 bins up (from the number of levels when larger: 256 for
                unsigned 8-bit codes), P = the first i bins with the clipped tail added to the last, Q = those i bins merged into as many levels as the code has on [0, t]
                (2^(b-1) signed, 2^b unsigned, as in NVIDIA's pytorch-quantization) and spread back
                over the non-empty bins; t = the upper edge of the cut with the least KL(P || Q).
                As in pytorch-quantization, the first bin takes its neighbour's count: it holds the
                exact zeros of ReLU, which every threshold keeps exact, and their spike would
                otherwise decide the divergence.
- "mse":        t from a sweep of thresholds minimising the exact mean squared quantization error.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from core.checks import bits as check_bits
from core.checks import finite_array, integer_in_range
from core.measure.reconstruction import mse
from core.quantize.linear import dequantize, quant_range, quantize

if TYPE_CHECKING:
    import torch

METHODS = ("max", "percentile", "entropy", "mse")
HISTOGRAM_BINS = 2048
FIRST_CUT_BIN = 128
MSE_CANDIDATES = 100


def clip_quantize(x: np.ndarray, threshold: float, bits: int, signed: bool | None = None) -> np.ndarray:
    """x (any shape) quantized to `bits` bits on [0, t] (unsigned) or [-t, t] (signed) and back, as float32.

    signed None means signed exactly when x has a negative value.
    """
    x = finite_array(x, "x")
    bits = check_bits(bits, low=2)
    signed = _signed(x, signed)
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not (np.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be a positive finite number; got {threshold!r}")
    scale = np.full((1,) * x.ndim, threshold / quant_range(bits, signed)[1], dtype=np.float32)
    zero_point = np.zeros(scale.shape, dtype=np.int32)
    return dequantize(quantize(x, scale, zero_point, bits, symmetric=signed), scale, zero_point)


def quantization_mse(x: np.ndarray, threshold: float, bits: int, signed: bool | None = None) -> float:
    """Mean squared error between x and clip_quantize(x, threshold, bits), in the units of x squared."""
    return sum(error_parts(x, threshold, bits, signed))


def error_parts(x: np.ndarray, threshold: float, bits: int, signed: bool | None = None) -> tuple[float, float]:
    """(rounding, clipping): the quantization MSE split into the squared errors of values inside the range
    ([0, t] or [-t, t]) and of values clipped outside it, each summed and divided by x.size."""
    x = finite_array(x, "x").astype(np.float64, copy=False)
    squared = (clip_quantize(x, threshold, bits, signed).astype(np.float64) - x) ** 2
    low = -threshold if _signed(x, signed) else 0.0
    clipped = (x > threshold) | (x < low)
    return float(squared[~clipped].sum() / x.size), float(squared[clipped].sum() / x.size)


def max_threshold(x: np.ndarray) -> float:
    """t = max|x|."""
    return float(np.abs(_activations(x)).max())


def percentile_threshold(x: np.ndarray, percentile: float) -> float:
    """t = the `percentile` (50 to 100) of |x|, at least the smallest positive |x| so that t > 0."""
    magnitudes = np.abs(_activations(x))
    if not 50 <= percentile <= 100:
        raise ValueError(f"percentile must be from 50 to 100; got {percentile!r}")
    return float(max(np.percentile(magnitudes, percentile), magnitudes[magnitudes > 0].min()))


def kl_curve(
    x: np.ndarray, bits: int, signed: bool | None = None, n_bins: int = HISTOGRAM_BINS, first_cut: int = FIRST_CUT_BIN
) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, KL divergences in nats) of TensorRT's entropy calibration, one per cut point (see module doc)."""
    x = _activations(x)
    signed = _signed(x, signed)
    levels = _levels(bits, signed)
    n_bins = integer_in_range(n_bins, "n_bins", levels, 2**16)
    first_cut = integer_in_range(first_cut, "first_cut", 1, n_bins)
    counts, edges = np.histogram(np.abs(x), bins=n_bins, range=(0.0, float(np.abs(x).max())))
    counts = counts.astype(np.float64)
    counts[0] = counts[1]
    cuts = np.arange(first_cut_bin(bits, signed, first_cut), n_bins + 1)
    divergences = np.array([_clipping_divergence(counts, cut, levels) for cut in cuts])
    return edges[cuts], divergences


def first_cut_bin(bits: int, signed: bool, first_cut: int = FIRST_CUT_BIN) -> int:
    """The first cut point kl_curve tries: first_cut, or the code's number of levels when that is larger
    (a cut must keep at least one bin per level: 256 for unsigned 8-bit codes)."""
    return max(integer_in_range(first_cut, "first_cut", 1, 2**16), _levels(bits, signed))


def entropy_threshold(x: np.ndarray, bits: int, signed: bool | None = None) -> float:
    """t with the least KL divergence on kl_curve (the last such cut if several tie)."""
    thresholds, divergences = kl_curve(x, bits, signed)
    return float(thresholds[len(divergences) - 1 - np.argmin(divergences[::-1])])


def mse_curve(
    x: np.ndarray, bits: int, signed: bool | None = None, n_candidates: int = MSE_CANDIDATES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds max|x|·k/n for k = 1…n, rounding MSE, clipping MSE) — their sum is the exact quantization MSE."""
    x = _activations(x)
    signed = _signed(x, signed)
    n_candidates = integer_in_range(n_candidates, "n_candidates", 1, 10_000)
    nonzero = x[x != 0]  # zero is exact under every threshold, so it adds nothing but the count
    thresholds = np.abs(x).max() * np.arange(1, n_candidates + 1) / n_candidates
    parts = np.array([error_parts(nonzero, t, bits, signed) for t in thresholds]) * (nonzero.size / x.size)
    return thresholds, parts[:, 0], parts[:, 1]


def mse_threshold(x: np.ndarray, bits: int, signed: bool | None = None) -> float:
    """t with the least quantization MSE on mse_curve."""
    thresholds, rounding, clipping = mse_curve(x, bits, signed)
    return float(thresholds[np.argmin(rounding + clipping)])


def threshold(x: np.ndarray, method: str, bits: int, percentile: float = 99.99) -> float:
    """The clip threshold of `method` (one of METHODS) for activations x at `bits` bits."""
    if method == "max":
        return max_threshold(x)
    if method == "percentile":
        return percentile_threshold(x, percentile)
    if method == "entropy":
        return entropy_threshold(x, bits)
    if method == "mse":
        return mse_threshold(x, bits)
    raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")


def layer_thresholds(
    activations: Mapping[str, np.ndarray], method: str, bits: int, percentile: float = 99.99
) -> dict[str, float]:
    """{layer: clip threshold of `method`} for each layer's sample activations {layer: array}."""
    return {layer: threshold(values, method, bits, percentile) for layer, values in activations.items()}


def reconstruct_with_quantized_activations(
    model: torch.nn.Module, images: np.ndarray, thresholds: Mapping[str, float], bits: int
) -> np.ndarray:
    """Run `model` on images (n, 784) with the input of each named Linear layer clip-quantized
    to `bits` bits at thresholds[layer]; returns the outputs (n, 784) float32."""
    import torch  # here, so that the threshold rules load without torch's seconds of import time

    images = finite_array(images, "images", ndim=2).astype(np.float32)
    bits = check_bits(bits, low=2)
    modules = dict(model.named_modules())
    unknown = sorted(set(thresholds) - set(modules))
    if unknown:
        raise ValueError(f"thresholds must name layers of the model ({', '.join(n for n in modules if n)}); got {unknown}")

    def quantize_input(layer: str):
        return lambda module, args: (torch.from_numpy(clip_quantize(args[0].numpy(), thresholds[layer], bits)),)

    hooks = [modules[layer].register_forward_pre_hook(quantize_input(layer)) for layer in thresholds]
    try:
        with torch.no_grad():
            return model(torch.from_numpy(images)).numpy()
    finally:
        for hook in hooks:
            hook.remove()


def quantized_activation_errors(
    model: torch.nn.Module, calibration: Mapping[str, np.ndarray], images: np.ndarray, bit_widths: Sequence[int],
    percentile: float = 99.99,
) -> dict[str, list[float]]:
    """{method: per-pixel MSE of the model's reconstructions of images (n, 784) against them, with every
    layer's input clip-quantized at the thresholds `method` picks on the calibration activations {layer: array},
    one entry per bit width}."""
    return {
        method: [
            mse(images, reconstruct_with_quantized_activations(model, images, layer_thresholds(calibration, method, bits, percentile), bits))
            for bits in bit_widths
        ]
        for method in METHODS
    }


def _activations(x: object) -> np.ndarray:
    array = finite_array(x, "x").astype(np.float64, copy=False).ravel()
    if not np.any(array):
        raise ValueError("x must hold a nonzero value to calibrate a range; got all zeros")
    return array


def _signed(x: np.ndarray, signed: bool | None) -> bool:
    return bool(x.min() < 0) if signed is None else bool(signed)


def _levels(bits: int, signed: bool) -> int:
    bits = check_bits(bits, low=2)
    return 2 ** (bits - 1) if signed else 2**bits


def _clipping_divergence(counts: np.ndarray, cut: int, levels: int) -> float:
    """KL(P || Q) for the first `cut` bins of a histogram, tail clipped into P's last bin."""
    kept = counts[:cut]
    reference = kept.copy()
    reference[-1] += counts[cut:].sum()
    level = np.arange(cut) * levels // cut
    occupied = kept > 0
    level_mass = np.bincount(level, weights=kept, minlength=levels)
    level_bins = np.bincount(level, weights=occupied, minlength=levels)
    candidate = np.where(occupied, level_mass[level] / np.maximum(level_bins[level], 1), 0.0)
    p = reference / reference.sum()
    q = candidate / candidate.sum()
    support = p > 0
    if np.any(q[support] == 0):
        return float("inf")
    return float(np.sum(p[support] * np.log(p[support] / q[support])))
