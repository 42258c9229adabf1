"""The pipeline end to end without retraining (retraining is the scripts' job): real file lengths per stage,
the final file decoding to the weights it was scored with, the edges of the settings, and the shipped files
meeting the issue's targets."""

from __future__ import annotations

import numpy as np
import pytest

from core.compress.dcfile import load_compressed, save_compressed
from core.compress.networks import network
from core.compress.pipeline import STAGES, Settings, compress
from core.compress.shipped import SHIPPED_MODELS, dc_path, load_results

LAYERS = ("ip1", "ip2", "ip3")


def _settings(kept=(0.08, 0.09, 0.26), weight_bits=(6, 6, 6), index_bits=(5, 5, 5), **kwargs) -> Settings:
    return Settings(dict(zip(LAYERS, kept)), dict(zip(LAYERS, weight_bits)), dict(zip(LAYERS, index_bits)), retrain_epochs=0, finetune=False, **kwargs)


@pytest.fixture(scope="module")
def result():
    return compress("lenet_300_100", _settings())


def test_stages_are_real_files_that_shrink(result) -> None:
    assert [stage.name for stage in result.stages] == list(STAGES)
    net = network("lenet_300_100")
    assert result.stages[0].bytes == len(save_compressed("lenet_300_100", net.load_state_dict()))
    assert result.stages[-1].bytes == len(result.file)
    sizes = [stage.bytes for stage in result.stages]
    assert sizes[1] < sizes[0] and sizes[2] < sizes[1] and sizes[3] == sizes[2] and sizes[4] < sizes[3]
    # Without fine-tuning the codebooks, the fine-tuned stage is the shared stage.
    assert result.stages[3].score == result.stages[2].score


def test_the_final_score_is_that_of_the_decoded_file(result) -> None:
    net = network("lenet_300_100")
    _, _, inputs, targets = net.data()
    state = load_compressed(result.file)
    assert net.score(state, inputs, targets) == result.stages[-1].score
    kept = {layer: np.count_nonzero(state[f"{layer}.weight"]) / state[f"{layer}.weight"].size for layer in LAYERS}
    assert kept == pytest.approx({"ip1": 0.08, "ip2": 0.09, "ip3": 0.26}, abs=1e-3)
    assert all(np.unique(state[f"{layer}.weight"]).size <= 64 for layer in LAYERS)  # 63 shared values and 0


def test_layer_table_adds_up_to_the_file(result) -> None:
    assert sum(row["bytes"] for row in result.layers) < len(result.file)  # plus the header
    assert sum(row["share"] for row in result.layers) == pytest.approx(1.0, abs=0.05)
    ip1 = next(row for row in result.layers if row["layer"] == "ip1")
    assert ip1["weights"] == 235_200 and ip1["entries"] >= round(0.08 * 235_200)
    assert 0 < ip1["weight_bits_huffman"] < 6 and 0 < ip1["index_bits_huffman"] < 5


def test_edges_keep_nothing_keep_everything_one_and_eight_bits() -> None:
    result = compress("lenet_300_100", _settings(kept=(0.0, 1.0, 0.5), weight_bits=(1, 8, 1)))
    state = load_compressed(result.file)
    assert not state["ip1.weight"].any()
    assert np.count_nonzero(state["ip2.weight"]) == 30_000
    assert np.unique(state["ip3.weight"]).size == 2  # one shared value and the zero


def test_bad_settings_name_the_layer_and_the_range() -> None:
    with pytest.raises(ValueError, match=r"kept\['ip1'\]"):
        compress("lenet_300_100", _settings(kept=(1.5, 0.1, 0.1)))
    with pytest.raises(ValueError, match=r"weight_bits\['ip2'\] must be from 1 to 8"):
        compress("lenet_300_100", _settings(weight_bits=(6, 0, 6)))
    with pytest.raises(ValueError, match="kept must give a value for each of ip1, ip2, ip3"):
        compress("lenet_300_100", Settings({"ip1": 0.1}, {}, {}))
    with pytest.raises(ValueError, match="model must be one of"):
        compress("alexnet", _settings())


@pytest.mark.parametrize(("model", "ratio"), [("lenet_300_100", 40), ("lenet5", 39)])
def test_shipped_files_meet_the_size_and_accuracy_targets(model: str, ratio: float) -> None:
    net = network(model)
    _, _, inputs, targets = net.data()
    state = net.load_state_dict()
    data = dc_path(model).read_bytes()
    float_bytes = len(save_compressed(model, state))
    assert len(data) * ratio <= float_bytes
    float_accuracy = net.score(state, inputs, targets)
    decoded_accuracy = net.score(load_compressed(data), inputs, targets)
    assert decoded_accuracy >= float_accuracy - 0.005
    record = load_results(model)
    assert record["stages"][-1]["bytes"] == len(data)
    assert record["stages"][-1]["score"] == decoded_accuracy


def test_shipped_models_are_the_ones_the_page_offers() -> None:
    assert set(SHIPPED_MODELS) == {"lenet_300_100", "lenet5"}


def test_the_autoencoder_compresses_with_mse_as_its_score() -> None:
    layers = network("autoencoder").layer_shapes
    settings = Settings({l: 0.1 for l in layers}, {l: 4 for l in layers}, {l: 5 for l in layers}, retrain_epochs=0, finetune=False)
    result = compress("autoencoder", settings)
    float_mse, decoded_mse = result.stages[0].score, result.stages[-1].score
    assert 0 < float_mse < decoded_mse < 0.2  # pruning 90% without retraining costs reconstruction quality
    assert result.ratio() > 20


def test_layer_table_counts_kept_weights_not_filler_entries(result) -> None:
    state = load_compressed(result.file)
    for row in result.layers:
        nonzero = np.count_nonzero(state[f"{row['layer']}.weight"])
        assert row["kept"] == nonzero <= row["entries"]
    assert any(row["kept"] < row["entries"] for row in result.layers)  # fillers were stored
