"""The networks the pipeline compresses, behind one interface: their layers, a differentiable forward pass
with any tensors, their training loss and their held-out score (accuracy for the classifiers, MSE for the
autoencoder)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.models import autoencoder, classifiers
from core.models.mnist import load_split

NETWORK_NAMES = ("lenet_300_100", "lenet5", "autoencoder")


@dataclass(frozen=True)
class Network:
    """A network the pipeline can compress."""

    name: str
    title: str
    layer_shapes: dict[str, tuple[int, ...]]
    """Weight shape of each layer (the tensor "<layer>.weight"), in forward order."""
    tensor_shapes: dict[str, tuple[int, ...]]
    """Every tensor's shape, in state-dict order."""
    architecture: torch.nn.Module
    """The module on the meta device: its structure, called with given tensors (torch.func.functional_call)."""
    score_name: str
    """"accuracy" (a fraction, higher is better) or "MSE" (per pixel, lower is better)."""

    @property
    def reconstructs(self) -> bool:
        """True for the autoencoder (the target is the input), False for the classifiers."""
        return self.score_name == "MSE"

    def forward(self, tensors: Mapping[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        """Outputs for inputs (n, 784) with the given tensors; differentiable."""
        return torch.func.functional_call(self.architecture, dict(tensors), (inputs,))

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Training loss: cross-entropy on labels, or MSE per pixel against the target images."""
        return F.mse_loss(outputs, targets) if self.reconstructs else F.cross_entropy(outputs, targets)

    def score(self, state_dict: Mapping[str, np.ndarray], inputs: np.ndarray, targets: np.ndarray) -> float:
        """Held-out score of the weights `state_dict`: accuracy in [0, 1] or MSE per pixel."""
        tensors = {name: torch.from_numpy(np.asarray(state_dict[name], dtype=np.float32)) for name in self.tensor_shapes}
        with torch.no_grad():
            outputs = self.forward(tensors, torch.from_numpy(inputs)).numpy()
        if self.reconstructs:
            return float(np.mean((outputs - targets) ** 2))
        return float(np.mean(outputs.argmax(axis=1) == targets))

    def load_state_dict(self) -> dict[str, np.ndarray]:
        """The shipped float32 weights."""
        if self.name == "autoencoder":
            return autoencoder.load_state_dict()
        return classifiers.load_state_dict(self.name)

    def data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(train inputs (4500, 784), train targets, held-out inputs (500, 784), held-out targets): labels
        (int64) for the classifiers, the images themselves for the autoencoder."""
        train_images, train_labels, heldout_images, heldout_labels = load_split()
        if self.reconstructs:
            return train_images, train_images, heldout_images, heldout_images
        return train_images, train_labels.astype(np.int64), heldout_images, heldout_labels.astype(np.int64)


def _build() -> dict[str, Network]:
    with torch.device("meta"):  # structure only: no memory and no draw from torch's generator at import
        networks = {
            model: Network(
                model,
                classifiers.TITLES[model],
                classifiers.LAYER_SHAPES[model],
                classifiers.TENSOR_SHAPES[model],
                classifiers.build_classifier(model).eval(),
                "accuracy",
            )
            for model in classifiers.MODEL_NAMES
        }
        networks["autoencoder"] = Network(
            "autoencoder",
            "Autoencoder",
            {layer: autoencoder.TENSOR_SHAPES[f"{layer}.weight"] for layer in autoencoder.LAYER_NAMES},
            dict(autoencoder.TENSOR_SHAPES),
            autoencoder.build_autoencoder().eval(),
            "MSE",
        )
    return networks


NETWORKS = _build()


def network(name: str) -> Network:
    """The Network called `name` (one of NETWORK_NAMES), or ValueError."""
    if name not in NETWORKS:
        raise ValueError(f"model must be one of {', '.join(NETWORK_NAMES)}; got {name!r}")
    return NETWORKS[name]
