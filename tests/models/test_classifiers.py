"""The shipped classifiers: parameter counts from the paper, held-out accuracy as the model card says, and a
functional forward that agrees with torch's own modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.models import classifiers
from core.models.mnist import load_split


@pytest.fixture(scope="module")
def heldout() -> tuple[np.ndarray, np.ndarray]:
    _, _, images, labels = load_split()
    return images, labels


def test_parameter_counts_match_the_paper() -> None:
    # Han et al. 2016, Table 1: LeNet-300-100 has 267K parameters, LeNet-5 431K; the exact counts:
    # 784*300+300 + 300*100+100 + 100*10+10 and 20*25+20 + 50*20*25+50 + 800*500+500 + 500*10+10.
    assert classifiers.N_PARAMETERS == {"lenet_300_100": 266_610, "lenet5": 431_080}
    for model in classifiers.MODEL_NAMES:
        network = classifiers.build_classifier(model)
        assert sum(parameter.numel() for parameter in network.parameters()) == classifiers.N_PARAMETERS[model]


@pytest.mark.parametrize("model", classifiers.MODEL_NAMES)
def test_shipped_weights_have_the_declared_shapes_and_count(model: str) -> None:
    state = classifiers.load_state_dict(model)
    assert {name: array.shape for name, array in state.items()} == classifiers.TENSOR_SHAPES[model]
    assert sum(array.size for array in state.values()) == classifiers.N_PARAMETERS[model]
    assert all(array.dtype == np.float32 for array in state.values())


@pytest.mark.parametrize(("model", "floor"), [("lenet_300_100", 0.96), ("lenet5", 0.975)])
def test_shipped_models_classify_held_out_digits(model: str, floor: float, heldout) -> None:
    images, labels = heldout
    measured = classifiers.accuracy(model, classifiers.load_state_dict(model), images, labels)
    assert measured >= floor
    assert measured == pytest.approx(classifiers.model_card(model)["heldout_accuracy"], abs=1e-4)
    assert classifiers.model_card(model)["parameters"] == classifiers.N_PARAMETERS[model]


@pytest.mark.parametrize("model", classifiers.MODEL_NAMES)
def test_functional_logits_equal_the_torch_module(model: str, heldout) -> None:
    images = heldout[0][:50]
    expected = classifiers.load_classifier(model)(torch.from_numpy(images)).detach().numpy()
    np.testing.assert_allclose(classifiers.logits(model, classifiers.load_state_dict(model), images), expected, rtol=1e-5, atol=1e-5)


def test_conv_layers_are_the_4d_ones() -> None:
    assert [classifiers.is_convolutional("lenet5", layer) for layer in classifiers.LAYER_NAMES["lenet5"]] == [True, True, False, False]
    assert not any(classifiers.is_convolutional("lenet_300_100", layer) for layer in classifiers.LAYER_NAMES["lenet_300_100"])


def test_bad_input_names_what_is_accepted() -> None:
    state = classifiers.load_state_dict("lenet_300_100")
    with pytest.raises(ValueError, match="model must be one of"):
        classifiers.load_state_dict("alexnet")
    with pytest.raises(ValueError, match="missing ip3.bias"):
        classifiers.logits("lenet_300_100", {k: v for k, v in state.items() if k != "ip3.bias"}, np.zeros(784))
    with pytest.raises(ValueError, match=r"must have shape \(300, 784\)"):
        classifiers.logits("lenet_300_100", {**state, "ip1.weight": np.zeros((784, 300))}, np.zeros(784))
    with pytest.raises(ValueError, match="images must have shape"):
        classifiers.logits("lenet_300_100", state, np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="one label per image"):
        classifiers.accuracy("lenet_300_100", state, np.zeros((3, 784)), np.zeros(2))
