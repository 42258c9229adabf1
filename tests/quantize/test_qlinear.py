"""core/quantize/qlinear.py against torch.ao.nn.quantized.Linear on random layers and on the autoencoder's layers.

QNNPACK rounds the bias to int32 at scale s_x * s_w and accumulates in int32, as core/qlinear does: the
codes are equal. FBGEMM (the x86 engine) keeps the bias in float and adds it after scaling the accumulator,
acc * s_x * s_w + b; the bias rounding we skip moves the pre-rounding value by at most s_x * s_w / 2, so an
output code can differ by 1 where the value sits next to a rounding boundary. The test shows the differences
are exactly those of that float-bias formula.
"""

import numpy as np
import pytest
import torch
import torch.ao.nn.quantized as nnq

from core.measure.reconstruction import mse
from core.models import autoencoder, mnist
from core.quantize.qlinear import (
    accumulate,
    dequantize_output,
    forward,
    integer_chain,
    quantize_autoencoder,
    quantize_input,
    quantize_layer,
    reconstruct_w8a8,
)

# torch warns that its quantized tensors are deprecated; they are still the reference here.
pytestmark = pytest.mark.filterwarnings("ignore:.*quantized tensor creation functions.*:UserWarning")


@pytest.fixture
def engine(request):
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = request.param
    yield request.param
    torch.backends.quantized.engine = previous


def _torch_layer(layer, weight, bias, per_channel):
    module = nnq.Linear(weight.shape[1], weight.shape[0])
    weight = torch.from_numpy(weight)
    if per_channel:
        scales = torch.from_numpy(layer.weight_scale[:, 0].astype(np.float64))
        qweight = torch.quantize_per_channel(weight, scales, torch.zeros(len(scales), dtype=torch.long), 0, torch.qint8)
    else:
        qweight = torch.quantize_per_tensor(weight, float(layer.weight_scale[0, 0]), 0, torch.qint8)
    module.set_weight_bias(qweight, torch.from_numpy(bias))
    module.scale, module.zero_point = layer.output_scale, layer.output_zero_point
    return module


def _torch_codes(layer, weight, bias, x, per_channel):
    qx = torch.quantize_per_tensor(torch.from_numpy(x), layer.input_scale, layer.input_zero_point, torch.quint8)
    return _torch_layer(layer, weight, bias, per_channel)(qx).int_repr().numpy()


def _random_layer(seed, n_in=300, n_out=200, n=50):
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal((n_out, n_in)) * 0.05).astype(np.float32)
    bias = (rng.standard_normal(n_out) * 0.1).astype(np.float32)
    x = np.maximum(rng.standard_normal((n, n_in)) + 0.2 * rng.standard_normal(n_in), -0.3).astype(np.float32)
    y = x @ weight.T + bias
    return weight, bias, x, (float(x.min()), float(x.max())), (float(y.min()), float(y.max()))


@pytest.mark.parametrize("engine", ["qnnpack"], indirect=True)
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_codes_equal_qnnpack_on_random_layers(engine, per_channel, seed):
    weight, bias, x, input_range, output_range = _random_layer(seed)
    layer = quantize_layer(weight, bias, input_range, output_range, per_channel)
    x_codes = quantize_input(layer, x)
    reference = _torch_codes(layer, weight, bias, x, per_channel)
    np.testing.assert_array_equal(forward(layer, x_codes), reference)


@pytest.mark.parametrize("engine", ["x86"], indirect=True)
@pytest.mark.parametrize("per_channel", [False, True])
def test_x86_engine_differs_by_at_most_one_code_from_its_float_bias(engine, per_channel):
    weight, bias, x, input_range, output_range = _random_layer(3, n_in=784, n_out=500, n=64)
    layer = quantize_layer(weight, bias, input_range, output_range, per_channel)
    x_codes = quantize_input(layer, x)
    ours = forward(layer, x_codes).astype(int)
    reference = _torch_codes(layer, weight, bias, x, per_channel).astype(int)
    assert np.abs(ours - reference).max() <= 1
    assert np.count_nonzero(ours != reference) <= 0.002 * ours.size
    unbiased = accumulate(layer, x_codes) - layer.bias
    float_bias = np.rint((unbiased.astype(np.float32) * layer.accumulator_scale + bias) / np.float32(layer.output_scale))
    np.testing.assert_array_equal(np.clip(float_bias + layer.output_zero_point, 0, 255), reference)


@pytest.fixture(scope="module")
def shipped():
    state = autoencoder.load_state_dict()
    train_images, _, heldout_images, _ = mnist.load_split()
    calibration = autoencoder.layer_inputs(state, train_images[:200])
    return state, calibration, heldout_images[:100]


@pytest.mark.parametrize("engine", ["qnnpack"], indirect=True)
@pytest.mark.parametrize("per_channel", [False, True])
def test_codes_equal_qnnpack_on_every_autoencoder_layer(engine, per_channel, shipped):
    state, calibration, heldout = shipped
    layers = quantize_autoencoder(state, autoencoder.LAYER_NAMES, calibration, per_channel)
    inputs = autoencoder.layer_inputs(state, heldout)
    for name, layer in zip(autoencoder.LAYER_NAMES, layers):
        weight, bias = state[f"{name}.weight"], state[f"{name}.bias"]
        reference = _torch_codes(layer, weight, bias, inputs[name], per_channel).astype(int)
        accumulators = accumulate(layer, quantize_input(layer, inputs[name]))
        ours = forward(layer, quantize_input(layer, inputs[name])).astype(int)
        # Codes may differ by one only where acc * s_x s_w / s_y lies within float32 rounding of a
        # .5 tie, so that QNNPACK's float32 order of operations rounds it the other way
        # (seen once in 78,400 codes of fc5: -66.5000025).
        differ = ours != reference
        assert np.abs(ours - reference).max() <= 1, name
        exact = accumulators.astype(np.float64) * (np.float64(layer.accumulator_scale) / layer.output_scale)
        distance_to_tie = np.abs(np.abs(exact - np.floor(exact)) - 0.5)
        assert np.all(distance_to_tie[differ] < 1e-5), name


def test_clamp_at_zero_point_zero_is_relu(shipped):
    state, calibration, heldout = shipped
    fc1, fc2 = quantize_autoencoder(state, autoencoder.LAYER_NAMES, calibration)[:2]
    assert fc1.output_zero_point == 0 and (fc1.output_scale, 0) == (fc2.input_scale, fc2.input_zero_point)
    y_codes = forward(fc1, quantize_input(fc1, heldout))
    pre_activation = heldout @ state["fc1.weight"].T + state["fc1.bias"]
    assert np.all(y_codes[pre_activation < -fc1.output_scale] == 0)
    relu = np.maximum(pre_activation, 0)
    inside = relu < 250 * fc1.output_scale
    error = np.abs(dequantize_output(fc1, y_codes) - relu)[inside]
    assert np.percentile(error, 99) < 2 * fc1.output_scale


@pytest.mark.parametrize("per_channel", [False, True])
def test_w8a8_autoencoder_reconstructs_almost_like_float(per_channel, shipped):
    state, calibration, heldout = shipped
    layers = quantize_autoencoder(state, autoencoder.LAYER_NAMES, calibration, per_channel)
    codes = integer_chain(layers, heldout)
    assert [c.dtype for c in codes] == [np.uint8] * 6 and codes[-1].shape == heldout.shape
    reconstruction = reconstruct_w8a8(layers, heldout)
    np.testing.assert_allclose(reconstruction, 1 / (1 + np.exp(-dequantize_output(layers[-1], codes[-1]))), rtol=1e-6)
    float_mse = mse(heldout, autoencoder.reconstruct(state, heldout))
    assert abs(mse(heldout, reconstruction) - float_mse) < 0.05 * float_mse


def test_bias_is_stored_at_the_accumulator_scale():
    weight, bias, _, input_range, output_range = _random_layer(4)
    layer = quantize_layer(weight, bias, input_range, output_range, per_channel=True)
    np.testing.assert_allclose(layer.bias * layer.accumulator_scale, bias, atol=float(layer.accumulator_scale.max()) / 2)
    assert layer.bias.dtype == np.int32 and layer.weight.dtype == np.int8


@pytest.mark.parametrize("per_channel", [False, True])
def test_accumulator_scale_has_one_entry_per_output(per_channel):
    weight, bias, _, input_range, output_range = _random_layer(6)
    layer = quantize_layer(weight, bias, input_range, output_range, per_channel)
    assert layer.weight_scale.shape == ((200, 1) if per_channel else (1, 1))
    np.testing.assert_array_equal(layer.accumulator_scale, np.float32(layer.input_scale) * layer.weight_scale[:, 0] * np.ones(200, np.float32))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda layer: quantize_layer(np.ones((2, 3)), np.ones(3), (0, 1), (0, 1)), "bias"),
        (lambda layer: accumulate(layer, np.zeros((1, 5), dtype=np.uint8)), "x_codes"),
        (lambda layer: accumulate(layer, np.zeros((1, 300), dtype=np.int16)), "x_codes"),
        (lambda layer: integer_chain([layer, layer], np.zeros((1, 300))), "chain"),
        (lambda layer: quantize_autoencoder({}, ["fc1"], {}), "calibration_inputs"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    weight, bias, _, input_range, output_range = _random_layer(5)
    layer = quantize_layer(weight, bias, input_range, output_range)
    with pytest.raises(ValueError, match=message):
        call(layer)
