"""The article's MNIST autoencoder (784-1000-256-256-1000-784), its shipped weights, and the
whole model quantized per tensor (k-means weight sharing, or linear min–max as the baseline),
with export to / import from safetensors."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load as load_safetensors_bytes
from safetensors.numpy import save as save_safetensors_bytes
from safetensors.torch import load_file

from core.checks import bits as check_bits
from core.checks import finite_array
from core.measure.reconstruction import mse
from core.measure.sizes import float_bytes, linear_bytes, shared_bytes
from core.models.state_dicts import checked_state_dict
from core.quantize.kmeans import kmeans_1d
from core.quantize.linear import choose_qparams, dequantize, quantize

MODEL_PATH = Path(__file__).resolve().parents[2] / "models" / "autoencoder.safetensors"
"""The shipped float32 weights, trained by `python -m core.models.train_autoencoder`."""
MODEL_CARD_PATH = MODEL_PATH.with_suffix(".json")
LAYER_SIZES = (784, 1000, 256, 256, 1000, 784)
"""Widths from the input through the four hidden layers to the output."""
LAYER_NAMES = ("fc1", "fc2", "fc3", "fc4", "fc5")
"""The five Linear layers in order; their tensors are "<name>.weight" (out, in) and "<name>.bias" (out,)."""
TENSOR_SHAPES = {
    name: shape
    for layer, n_in, n_out in zip(LAYER_NAMES, LAYER_SIZES, LAYER_SIZES[1:])
    for name, shape in ((f"{layer}.weight", (n_out, n_in)), (f"{layer}.bias", (n_out,)))
}
"""Shape of every tensor, in state-dict order."""
TENSOR_NAMES = tuple(TENSOR_SHAPES)
N_PARAMETERS = sum(n_in * n_out + n_out for n_in, n_out in zip(LAYER_SIZES, LAYER_SIZES[1:]))
"""2,148,832 weights and biases."""
METHODS = ("kmeans", "linear")
_FORMAT = "quantization-explorer/shared-weights-v1"


def build_autoencoder() -> torch.nn.Sequential:
    """A freshly initialised autoencoder: Linear+ReLU x4, then Linear+Sigmoid; maps (n, 784) in [0, 1] to (n, 784) in (0, 1)."""
    modules: OrderedDict[str, torch.nn.Module] = OrderedDict()
    for index, (name, n_in, n_out) in enumerate(zip(LAYER_NAMES, LAYER_SIZES, LAYER_SIZES[1:])):
        modules[name] = torch.nn.Linear(n_in, n_out)
        last = index == len(LAYER_NAMES) - 1
        modules[f"act{index + 1}"] = torch.nn.Sigmoid() if last else torch.nn.ReLU()
    return torch.nn.Sequential(modules)


with torch.device("meta"):  # no memory and no draw from torch's random generator at import
    _ARCHITECTURE = build_autoencoder().eval()
"""The layer order and activations; its Linear layers are never called (they hold no data)."""


def load_state_dict(path: Path | str = MODEL_PATH) -> dict[str, np.ndarray]:
    """The weights in a safetensors file as {tensor name: float32 array}, in TENSOR_NAMES order."""
    tensors = load_file(str(path))
    return {name: tensors[name].numpy() for name in TENSOR_NAMES}


def load_autoencoder(path: Path | str = MODEL_PATH) -> torch.nn.Sequential:
    """The autoencoder with the shipped (or given safetensors) weights, in eval mode."""
    model = build_autoencoder()
    model.load_state_dict({name: torch.from_numpy(array) for name, array in load_state_dict(path).items()})
    return model.eval()


def layer_weights(path: Path | str = MODEL_PATH) -> dict[str, np.ndarray]:
    """The weight matrix of each layer, {"fc1": (1000, 784), …, "fc5": (784, 1000)} float32."""
    return weights_of(load_state_dict(path))


def weights_of(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The weight matrices {"fc1": …, "fc5": …} of a state dict {"fc1.weight": …, "fc1.bias": …, …}."""
    return {layer: state_dict[f"{layer}.weight"] for layer in LAYER_NAMES}


def model_card() -> dict:
    """The shipped model's card: data, split, epochs, held-out MSE, date, parameter count."""
    return json.loads(MODEL_CARD_PATH.read_text())


def _images(images: object) -> torch.Tensor:
    array = finite_array(images, "images")
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != LAYER_SIZES[0]:
        raise ValueError(f"images must have shape (n, 784) or (784,); got shape {array.shape}")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _state(state_dict: Mapping[str, object]) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(array) for name, array in checked_state_dict(state_dict, TENSOR_SHAPES).items()}


def _forward(state: dict[str, torch.Tensor], inputs: torch.Tensor) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run the architecture with the given tensors; returns the input of each Linear layer and the output."""
    layer_inputs: dict[str, np.ndarray] = {}
    x = inputs
    with torch.no_grad():
        for name, module in _ARCHITECTURE.named_children():
            if name in LAYER_NAMES:
                layer_inputs[name] = x.numpy()
                x = torch.nn.functional.linear(x, state[f"{name}.weight"], state[f"{name}.bias"])
            else:
                x = module(x)
    return layer_inputs, x.numpy()


def reconstruct(state_dict: Mapping[str, object], images: object) -> np.ndarray:
    """Run the autoencoder with the given weights ({tensor name: array}) on images (n, 784) or
    (784,) in [0, 1]; returns the reconstructions (n, 784) float32 in (0, 1)."""
    return _forward(_state(state_dict), _images(images))[1]


def layer_inputs(state_dict: Mapping[str, object], images: object) -> dict[str, np.ndarray]:
    """The activations entering each Linear layer on images (n, 784): {"fc1": (n, 784), "fc2": (n, 1000), …} float32."""
    return _forward(_state(state_dict), _images(images))[0]


@dataclass(frozen=True)
class QuantizedModel:
    """The autoencoder after weight sharing: what it computes with and what it stores."""

    indices: dict[str, np.ndarray]
    """Per quantized tensor, each value's codebook index (uint8, shape of the tensor)."""
    codebooks: dict[str, np.ndarray]
    """Per quantized tensor, its shared values (float32, at most 2^bits of them)."""
    bits: dict[str, int | None]
    """Bits per layer (None: kept as float32)."""
    method: str
    """"kmeans" (1-D k-means per tensor) or "linear" (min–max affine per tensor, core.quantize.linear)."""
    storage_bytes: int
    """Real bytes of the model as stored by the method (core.measure.sizes): packed bits-wide indices plus the
    codebook (kmeans) or plus a scale and zero point (linear) per tensor; float32 layers at 4 bytes a value."""
    float_tensors: dict[str, np.ndarray]
    """The tensors of layers kept as float32 (bits None), as given."""

    @property
    def state_dict(self) -> dict[str, np.ndarray]:
        """Dequantized weights, {tensor name: float32 array} for every name in TENSOR_NAMES, built on each
        access (~4 ms) so that a kept model holds 1-byte indices, not a float32 copy 4x their size."""
        return {
            name: self.codebooks[name][self.indices[name]] if name in self.indices else self.float_tensors[name]
            for name in TENSOR_NAMES
        }


def _layer_bits(bits: int | Mapping[str, int | None]) -> dict[str, int | None]:
    if not isinstance(bits, Mapping):
        return {layer: check_bits(bits) for layer in LAYER_NAMES}
    unknown = sorted(set(bits) - set(LAYER_NAMES))
    if unknown:
        raise ValueError(f"bits must map layer names {', '.join(LAYER_NAMES)} to 1…8 or None; got layer {unknown[0]!r}")
    return {
        layer: None if bits.get(layer) is None else check_bits(bits[layer], f"bits[{layer!r}]") for layer in LAYER_NAMES
    }


def _share(values: np.ndarray, bits: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Share one tensor's values among at most 2^bits float32 values: (codebook (k',) float32, indices uint8 of
    values' shape). kmeans: 1-D k-means (fast); linear: the 2^bits levels of min–max affine quantization."""
    if method == "kmeans":
        centroids, labels = kmeans_1d(values, 2**bits, method="fast")
        return centroids.astype(np.float32), labels.astype(np.uint8, copy=False)
    scale, zero_point = choose_qparams(values, bits, symmetric=False)
    codes = quantize(values, scale, zero_point, bits, symmetric=False)
    return dequantize(np.arange(2**bits), scale.reshape(1), zero_point.reshape(1)), codes.astype(np.uint8)


def quantize_model(
    state_dict: Mapping[str, object], bits: int | Mapping[str, int | None], method: str = "kmeans"
) -> QuantizedModel:
    """Quantize every tensor (weights and biases) with its own codebook of at most 2^bits values.

    bits: one width 1…8 for all layers, or {layer: 1…8 or None (float32)} for some of LAYER_NAMES
    (missing layers stay float32). method: "kmeans" or "linear".

    >>> quantized = quantize_model(load_state_dict(), 4)
    >>> quantized.storage_bytes  # vs 8,595,328 bytes in float32
    1075056
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    layer_bits = _layer_bits(bits)
    tensors = checked_state_dict(state_dict, TENSOR_SHAPES)
    float_tensors, indices, codebooks, storage = {}, {}, {}, 0
    for name, values in tensors.items():
        width = layer_bits[name.split(".")[0]]
        if width is None:
            float_tensors[name] = values
            storage += float_bytes(values.size)
            continue
        codebooks[name], indices[name] = _share(values, width, method)
        storage += (
            shared_bytes(values.size, len(codebooks[name])) if method == "kmeans" else linear_bytes(values.size, width)
        )
    return QuantizedModel(indices, codebooks, layer_bits, method, storage, float_tensors)


def mse_by_bits(
    state_dict: Mapping[str, object], images: object, bit_widths: tuple[int, ...] = tuple(range(1, 9)), method: str = "kmeans"
) -> np.ndarray:
    """Reconstruction MSE on images (n, 784) of the model quantized to each of bit_widths; float64 (len(bit_widths),)."""
    return np.array([mse(images, reconstruct(quantize_model(state_dict, width, method).state_dict, images)) for width in bit_widths])


def export_quantized(model: QuantizedModel) -> bytes:
    """The quantized model as safetensors bytes: per quantized tensor "<name>.indices" (uint8) and
    "<name>.codebook" (float32), per float32 tensor "<name>"; read back with `load_quantized`."""
    tensors: dict[str, np.ndarray] = {}
    for name in TENSOR_NAMES:
        if name in model.indices:
            tensors[f"{name}.indices"] = np.ascontiguousarray(model.indices[name])
            tensors[f"{name}.codebook"] = np.ascontiguousarray(model.codebooks[name], dtype=np.float32)
        else:
            tensors[name] = np.ascontiguousarray(model.float_tensors[name], dtype=np.float32)
    metadata = {"format": _FORMAT, "method": model.method, "bits": json.dumps(model.bits)}
    return save_safetensors_bytes(tensors, metadata=metadata)


def load_quantized(data: bytes) -> dict[str, np.ndarray]:
    """Read bytes written by `export_quantized` back into a dequantized state dict {tensor name: float32 array}."""
    try:
        tensors = load_safetensors_bytes(bytes(data))
    except Exception as error:  # safetensors raises its own error types for malformed headers
        raise ValueError(f"data must be a safetensors file written by export_quantized; could not read it ({error})") from error
    state: dict[str, np.ndarray] = {}
    for name in TENSOR_NAMES:
        if f"{name}.indices" in tensors and f"{name}.codebook" in tensors:
            indices, codebook = tensors[f"{name}.indices"], tensors[f"{name}.codebook"]
            if indices.dtype != np.uint8 or codebook.dtype != np.float32 or codebook.ndim != 1:
                raise ValueError(f"{name} must have uint8 indices and a 1-D float32 codebook; got {indices.dtype}, {codebook.dtype}")
            if indices.size and int(indices.max()) >= codebook.size:
                raise ValueError(f"{name}.indices must be below the codebook size {codebook.size}; got {int(indices.max())}")
            state[name] = codebook[indices]
        elif name in tensors:
            state[name] = tensors[name].astype(np.float32, copy=False)
        else:
            raise ValueError(f"data must hold {name} (as {name}.indices + {name}.codebook, or float32); it is missing")
        if state[name].shape != TENSOR_SHAPES[name]:
            raise ValueError(f"{name} must have shape {TENSOR_SHAPES[name]}; got {state[name].shape}")
    return state
