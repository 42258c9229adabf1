"""core.models.output_aware: the layers' real inputs, and the committed study against the models and the code."""

import numpy as np
import pytest

from core.models import autoencoder, classifiers
from core.models.mnist import load_split
from core.models.output_aware import BIT_WIDTHS, STUDY_PATH, linear_layer_inputs, load_study
from core.quantize.layer_methods import METHODS, compare_methods


@pytest.fixture(scope="module")
def split():
    return load_split()


@pytest.fixture(scope="module")
def committed():
    return load_study()


def test_linear_layer_inputs_are_the_activations_by_hand(split):
    images = split[2][:20]
    state = classifiers.load_state_dict("lenet_300_100")
    network = classifiers.load_classifier("lenet_300_100")
    caught = linear_layer_inputs(network, ("ip1", "ip2", "ip3"), images)
    hidden1 = np.maximum(images @ state["ip1.weight"].T + state["ip1.bias"], 0)
    hidden2 = np.maximum(hidden1 @ state["ip2.weight"].T + state["ip2.bias"], 0)
    np.testing.assert_allclose(caught["ip1"], images)
    np.testing.assert_allclose(caught["ip2"], hidden1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(caught["ip3"], hidden2, rtol=1e-4, atol=1e-5)


def test_lenet5_convolutions_feed_its_first_fully_connected_layer(split):
    network = classifiers.load_classifier("lenet5")
    caught = linear_layer_inputs(network, ("ip1", "ip2"), split[2][:5])
    assert caught["ip1"].shape == (5, 800) and caught["ip2"].shape == (5, 500) and (caught["ip2"] >= 0).all()


def test_committed_study_holds_every_model_layer_bits_and_method(committed):
    assert set(committed) == {"autoencoder", *classifiers.MODEL_NAMES}
    assert list(committed["autoencoder"]["layers"]) == list(autoencoder.LAYER_NAMES)
    assert list(committed["lenet5"]["layers"]) == ["ip1", "ip2"]
    for study in committed.values():
        for layer in study["layers"].values():
            assert list(layer["rows"]) == [str(bits) for bits in BIT_WIDTHS]
            assert all([row["method"] for row in rows] == list(METHODS) for rows in layer["rows"].values())
        for curve in study["effect"].values():
            assert len(curve["score"]) == len(BIT_WIDTHS)


def test_committed_float_scores_are_the_model_cards(committed):
    assert committed["autoencoder"]["float_score"] == pytest.approx(autoencoder.model_card()["heldout_mse"], rel=1e-3)
    for model in classifiers.MODEL_NAMES:
        assert committed[model]["float_score"] == pytest.approx(classifiers.model_card(model)["heldout_accuracy"], abs=1e-3)


def test_committed_rows_are_what_the_code_computes_today(committed, split):
    """A small layer recomputed: the file is not stale against the quantizers."""
    state = classifiers.load_state_dict("lenet_300_100")
    network = classifiers.load_classifier("lenet_300_100")
    fit = linear_layer_inputs(network, ("ip3",), split[0])["ip3"]
    test = linear_layer_inputs(network, ("ip3",), split[2])["ip3"]
    rows = compare_methods(state["ip3.weight"], fit, test, 2)
    for fresh, stored in zip(rows, committed["lenet_300_100"]["layers"]["ip3"]["rows"]["2"]):
        for key in ("bits_per_weight", "weight_error", "output_error"):
            assert fresh[key] == pytest.approx(stored[key], rel=1e-4), (fresh["method"], key)
    assert STUDY_PATH.stat().st_size < 200_000
