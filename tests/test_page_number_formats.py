"""AppTest of chapters/number_formats.py: the table's bits and errors, the sentences' numbers, the block inspector
and the outlier story, each checked against numbers computed here from core.quantize.formats and numpy."""

import re

import numpy as np
import pytest
from conftest import as_read
from streamlit.testing.v1 import AppTest

from core import distributions
from core.content_cache import PROCESS_BUDGET
from core.quantize import formats
from ui.shipped_model import layer_weights

PAGE = "../chapters/number_formats.py"


@pytest.fixture(scope="module")
def app():
    PROCESS_BUDGET.clear()
    return AppTest.from_file(PAGE, default_timeout=180).run()


def widget(app, kind, key):
    return next(w for w in getattr(app, kind) if w.key == key)


def text(app):
    return " ".join(m.value for m in [*app.markdown, *app.caption])


def relative_error(weights, fmt, rotation_seed=None):
    decoded = formats.quantize_dequantize(weights, fmt, rotation_seed=rotation_seed).astype(np.float64)
    return np.linalg.norm(decoded - weights) / np.linalg.norm(weights.astype(np.float64))


def test_default_real_layer_table_and_sentence(app):
    assert not app.exception and not app.error
    weights = layer_weights()["fc4"]
    table = app.dataframe[0].value
    assert list(table["format"]) == list(formats.FORMATS)
    for name, bits in zip(table["format"], table["bits per weight"]):
        assert bits == formats.bits_per_weight(name, weights.size)
    q4_k = relative_error(weights, "q4_k")
    assert table.loc[table["format"] == "q4_k", "relative error"].item() == pytest.approx(q4_k, rel=1e-5)
    assert table.loc[table["format"] == "mxfp4", "bits per weight"].item() == 4.25
    best = min((f for f in formats.FORMATS if formats.bits_per_weight(f, weights.size) <= 4.75), key=lambda f: relative_error(weights, f))
    sentence = text(app)
    assert f"**{best}** has the lowest error on these weights, {100 * relative_error(weights, best):.3g}%" in sentence
    assert f"MXFP4 (4.25 bits) gets {100 * relative_error(weights, 'mxfp4'):.3g}%" in sentence


def test_distribution_and_rotation_column():
    at = AppTest.from_file(PAGE, default_timeout=180).run()
    widget(at, "selectbox", "formats_weights").set_value("laplace").run()
    widget(at, "toggle", "formats_rotated").set_value(True).run()
    assert not at.exception and not at.error
    weights = distributions.weight_matrix("laplace", 256, 0)
    table = at.dataframe[0].value
    nf4 = table.loc[table["format"] == "nf4"]
    assert nf4["relative error"].item() == pytest.approx(relative_error(weights, "nf4"), rel=1e-5)
    assert nf4["relative error, rotated"].item() == pytest.approx(relative_error(weights, "nf4", rotation_seed=0), rel=1e-5)
    assert "65,536 weights" in text(at)
    ratios = {f: relative_error(weights, f, 0) / relative_error(weights, f) for f in formats.FORMATS}
    best = min(ratios, key=ratios.get)
    assert f"**{best}** changes most for the better: its error × {ratios[best]:.2f}" in text(at)


def test_block_inspector_shows_the_stored_fields_and_decoded_values(app):
    widget(app, "selectbox", "formats_inspect").set_value("q4_0").run()
    widget(app, "number_input", "formats_block_q4_0").set_value(3).run()
    assert not app.exception
    weights = layer_weights()["fc4"].reshape(-1)
    block = weights[96:128]
    fields = app.table[0].value
    d = formats.encode(block, "q4_0").fields["d"].item()
    assert list(fields["field"]) == ["d"] and float(fields["value"].iloc[0]) == pytest.approx(d, rel=1e-5)
    elements = app.dataframe[1].value
    assert np.array_equal(elements["value"].to_numpy(), block)
    assert np.array_equal(elements["decoded"].to_numpy(), formats.quantize_dequantize(block, "q4_0"))
    assert list(elements["code"]) == formats.encode(block, "q4_0").fields["qs"][0].tolist()
    assert "Values 96 – 127 of the tensor" in text(app)


def test_outlier_story_numbers(app):
    widget(app, "radio", "formats_outlier_element").set_value("FP4 (E2M1)").run()
    assert not app.exception
    weights = distributions.weight_matrix("outlier", 256, 0)
    sentence = next(m.value for m in app.markdown if m.value.startswith("With one scale for the tensor"))
    zeros = np.mean(formats.quantize_dequantize(weights, "fp4_e2m1") == 0)
    assert f"{100 * zeros:.3g}% of the weights decode to 0" in sentence
    assert f"the error is {100 * relative_error(weights, 'fp4_e2m1'):.3g}%" in sentence
    assert f"gets {100 * relative_error(weights, 'fp4_e2m1', 0):.3g}%" in sentence
    assert f"suffers: {100 * relative_error(weights, 'mxfp4'):.3g}%" in sentence
    largest = float(re.search(r"drops from 25 to ([0-9.]+)", sentence).group(1))
    assert largest < 25 / 4


def test_a_tensor_of_an_uploaded_file_and_bad_uploads():
    from safetensors.numpy import save as save_numpy

    at = AppTest.from_file(PAGE, default_timeout=180).run()
    widget(at, "selectbox", "formats_weights").set_value("upload").run()
    assert any("Upload a weight file" in info.value for info in at.info) and not at.exception
    at.file_uploader[0].set_value(("bad.safetensors", b"not a weight file", "application/octet-stream")).run()
    assert any("bad.safetensors cannot be read" in as_read(error.value) for error in at.error) and not at.exception
    assert any(s.value == "One outlier: per tensor, per block, rotated" for s in at.subheader)  # the rest still works
    at.file_uploader[0].set_value(("ids.safetensors", save_numpy({"ids": np.arange(5)}), "application/octet-stream")).run()
    assert any("no floating-point tensor" in error.value for error in at.error)
    rng = np.random.default_rng(1)
    tensors = {"a.bias": rng.standard_normal(64).astype(np.float32), "layer.weight": rng.standard_normal((96, 160)).astype(np.float32)}
    at.file_uploader[0].set_value(("mine.safetensors", save_numpy(tensors), "application/octet-stream")).run()
    assert not at.exception and not at.error
    assert widget(at, "selectbox", "formats_tensor").value == 1  # the largest tensor first
    table = at.dataframe[0].value
    weights = tensors["layer.weight"]
    assert table.loc[table["format"] == "nvfp4", "relative error"].item() == pytest.approx(relative_error(weights, "nvfp4"), rel=1e-5)
    assert "15,360 weights" in text(at)
