"""core.models.autoencoder: the shipped model, weight sharing of the whole model, export and import."""

import functools
import math

import kmeans1d
import numpy as np
import pytest
import torch
from safetensors.numpy import load as read_safetensors
from safetensors.numpy import save as write_safetensors

from core.measure.reconstruction import mse
from core.models.autoencoder import (
    LAYER_NAMES,
    N_PARAMETERS,
    TENSOR_NAMES,
    TENSOR_SHAPES,
    build_autoencoder,
    export_quantized,
    layer_inputs,
    layer_weights,
    load_autoencoder,
    load_quantized,
    load_state_dict,
    model_card,
    mse_by_bits,
    quantize_model,
    reconstruct,
)
from core.models.mnist import load_split
from core.quantize.linear import fake_quantize

FLOAT32_BYTES = 4 * 2_148_832


@pytest.fixture(scope="module")
def state():
    return load_state_dict()


@pytest.fixture(scope="module")
def heldout():
    return load_split()[2]


@pytest.fixture(scope="module")
def float_mse(heldout):
    model = load_autoencoder()
    with torch.no_grad():
        return torch.nn.functional.mse_loss(model(torch.from_numpy(heldout)), torch.from_numpy(heldout)).item()


@pytest.fixture(scope="module")
def shared(state):
    """quantize_model on the shipped weights, computed once per (bits, method) for the whole module."""
    return functools.cache(lambda bits, method="kmeans": quantize_model(state, bits, method))


@pytest.fixture(scope="module")
def curves(shared, heldout):
    return {
        method: np.array([mse(heldout, reconstruct(shared(bits, method).state_dict, heldout)) for bits in range(1, 9)])
        for method in ("kmeans", "linear")
    }


def numpy_forward(state, images):
    """Independent reference: the article's layers written out by hand."""
    x = images.astype(np.float64)
    for index, layer in enumerate(LAYER_NAMES):
        x = x @ state[f"{layer}.weight"].T.astype(np.float64) + state[f"{layer}.bias"]
        x = 1 / (1 + np.exp(-x)) if index == len(LAYER_NAMES) - 1 else np.maximum(x, 0)
    return x


def test_architecture_is_the_articles():
    model = build_autoencoder()
    assert sum(parameter.numel() for parameter in model.parameters()) == N_PARAMETERS == 2_148_832
    linears = [module for module in model if isinstance(module, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 1000), (1000, 256), (256, 256), (256, 1000), (1000, 784)]
    activations = [type(module) for module in model if not isinstance(module, torch.nn.Linear)]
    assert activations == [torch.nn.ReLU] * 4 + [torch.nn.Sigmoid]
    assert {name: tuple(p.shape) for name, p in model.state_dict().items()} == TENSOR_SHAPES


def test_shipped_model_reaches_the_bar_on_the_heldout_digits(float_mse):
    assert float_mse <= 0.011


def test_model_card_matches_the_shipped_weights(float_mse):
    card = model_card()
    assert card["parameters"] == N_PARAMETERS
    assert card["heldout_mse"] == pytest.approx(float_mse, abs=2e-5)
    assert card["training"]["epochs"] == len(card["heldout_mse_per_epoch"]) >= 30


def test_reconstruct_matches_a_numpy_forward_pass(state, heldout):
    ours = reconstruct(state, heldout[:50])
    assert ours.shape == (50, 784) and ours.dtype == np.float32
    assert np.allclose(ours, numpy_forward(state, heldout[:50]), atol=1e-5)
    assert np.allclose(reconstruct(state, heldout[0]), ours[:1])


def test_layer_inputs_are_the_activations_between_layers(state, heldout):
    inputs = layer_inputs(state, heldout[:20])
    assert list(inputs) == list(LAYER_NAMES)
    assert np.array_equal(inputs["fc1"], heldout[:20])
    expected = np.maximum(heldout[:20] @ state["fc1.weight"].T + state["fc1.bias"], 0)
    assert np.allclose(inputs["fc2"], expected, atol=1e-5)
    assert [a.shape[1] for a in inputs.values()] == [784, 1000, 256, 256, 1000]


def test_layer_weights_are_the_shipped_matrices(state):
    weights = layer_weights()
    assert list(weights) == list(LAYER_NAMES)
    assert all(np.array_equal(weights[layer], state[f"{layer}.weight"]) for layer in LAYER_NAMES)


def test_eight_bits_is_within_two_percent_of_float(curves, float_mse):
    assert curves["kmeans"][7] <= 1.02 * float_mse


def test_kmeans_holds_to_fewer_bits_than_linear(curves, float_mse):
    # measured on the shipped model: 4 bits 1.14x float, 5 bits 1.03x (linear: 1.29x, 1.06x)
    assert curves["kmeans"][3] <= 1.15 * float_mse
    assert curves["kmeans"][4] <= 1.05 * float_mse
    assert all(curves["kmeans"][:5] < curves["linear"][:5])


@pytest.mark.parametrize("method", ["kmeans", "linear"])
def test_heldout_error_does_not_grow_with_bits(curves, method):
    curve = curves[method]
    assert all(more <= fewer * 1.02 for fewer, more in zip(curve, curve[1:])), curve
    assert curve[0] > 2 * curve[7]


def test_one_bit_model_gives_every_input_the_same_blob(shared, heldout):
    outputs = reconstruct(shared(1).state_dict, heldout[:100])
    spread = np.mean((outputs - outputs.mean(axis=0)) ** 2)
    assert spread < 0.05 * mse(heldout[:100], outputs)  # the outputs differ far less from each other than from the inputs


@pytest.mark.parametrize("method", ["kmeans", "linear"])
@pytest.mark.parametrize("bits", [1, 3, 8])
def test_every_tensor_shares_at_most_two_to_the_bits_values_nearest_first(state, shared, method, bits):
    quantized = shared(bits, method)
    for name in TENSOR_NAMES:
        codebook, indices = quantized.codebooks[name], quantized.indices[name]
        assert codebook.dtype == np.float32 and len(codebook) <= 2**bits
        assert indices.dtype == np.uint8 and indices.shape == TENSOR_SHAPES[name]
        assert np.array_equal(quantized.state_dict[name], codebook[indices])
    # brute force: every value of a whole layer goes to its nearest shared value
    values, codebook = state["fc3.weight"].ravel()[::4], quantized.codebooks["fc3.weight"]
    nearest = np.abs(values[:, None] - codebook[None, :]).min(axis=1)
    assert np.allclose(np.abs(values - quantized.state_dict["fc3.weight"].ravel()[::4]), nearest, atol=1e-6)


def test_linear_method_is_the_shared_min_max_quantization(state, shared):
    quantized = shared(5, "linear")
    for name in TENSOR_NAMES:
        assert np.array_equal(quantized.state_dict[name], fake_quantize(state[name], 5, symmetric=False))


@pytest.mark.parametrize("name", ["fc1.bias", "fc3.bias", "fc5.bias"])
def test_kmeans_codebooks_are_near_optimal(state, shared, name):
    values = state[name].astype(np.float64)
    quantized = shared(3)
    sse = float(((values - quantized.state_dict[name]) ** 2).sum())
    clusters, centroids = kmeans1d.cluster(values, 8)
    optimal = float(((values - np.asarray(centroids)[clusters]) ** 2).sum())
    assert sse <= 1.05 * optimal


def test_storage_is_packed_indices_plus_codebooks_in_bytes(state, shared):
    # 2,148,832 values at 4 bits = 1,074,416 bytes, plus 10 codebooks of 16 float32 values = 640 bytes
    assert shared(4).storage_bytes == 1_074_416 + 10 * 16 * 4
    # linear: 4-bit codes plus a float32 scale and a 4-bit zero point (5 whole bytes) per tensor
    assert shared(4, "linear").storage_bytes == 1_074_416 + 10 * math.ceil((32 + 4) / 8)
    one_layer = quantize_model(state, {"fc3": 2})
    fc3_values = 256 * 256 + 256
    assert one_layer.storage_bytes == FLOAT32_BYTES - 4 * fc3_values + (256 * 256 // 4 + 4 * 4) + (256 // 4 + 4 * 4)


def test_per_layer_bits_leave_other_layers_float(state):
    quantized = quantize_model(state, {"fc3": 2, "fc5": None})
    assert quantized.bits == {"fc1": None, "fc2": None, "fc3": 2, "fc4": None, "fc5": None}
    assert set(quantized.codebooks) == {"fc3.weight", "fc3.bias"}
    for name in TENSOR_NAMES:
        if not name.startswith("fc3"):
            assert np.array_equal(quantized.state_dict[name], state[name])
    assert len(np.unique(quantized.state_dict["fc3.weight"])) <= 4
    # float layers are the caller's arrays, not copies
    assert all(quantized.float_tensors[name] is state[name] for name in quantized.float_tensors)


def test_a_kept_model_holds_its_indices_not_a_float_copy(state, shared):
    # the Autoencoder page keeps up to 24 quantized models: each must cost ~1 byte per weight, not 5
    quantized = shared(4, "kmeans")
    fields = vars(quantized).values()
    held = [a for v in fields for a in (v.values() if isinstance(v, dict) else [v]) if isinstance(a, np.ndarray)]
    float_bytes = sum(state[name].nbytes for name in TENSOR_NAMES)
    assert sum(array.nbytes for array in held) < 0.26 * float_bytes


@pytest.mark.parametrize("bits", [{"fc1": 3}, 2])
def test_export_round_trips_exactly(state, bits):
    quantized = quantize_model(state, bits)
    data = export_quantized(quantized)
    back = load_quantized(data)
    assert list(back) == list(TENSOR_NAMES)
    assert all(np.array_equal(back[name], quantized.state_dict[name]) for name in TENSOR_NAMES)
    stored = read_safetensors(data)
    for name in quantized.indices:
        assert stored[f"{name}.indices"].dtype == np.uint8 and stored[f"{name}.codebook"].dtype == np.float32
    payload = sum(
        quantized.indices[name].size + 4 * quantized.codebooks[name].size if name in quantized.indices else 4 * state[name].size
        for name in TENSOR_NAMES
    )
    assert payload <= len(data) <= payload + 4096  # one byte per index, four per float, plus the JSON header


def test_loading_bad_files_raises_value_errors(state):
    with pytest.raises(ValueError, match="safetensors"):
        load_quantized(b"not a safetensors file")
    tensors = read_safetensors(export_quantized(quantize_model(state, {"fc1": 2})))
    broken = dict(tensors, **{"fc1.bias.indices": np.full(1000, 7, np.uint8)})
    with pytest.raises(ValueError, match="fc1.bias.indices must be below the codebook size"):
        load_quantized(write_safetensors(broken))
    del tensors["fc2.weight"]
    with pytest.raises(ValueError, match="fc2.weight"):
        load_quantized(write_safetensors(tensors))


@pytest.mark.parametrize(
    "bits, method, message",
    [
        (0, "kmeans", "bits must be from 1 to 8; got 0"),
        (9, "kmeans", "bits must be from 1 to 8; got 9"),
        ("4", "kmeans", "bits must be an integer"),
        ({"fc9": 2}, "kmeans", "'fc9'"),
        ({"fc1": 12}, "kmeans", r"bits\['fc1'\] must be from 1 to 8; got 12"),
        (4, "huffman", "method must be one of kmeans, linear; got 'huffman'"),
    ],
)
def test_bad_arguments_raise_value_errors(state, bits, method, message):
    with pytest.raises(ValueError, match=message):
        quantize_model(state, bits, method)


def test_bad_state_dicts_and_images_raise_value_errors(state, heldout):
    with pytest.raises(ValueError, match="missing fc5.bias"):
        quantize_model({k: v for k, v in state.items() if k != "fc5.bias"}, 4)
    with pytest.raises(ValueError, match=r"state_dict\['fc1.weight'\] must have shape \(1000, 784\)"):
        reconstruct(dict(state, **{"fc1.weight": state["fc1.weight"].T}), heldout[:2])
    with pytest.raises(ValueError, match=r"images must have shape \(n, 784\)"):
        reconstruct(state, heldout[:2, :100])
    with pytest.raises(ValueError, match="finite"):
        reconstruct(state, np.full((1, 784), np.nan))


def test_torch_state_dicts_are_accepted(state, shared, heldout):
    tensors = {name: torch.from_numpy(array) for name, array in state.items()}
    assert np.array_equal(reconstruct(tensors, heldout[:3]), reconstruct(state, heldout[:3]))
    from_torch = quantize_model(tensors, 2).state_dict
    assert all(np.array_equal(from_torch[name], shared(2).state_dict[name]) for name in TENSOR_NAMES)


def test_mse_by_bits_measures_each_width(state, shared, heldout):
    expected = [mse(heldout[:50], reconstruct(shared(bits, "linear").state_dict, heldout[:50])) for bits in (2, 5)]
    assert np.allclose(mse_by_bits(state, heldout[:50], (2, 5), "linear"), expected)
