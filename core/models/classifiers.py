"""The two MNIST classifiers of Deep Compression (Han, Mao, Dally, ICLR 2016), their shipped weights and
their held-out accuracy.

- "lenet_300_100": 784-300-100-10 fully connected, ReLU; layers ip1, ip2, ip3 (266,610 parameters).
- "lenet5": Caffe's LeNet-5 as in the paper: conv1 20x5x5, max pool 2, conv2 50x20x5x5, max pool 2,
  ip1 800->500 (ReLU), ip2 500->10; 431,080 parameters.

Tensors are "<layer>.weight" and "<layer>.bias" (the paper's layer names). Any state dict of the right
shapes runs through `logits`, which is differentiable when given torch tensors (for retraining).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from core.checks import finite_array
from core.models.state_dicts import checked_state_dict

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
MODEL_NAMES = ("lenet_300_100", "lenet5")
"""The classifiers, each shipped as models/<name>.safetensors with a model card models/<name>.json."""
TITLES = {"lenet_300_100": "LeNet-300-100", "lenet5": "LeNet-5"}
LAYER_SHAPES: dict[str, dict[str, tuple[int, ...]]] = {
    "lenet_300_100": {"ip1": (300, 784), "ip2": (100, 300), "ip3": (10, 100)},
    "lenet5": {"conv1": (20, 1, 5, 5), "conv2": (50, 20, 5, 5), "ip1": (500, 800), "ip2": (10, 500)},
}
"""Shape of each layer's weight, layers in forward order (Linear: (out, in); Conv2d: (out, in, kh, kw))."""
LAYER_NAMES = {model: tuple(layers) for model, layers in LAYER_SHAPES.items()}
TENSOR_SHAPES = {
    model: {
        name: shape
        for layer, weight_shape in layers.items()
        for name, shape in ((f"{layer}.weight", weight_shape), (f"{layer}.bias", weight_shape[:1]))
    }
    for model, layers in LAYER_SHAPES.items()
}
"""Shape of every tensor of each model, in state-dict order."""
N_PARAMETERS = {model: sum(int(np.prod(shape)) for shape in shapes.values()) for model, shapes in TENSOR_SHAPES.items()}
"""266,610 (LeNet-300-100) and 431,080 (LeNet-5) weights and biases."""
N_CLASSES = 10


def _model_name(model: str) -> str:
    if model not in MODEL_NAMES:
        raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)}; got {model!r}")
    return model


def model_path(model: str) -> Path:
    """Path of the shipped float32 weights of `model` (trained by `python -m core.models.train_classifiers`)."""
    return MODELS_DIR / f"{_model_name(model)}.safetensors"


def is_convolutional(model: str, layer: str) -> bool:
    """Whether `layer` of `model` is a convolution (its weight is 4-D)."""
    return len(LAYER_SHAPES[_model_name(model)][layer]) == 4


def build_classifier(model: str) -> torch.nn.Sequential:
    """A freshly initialised classifier (torch's default init); its Linear/Conv2d children carry the layer names."""
    modules: OrderedDict[str, torch.nn.Module] = OrderedDict()
    if _model_name(model) == "lenet_300_100":
        modules["ip1"], modules["relu1"] = torch.nn.Linear(784, 300), torch.nn.ReLU()
        modules["ip2"], modules["relu2"] = torch.nn.Linear(300, 100), torch.nn.ReLU()
        modules["ip3"] = torch.nn.Linear(100, 10)
    else:
        modules["unflatten"] = torch.nn.Unflatten(1, (1, 28, 28))
        modules["conv1"], modules["pool1"] = torch.nn.Conv2d(1, 20, 5), torch.nn.MaxPool2d(2)
        modules["conv2"], modules["pool2"] = torch.nn.Conv2d(20, 50, 5), torch.nn.MaxPool2d(2)
        modules["flatten"] = torch.nn.Flatten()
        modules["ip1"], modules["relu1"] = torch.nn.Linear(800, 500), torch.nn.ReLU()
        modules["ip2"] = torch.nn.Linear(500, 10)
    return torch.nn.Sequential(modules)


with torch.device("meta"):  # the layer order only: no memory, no draw from torch's generator at import
    _ARCHITECTURES = {model: build_classifier(model).eval() for model in MODEL_NAMES}


def load_state_dict(model: str, path: Path | str | None = None) -> dict[str, np.ndarray]:
    """The shipped (or given safetensors) weights of `model` as {tensor name: float32 array}, in state-dict order."""
    tensors = load_file(str(model_path(model) if path is None else path))
    return {name: tensors[name].numpy() for name in TENSOR_SHAPES[_model_name(model)]}


def load_classifier(model: str, path: Path | str | None = None) -> torch.nn.Sequential:
    """The classifier with its shipped (or given) weights, in eval mode."""
    network = build_classifier(model)
    network.load_state_dict({name: torch.from_numpy(array) for name, array in load_state_dict(model, path).items()})
    return network.eval()


def model_card(model: str) -> dict:
    """The shipped model's card: data, split, training, held-out accuracy, parameter count."""
    return json.loads(model_path(model).with_suffix(".json").read_text())


def check_state_dict(model: str, state_dict: Mapping[str, object]) -> dict[str, np.ndarray]:
    """The model's tensors from a state dict as finite float32 arrays of the right shapes, or ValueError."""
    return checked_state_dict(state_dict, TENSOR_SHAPES[_model_name(model)])


def check_images(images: object) -> np.ndarray:
    """Digits (n, 784) or (784,) in [0, 1] as float32 (n, 784), or ValueError."""
    array = finite_array(images, "images")
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 784:
        raise ValueError(f"images must have shape (n, 784) or (784,); got shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)


def forward(model: str, tensors: Mapping[str, torch.Tensor], images: torch.Tensor) -> torch.Tensor:
    """Logits (n, 10) of `model` with the given torch tensors on images (n, 784); differentiable, unchecked
    (for training loops; `logits` is the checked entry point)."""
    return torch.func.functional_call(_ARCHITECTURES[model], dict(tensors), (images,))


def logits(model: str, state_dict: Mapping[str, object], images: object, batch_size: int = 1000) -> np.ndarray:
    """Logits (n, 10) float32 of `model` with the weights `state_dict` ({tensor name: array}) on images
    (n, 784) or (784,) in [0, 1]."""
    tensors = {name: torch.from_numpy(array) for name, array in check_state_dict(model, state_dict).items()}
    inputs = torch.from_numpy(check_images(images))
    with torch.no_grad():
        return torch.cat([forward(model, tensors, batch) for batch in inputs.split(batch_size)]).numpy()


def accuracy(model: str, state_dict: Mapping[str, object], images: object, labels: object) -> float:
    """Fraction in [0, 1] of images (n, 784) whose largest logit is their label (n,) (integers 0…9)."""
    targets = finite_array(labels, "labels", ndim=1)
    predictions = logits(model, state_dict, images).argmax(axis=1)
    if targets.shape[0] != predictions.shape[0]:
        raise ValueError(f"labels must hold one label per image ({predictions.shape[0]}); got {targets.shape[0]}")
    return float(np.mean(predictions == targets))
