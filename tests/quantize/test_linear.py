"""core/quantize/linear.py against torch's quantized tensors, a per-block loop, and hand-worked examples."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.quantize.linear import (
    bits_per_value,
    block_count,
    choose_qparams,
    dequantize,
    fake_quantize,
    granularities,
    granularity_errors,
    quant_range,
    quantize,
)

# torch warns that its quantized tensors are deprecated; they are still the reference here.
pytestmark = pytest.mark.filterwarnings("ignore:.*quantized tensor creation functions.*:UserWarning")

WORKED_EXAMPLE = np.array([-2.3, -1.1, 0.0, 1.5, 2.8, 4.0])


def _weights(shape, seed=0):
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 0.05, size=shape).astype(np.float32)
    weights[rng.integers(0, shape[0], 3)] *= 20  # a few outlier rows
    return weights


@pytest.mark.parametrize("symmetric", [True, False])
def test_per_tensor_codes_equal_torch_quantize_per_tensor(symmetric):
    x = _weights((64, 100))
    scale, zero_point = choose_qparams(x, 8, symmetric)
    codes = quantize(x, scale, zero_point, 8, symmetric=symmetric)
    dtype = torch.qint8 if symmetric else torch.quint8
    reference = torch.quantize_per_tensor(torch.from_numpy(x), float(scale[0, 0]), int(zero_point[0, 0]), dtype)
    np.testing.assert_array_equal(codes, reference.int_repr().numpy())
    np.testing.assert_array_equal(dequantize(codes, scale, zero_point), reference.dequantize().numpy())


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("axis", [0, 1])
def test_per_channel_codes_equal_torch_quantize_per_channel(symmetric, axis):
    x = _weights((40, 70), seed=1)
    block_size = (1, 70) if axis == 0 else (40, 1)
    scale, zero_point = choose_qparams(x, 8, symmetric, block_size)
    codes = quantize(x, scale, zero_point, 8, block_size, symmetric)
    dtype = torch.qint8 if symmetric else torch.quint8
    reference = torch.quantize_per_channel(
        torch.from_numpy(x),
        torch.from_numpy(scale.ravel().astype(np.float64)),
        torch.from_numpy(zero_point.ravel().astype(np.int64)),
        axis,
        dtype,
    )
    np.testing.assert_array_equal(codes, reference.int_repr().numpy())
    np.testing.assert_array_equal(dequantize(codes, scale, zero_point, block_size), reference.dequantize().numpy())


def test_qparams_equal_torch_minmax_observer_for_affine_uint8():
    x = _weights((30, 50), seed=2)
    observer = torch.ao.quantization.MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
    observer(torch.from_numpy(x))
    torch_scale, torch_zero_point = observer.calculate_qparams()
    scale, zero_point = choose_qparams(x, 8, symmetric=False)
    assert scale[0, 0] == np.float32(torch_scale.item())
    assert zero_point[0, 0] == torch_zero_point.item()


def test_worked_example_symmetric_rounds_to_nearest():
    scale, zero_point = choose_qparams(WORKED_EXAMPLE, 8, symmetric=True)
    assert scale[0] == pytest.approx(4.0 / 127)
    codes = quantize(WORKED_EXAMPLE, scale, zero_point, 8, symmetric=True)
    # 1.5 * 127/4 = 47.625 -> 48 and 2.8 * 127/4 = 88.9 -> 89; every value keeps its own code.
    np.testing.assert_array_equal(codes, [-73, -35, 0, 48, 89, 127])


def test_worked_example_affine_by_hand():
    scale, zero_point = choose_qparams(WORKED_EXAMPLE, 8, symmetric=False)
    assert scale[0] == pytest.approx(6.3 / 255)
    assert zero_point[0] == round(2.3 / (6.3 / 255))  # 92.9 -> 93
    codes = quantize(WORKED_EXAMPLE, scale, zero_point, 8)
    expected = np.clip(np.round(WORKED_EXAMPLE / (6.3 / 255)) + 93, 0, 255)
    np.testing.assert_array_equal(codes, expected)


def test_quant_ranges():
    assert quant_range(8, True) == (-127, 127)
    assert quant_range(8, False) == (0, 255)
    assert quant_range(2, True) == (-1, 1)
    assert quant_range(1, True) == (-1, 1)
    assert quant_range(1, False) == (0, 1)


def test_affine_keeps_zero_exact_and_range_includes_zero():
    x = np.array([0.5, 0.7, 0.0, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(fake_quantize(x, 3)[2], 0.0)
    positive = np.array([1.0, 2.0, 3.0], dtype=np.float32)  # widened to [0, 3]
    scale, zero_point = choose_qparams(positive, 2, symmetric=False)
    assert scale[0] == pytest.approx(1.0) and zero_point[0] == 0


def test_sign_quantization_at_one_bit_uses_least_squares_scale():
    x = np.array([-3.0, -0.5, 0.0, 1.0, 2.5], dtype=np.float32)
    codes = quantize(x, *choose_qparams(x, 1, True), 1, symmetric=True)
    np.testing.assert_array_equal(codes, [-1, -1, 1, 1, 1])
    candidates = np.linspace(0.01, 4, 4000)
    errors = [np.sum((codes * c - x) ** 2) for c in candidates]
    best = candidates[int(np.argmin(errors))]
    assert choose_qparams(x, 1, True)[0][0] == pytest.approx(best, abs=1e-3)


def _block_slices(shape, block_size):
    starts = [range(0, n, size) for n, size in zip(shape, block_size)]
    for corner in itertools.product(*starts):
        yield tuple(slice(c, c + size) for c, size in zip(corner, block_size))


@pytest.mark.parametrize("block_size", [(12, 20), (1, 20), (12, 1), (1, 8), (3, 6), (1, 1), (5, 7)])
@pytest.mark.parametrize("symmetric,bits", [(True, 4), (False, 3), (True, 1), (False, 8)])
def test_block_sizes_agree_with_a_loop_over_blocks(block_size, symmetric, bits):
    x = _weights((12, 20), seed=3)
    expected = np.empty_like(x)
    for block in _block_slices(x.shape, block_size):
        expected[block] = fake_quantize(x[block], bits, symmetric)
    np.testing.assert_array_equal(fake_quantize(x, bits, symmetric, block_size), expected)


def test_scale_grid_shape_rounds_up_for_ragged_blocks():
    scale, zero_point = choose_qparams(np.ones((4, 784), dtype=np.float32), 4, False, (1, 32))
    assert scale.shape == zero_point.shape == (4, 25)


@settings(max_examples=150, deadline=None)
@given(
    x=arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 9)),
             elements=st.floats(-1e6, 1e6, width=32, allow_subnormal=False)),
    bits=st.integers(2, 8),
    symmetric=st.booleans(),
    group=st.integers(1, 9),
    clip=st.floats(0.25, 1.0),
)
def test_dequantized_error_is_at_most_half_a_step_inside_the_range(x, bits, symmetric, group, clip):
    block_size = (1, min(group, x.shape[1]))
    scale, zero_point = choose_qparams(x, bits, symmetric, block_size)
    scale = (scale * np.float32(clip)).clip(np.finfo(np.float32).tiny)  # clip < 1 pushes values outside the range
    codes = quantize(x, scale, zero_point, bits, block_size, symmetric)
    restored = dequantize(codes, scale, zero_point, block_size).astype(np.float64)
    qmin, qmax = quant_range(bits, symmetric)
    step = np.repeat(scale, block_size[1], axis=1)[:, : x.shape[1]].astype(np.float64)
    offset = np.repeat(zero_point, block_size[1], axis=1)[:, : x.shape[1]]
    inside = (x >= (qmin - offset) * step) & (x <= (qmax - offset) * step)
    error = np.abs(restored - x)
    assert np.all(error[inside] <= step[inside] / 2 * (1 + 1e-5))
    outside_low, outside_high = x < (qmin - offset) * step, x > (qmax - offset) * step
    np.testing.assert_array_equal(codes[outside_low], qmin)
    np.testing.assert_array_equal(codes[outside_high], qmax)


def test_bits_per_value_counts_scales_and_zero_points():
    assert bits_per_value((256, 256), None, 8, symmetric=True) == 8 + 32 / 65536
    assert bits_per_value((256, 256), (1, 256), 4, symmetric=False) == 4 + 256 * (32 + 4) / 65536
    assert bits_per_value((2, 784), (1, 32), 4, symmetric=True) == 4 + 2 * 25 * 32 / (2 * 784)
    assert bits_per_value((3, 3), (1, 1), 8, symmetric=True) == 8 + 32


def test_block_count_rounds_up():
    assert block_count((1000, 784), (1, 32)) == 1000 * 25
    assert block_count((1000, 784), None) == 1
    assert block_count((6, 6), (4, 4)) == 4


def test_granularities_name_the_block_sizes():
    named = granularities((256, 784))
    assert named["per tensor"] == (256, 784)
    assert named["per row"] == (1, 784)
    assert named["per column"] == (256, 1)
    assert named["per group of 64"] == (1, 64)
    assert named["per element"] == (1, 1)


def test_finer_granularity_never_hurts_on_outlier_rows():
    x = _weights((64, 128), seed=4)
    errors = {name: np.mean((fake_quantize(x, 4, True, bs) - x) ** 2) for name, bs in granularities(x.shape).items()}
    assert errors["per row"] < errors["per tensor"] / 3
    assert errors["per group of 32"] <= errors["per row"]
    assert errors["per element"] == pytest.approx(0, abs=1e-12)


def test_granularity_errors_are_relative_frobenius_errors_with_storage():
    x = _weights((16, 64), seed=5)
    curves = granularity_errors(x, (3, 6), symmetric=False)
    storage, errors = curves["per row"]
    np.testing.assert_allclose(storage, [3 + 16 * (32 + 3) / 1024, 6 + 16 * (32 + 6) / 1024])
    quantized = fake_quantize(x, 3, False, (1, 64))
    assert errors[0] == pytest.approx(np.linalg.norm(x - quantized) / np.linalg.norm(x), rel=1e-6)
    assert errors[1] < errors[0] / 4
    assert curves["per group of 128"][1] == pytest.approx(curves["per row"][1])  # a group wider than a row is the row


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: choose_qparams([1.0, np.nan], 8, True), "finite"),
        (lambda: choose_qparams([1.0, 2.0], 9, True), "bits"),
        (lambda: choose_qparams([[1.0, 2.0]], 8, True, (1, 3)), "block_size"),
        (lambda: choose_qparams([[1.0, 2.0]], 8, True, (2,)), "block_size"),
        (lambda: choose_qparams([1e300], 8, True), "float32"),
        (lambda: quantize([1.0, 2.0], [0.1, 0.1], [0, 0], 8), "scale"),
        (lambda: quantize([1.0], [-0.1], [0], 8), "scale"),
        (lambda: quantize([1.0], [0.1], [300], 8), "zero_point"),
        (lambda: dequantize([1.5], [0.1], [0]), "integer"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
