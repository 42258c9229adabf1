"""The shipped models' fully connected layers quantized by every method of core.quantize.layer_methods, on their real
activations: per layer the weight and output errors, and per method the whole model's held-out score
against bits per weight.

Each layer is calibrated on the activations that enter it when the float model reads the 4,500
training digits, and measured on those of the 500 held-out digits. Every layer of a model is then
quantized by the same method at the same bits and the model is scored on the held-out digits
(biases stay float32 and are not counted in bits per weight).

`python -m core.models.output_aware` recomputes everything and writes STUDY_PATH, which the page
reads so that its first view needs no computation (30 minutes at a load average of ~15 on 2 cores).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch

from core.measure.reconstruction import mse
from core.models import autoencoder, classifiers
from core.models.mnist import load_split
from core.quantize.layer_methods import METHODS, compare_methods, condition_number_2, measure
from core.quantize.pq import OBJECTIVES, pq_bits_per_weight, product_quantize

STUDY_PATH = Path(__file__).resolve().parents[2] / "models" / "output_aware.json"
BIT_WIDTHS = (1, 2, 3, 4)


def study(
    weights: Mapping[str, np.ndarray],
    fit_inputs: Mapping[str, np.ndarray],
    test_inputs: Mapping[str, np.ndarray],
    score: Callable[[dict[str, np.ndarray]], float],
    bit_widths: tuple[int, ...] = BIT_WIDTHS,
    progress: Callable[[float, str], None] | None = None,
) -> dict:
    """Every layer {name: W (out, in)} by every method at each of bit_widths, with its inputs {name: (n, in)};
    `score` maps {name: Ŵ} to the model's held-out score. Returns a JSON-ready dict:
    {"layers": {name: {"shape", "condition", "rows": {bits: [compare_methods row without Ŵ]}}},
     "effect": {method: {"bits_per_weight": [...], "score": [...]}}} in bit_widths order."""
    report = progress or (lambda fraction, text: None)
    layers = {name: {"shape": list(W.shape), "condition": condition_number_2(W), "rows": {}} for name, W in weights.items()}
    effect = {method: {"bits_per_weight": [], "score": []} for method in METHODS}
    steps = len(bit_widths) * len(weights)
    for b_index, bits in enumerate(bit_widths):
        quantized: dict[str, dict[str, np.ndarray]] = {method: {} for method in METHODS}
        for l_index, (name, W) in enumerate(weights.items()):
            done = b_index * len(weights) + l_index

            def step(fraction: float, text: str, done: int = done, name: str = name, bits: int = bits) -> None:
                report((done + fraction) / steps, f"{bits} bits, {name}: {text}")

            rows = compare_methods(W, fit_inputs[name], test_inputs[name], bits, progress=step)
            for row in rows:
                quantized[row["method"]][name] = row.pop("quantized")
            layers[name]["rows"][str(bits)] = rows
        sizes = {name: np.size(W) for name, W in weights.items()}
        for method in METHODS:
            storage = sum(
                row["bits_per_weight"] * sizes[name]
                for name in weights
                for row in layers[name]["rows"][str(bits)]
                if row["method"] == method
            )
            effect[method]["bits_per_weight"].append(storage / sum(sizes.values()))
            effect[method]["score"].append(float(score(quantized[method])))
    report(1.0, "done")
    return {"layers": layers, "effect": effect}


def autoencoder_study(
    state_dict: Mapping[str, np.ndarray],
    train_images: np.ndarray,
    heldout_images: np.ndarray,
    bit_widths: tuple[int, ...] = BIT_WIDTHS,
    progress: Callable[[float, str], None] | None = None,
) -> dict:
    """study() of the autoencoder's five layers, scored by held-out reconstruction MSE; adds
    "score_name" and "float_score" (the float model's MSE)."""
    state = dict(state_dict)

    def heldout_mse(quantized: dict[str, np.ndarray]) -> float:
        replaced = state | {f"{name}.weight": W_hat for name, W_hat in quantized.items()}
        return mse(heldout_images, autoencoder.reconstruct(replaced, heldout_images))

    result = study(
        autoencoder.weights_of(state),
        autoencoder.layer_inputs(state, train_images),
        autoencoder.layer_inputs(state, heldout_images),
        heldout_mse,
        bit_widths,
        progress,
    )
    return result | {"score_name": "held-out MSE", "float_score": heldout_mse({})}


def linear_layer_inputs(network: torch.nn.Module, layers: tuple[str, ...], images: np.ndarray) -> dict[str, np.ndarray]:
    """The activations entering each of the named Linear children of `network` on images (n, 784):
    {layer: (n, in) float32}, caught by forward pre-hooks."""
    caught: dict[str, np.ndarray] = {}
    modules = dict(network.named_children())
    hooks = [
        modules[name].register_forward_pre_hook(lambda module, args, name=name: caught.__setitem__(name, args[0].numpy().copy()))
        for name in layers
    ]
    try:
        with torch.no_grad():
            network(torch.from_numpy(classifiers.check_images(images)))
    finally:
        for hook in hooks:
            hook.remove()
    return {name: caught[name] for name in layers}


def classifier_study(
    model: str,
    state_dict: Mapping[str, np.ndarray],
    train_images: np.ndarray,
    heldout_images: np.ndarray,
    heldout_labels: np.ndarray,
    bit_widths: tuple[int, ...] = BIT_WIDTHS,
    progress: Callable[[float, str], None] | None = None,
) -> dict:
    """study() of a classifier's fully connected layers (its convolutions stay float32), scored by held-out
    accuracy; adds "score_name" and "float_score"."""
    state = classifiers.check_state_dict(model, state_dict)
    network = classifiers.build_classifier(model)
    network.load_state_dict({name: torch.from_numpy(array) for name, array in state.items()})
    network.eval()
    layers = fully_connected_layers(model)

    def heldout_accuracy(quantized: dict[str, np.ndarray]) -> float:
        replaced = state | {f"{name}.weight": W_hat for name, W_hat in quantized.items()}
        return classifiers.accuracy(model, replaced, heldout_images, heldout_labels)

    result = study(
        {name: state[f"{name}.weight"] for name in layers},
        linear_layer_inputs(network, layers, train_images),
        linear_layer_inputs(network, layers, heldout_images),
        heldout_accuracy,
        bit_widths,
        progress,
    )
    return result | {"score_name": "held-out accuracy", "float_score": heldout_accuracy({})}


def fully_connected_layers(model: str) -> tuple[str, ...]:
    """The names of a shipped model's fully connected layers ("autoencoder" or a classifiers.MODEL_NAMES entry)."""
    if model == "autoencoder":
        return autoencoder.LAYER_NAMES
    return tuple(name for name in classifiers.LAYER_NAMES[model] if not classifiers.is_convolutional(model, name))


def shipped_layers(model: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A shipped model's fully connected layers: ({layer: W (out, in)}, {layer: its inputs on the 4,500 training
    digits (4500, in)}, {layer: its inputs on the 500 held-out digits (500, in)})."""
    if model not in ("autoencoder", *classifiers.MODEL_NAMES):
        raise ValueError(f"model must be one of autoencoder, {', '.join(classifiers.MODEL_NAMES)}; got {model!r}")
    train_images, _, heldout_images, _ = load_split()
    if model == "autoencoder":
        state = autoencoder.load_state_dict()
        weights = autoencoder.weights_of(state)
        return weights, autoencoder.layer_inputs(state, train_images), autoencoder.layer_inputs(state, heldout_images)
    state = classifiers.load_state_dict(model)
    network = classifiers.load_classifier(model)
    layers = fully_connected_layers(model)
    weights = {name: state[f"{name}.weight"] for name in layers}
    return weights, linear_layer_inputs(network, layers, train_images), linear_layer_inputs(network, layers, heldout_images)


def pq_trial(
    model: str, layer: str, block: int, k: int, iterations: int = 20, progress: Callable[[float, str], None] | None = None
) -> list[dict]:
    """Product quantization of one shipped layer by both objectives at this block and k: two rows as
    compare_methods gives them (without Ŵ), "PQ, weight objective" then "PQ, output objective"."""
    weights, fit, test = shipped_layers(model)
    if layer not in weights:
        raise ValueError(f"layer must be one of {', '.join(weights)}; got {layer!r}")
    report = progress or (lambda fraction, text: None)
    W = weights[layer]
    condition = condition_number_2(W)
    rows = []
    for index, objective in enumerate(OBJECTIVES):
        def step(fraction: float, text: str, index: int = index, objective: str = objective) -> None:
            report((index + fraction) / len(OBJECTIVES), f"{objective[:-1]} objective: {text}")

        result = product_quantize(W, block, k, objective, fit[layer] if objective == "outputs" else None, iterations, progress=step)
        storage = pq_bits_per_weight(W.shape, block, len(result.codebook))
        row = measure(f"PQ, {objective[:-1]} objective", W, result.weights, storage, fit[layer], test[layer], condition)
        row.pop("quantized")
        rows.append(row)
    report(1.0, "done")
    return rows


def load_study(path: Path = STUDY_PATH) -> dict:
    """The precomputed studies {model name: study dict}, as written by this module's main()."""
    return json.loads(path.read_text())


def _printer(model: str) -> Callable[[float, str], None]:
    return lambda fraction, text: print(f"{fraction:6.1%} {model} {text}", flush=True)


def main() -> None:
    train_images, _, heldout_images, heldout_labels = load_split()
    studies = {
        model: classifier_study(
            model, classifiers.load_state_dict(model), train_images, heldout_images, heldout_labels, progress=_printer(model)
        )
        for model in classifiers.MODEL_NAMES
    }
    studies["autoencoder"] = autoencoder_study(
        autoencoder.load_state_dict(), train_images, heldout_images, progress=_printer("autoencoder")
    )
    STUDY_PATH.write_text(json.dumps(studies, indent=1) + "\n")
    print(f"wrote {STUDY_PATH}")


if __name__ == "__main__":
    main()
