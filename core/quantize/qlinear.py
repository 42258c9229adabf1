"""An int8 Linear layer by hand, and the autoencoder run as a chain of them (W8A8).

Stages of one layer y = W x + b:
1. input x -> uint8 codes x_q = clamp(round(x / s_x) + z_x, 0, 255)            (affine)
2. weights W -> int8 codes W_q = clamp(round(W / s_w), -127, 127)               (symmetric, per tensor or per output channel)
3. bias b -> int32 codes b_q = round(b / (s_x * s_w))                           (the accumulator's scale)
4. accumulate in int32: acc = (x_q - z_x) W_q^T + b_q                            (exact: |acc| < 2^31 for these sizes)
5. requantize: y_q = clamp(round(acc * s_x * s_w / s_y) + z_y, 0, 255)          (so y ~ s_y * (y_q - z_y))

When the output range starts at 0 (z_y = 0), the clamp at 0 in step 5 *is* the ReLU, so the
autoencoder's layers chain in integers: each layer's output codes are the next layer's input
codes; only the final sigmoid runs on dequantized floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.checks import finite_array
from core.quantize.linear import choose_qparams, dequantize, quantize

BITS = 8
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Int8Linear:
    """Integer parameters of one Linear layer (shapes: weight (out, in), weight_scale (out, 1) or (1, 1), bias (out,))."""

    weight: np.ndarray
    weight_scale: np.ndarray
    bias: np.ndarray
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int

    @property
    def accumulator_scale(self) -> np.ndarray:
        """s_x * s_w, float32 (out,): the real value of one unit of the int32 accumulator, per output."""
        return _accumulator_scale(self.input_scale, self.weight_scale, self.weight.shape[0])


def affine_qparams(low: float, high: float) -> tuple[float, int]:
    """(scale, zero point) of affine uint8 codes covering [low, high] widened to include 0."""
    scale, zero_point = choose_qparams(np.array([low, high], dtype=np.float64), BITS, symmetric=False)
    return float(scale[0]), int(zero_point[0])


def quantize_layer(
    weight: np.ndarray,
    bias: np.ndarray,
    input_range: tuple[float, float],
    output_range: tuple[float, float],
    per_channel: bool = True,
) -> Int8Linear:
    """Int8Linear for float weight (out, in) and bias (out,), with inputs in input_range and outputs in output_range."""
    weight = finite_array(weight, "weight", ndim=2).astype(np.float32)
    bias = finite_array(bias, "bias", ndim=1).astype(np.float32)
    if bias.shape[0] != weight.shape[0]:
        raise ValueError(f"bias must have one value per output ({weight.shape[0]}); got shape {bias.shape}")
    block_size = (1, weight.shape[1]) if per_channel else None
    weight_scale, weight_zero_point = choose_qparams(weight, BITS, True, block_size)
    weight_codes = quantize(weight, weight_scale, weight_zero_point, BITS, block_size, symmetric=True)
    input_scale, input_zero_point = affine_qparams(*input_range)
    output_scale, output_zero_point = affine_qparams(*output_range)
    accumulator_scale = _accumulator_scale(input_scale, weight_scale, weight.shape[0])
    bias_codes = np.clip(np.rint(bias / accumulator_scale), -_INT32_MAX, _INT32_MAX).astype(np.int32)
    return Int8Linear(
        weight_codes.astype(np.int8), weight_scale.astype(np.float32), bias_codes,
        input_scale, input_zero_point, output_scale, output_zero_point,
    )


def quantize_input(layer: Int8Linear, x: np.ndarray) -> np.ndarray:
    """Stage 1: float inputs (n, in) -> uint8 codes (n, in) at the layer's input scale and zero point."""
    x = finite_array(x, "x", ndim=2)
    scale, zero_point = np.array([[layer.input_scale]], np.float32), np.array([[layer.input_zero_point]])
    return quantize(x, scale, zero_point, BITS).astype(np.uint8)


def accumulate(layer: Int8Linear, x_codes: np.ndarray) -> np.ndarray:
    """Stage 4: int32 accumulators (n, out) = (x_codes - z_x) @ W_q^T + b_q, from uint8 codes (n, in)."""
    x_codes = np.asarray(x_codes)
    if x_codes.dtype != np.uint8 or x_codes.ndim != 2 or x_codes.shape[1] != layer.weight.shape[1]:
        raise ValueError(f"x_codes must be uint8 of shape (n, {layer.weight.shape[1]}); got {x_codes.dtype} {x_codes.shape}")
    centred = x_codes.astype(np.float64) - layer.input_zero_point
    # float64 BLAS is exact here: every partial sum is an integer below 2^53 (255 * 127 * in_features).
    total = np.rint(centred @ layer.weight.T.astype(np.float64)) + layer.bias
    if np.abs(total).max(initial=0) > _INT32_MAX:
        raise ValueError("the int32 accumulator overflows for these inputs; the layer is too wide for int8 x int8")
    return total.astype(np.int32)


def requantize(layer: Int8Linear, accumulator: np.ndarray) -> np.ndarray:
    """Stage 5: int32 accumulators (n, out) -> uint8 output codes (n, out) at the output scale and zero point."""
    multiplier = layer.accumulator_scale / np.float32(layer.output_scale)
    codes = np.rint(accumulator.astype(np.float32) * multiplier) + layer.output_zero_point
    return np.clip(codes, 0, 2**BITS - 1).astype(np.uint8)


def forward(layer: Int8Linear, x_codes: np.ndarray) -> np.ndarray:
    """uint8 input codes (n, in) -> uint8 output codes (n, out): accumulate, then requantize."""
    return requantize(layer, accumulate(layer, x_codes))


def dequantize_output(layer: Int8Linear, y_codes: np.ndarray) -> np.ndarray:
    """uint8 output codes (n, out) -> float32 values s_y * (y_q - z_y)."""
    y_codes = np.asarray(y_codes)
    scale, zero_point = np.array([[layer.output_scale]], np.float32), np.array([[layer.output_zero_point]])
    return dequantize(y_codes, scale, zero_point)


def quantize_autoencoder(
    state_dict: Mapping[str, np.ndarray], layer_names: Sequence[str], calibration_inputs: Mapping[str, np.ndarray],
    per_channel: bool = True,
) -> list[Int8Linear]:
    """Int8 layers for a ReLU chain of Linear layers ("<name>.weight", "<name>.bias"): each layer's input range is
    the min/max of calibration_inputs[name] (n, in); its output range is the next layer's input range, and for the
    last layer the range of its float pre-activations on those inputs."""
    missing = [name for name in layer_names if name not in calibration_inputs]
    if missing:
        raise ValueError(f"calibration_inputs must hold the inputs of every layer {list(layer_names)}; missing {missing}")
    ranges = [_range(calibration_inputs[name]) for name in layer_names]
    last = layer_names[-1]
    last_outputs = np.asarray(calibration_inputs[last]) @ np.asarray(state_dict[f"{last}.weight"]).T + state_dict[f"{last}.bias"]
    ranges.append(_range(last_outputs))
    return [
        quantize_layer(state_dict[f"{name}.weight"], state_dict[f"{name}.bias"], ranges[i], ranges[i + 1], per_channel)
        for i, name in enumerate(layer_names)
    ]


def integer_chain(layers: Sequence[Int8Linear], x: np.ndarray) -> list[np.ndarray]:
    """Run float inputs (n, in) through chained int8 layers; returns the uint8 codes entering each layer, then the
    last layer's output codes (len(layers) + 1 arrays). Between layers the clamp at zero point 0 acts as ReLU."""
    for before, after in zip(layers, layers[1:]):
        if (before.output_scale, before.output_zero_point) != (after.input_scale, after.input_zero_point):
            raise ValueError("layers must chain: each layer's output scale and zero point must be the next one's input's")
    codes = [quantize_input(layers[0], x)]
    for layer in layers:
        codes.append(forward(layer, codes[-1]))
    return codes


def reconstruct_w8a8(layers: Sequence[Int8Linear], images: np.ndarray) -> np.ndarray:
    """The autoencoder's reconstructions (n, 784) float32 from chained int8 layers: integer_chain, then the
    sigmoid on the dequantized last outputs."""
    last_codes = integer_chain(layers, images)[-1]
    return (1 / (1 + np.exp(-dequantize_output(layers[-1], last_codes).astype(np.float64)))).astype(np.float32)


def _accumulator_scale(input_scale: float, weight_scale: np.ndarray, n_outputs: int) -> np.ndarray:
    """s_x * s_w per output, float32 (n_outputs,), from a weight_scale of shape (out, 1) or (1, 1)."""
    return (np.float32(input_scale) * np.broadcast_to(weight_scale[:, 0], (n_outputs,))).astype(np.float32)


def _range(values: np.ndarray) -> tuple[float, float]:
    values = finite_array(values, "calibration values")
    return float(values.min()), float(values.max())
