"""AppTest of chapters/output_aware.py: the methods at matched bits on a real layer, the sentences drawn from
the numbers, another model and layer, and the whole-model summary."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.models.output_aware import load_study
from core.quantize.layer_methods import METHODS

PAGE = str(Path(__file__).resolve().parent.parent / "chapters" / "output_aware.py")


@pytest.fixture
def app():
    return AppTest.from_file(PAGE, default_timeout=120).run()


def texts(app) -> str:
    return "\n".join(element.value for element in app.markdown)


def test_default_view_is_the_autoencoders_first_layer_at_two_bits(app):
    assert not app.exception and not app.error
    table = app.dataframe[0].value.set_index("method")
    assert list(table.index) == list(METHODS)
    stored = {row["method"]: row for row in load_study()["autoencoder"]["layers"]["fc1"]["rows"]["2"]}
    for method in METHODS:
        assert table.loc[method, "output error, held-out digits"] == pytest.approx(stored[method]["output_error"])
    best = min(stored, key=lambda method: stored[method]["output_error"])
    assert f"On fc1 at 2 bits per code, **{best}** changes the layer's output" in texts(app)
    assert "× the measured output error" in texts(app)  # fc1 is tall: the bound is finite


def test_a_wide_layer_has_no_finite_bound(app):
    app.selectbox[1].set_value("fc2").run()
    assert not app.exception
    assert "is infinite here" in texts(app)
    assert app.dataframe[0].value["bound"].tolist() == [float("inf")] * len(METHODS)


def test_a_classifier_at_another_bit_width(app):
    app.selectbox[0].set_value("lenet_300_100").run()
    app.select_slider[0].set_value(4).run()
    assert not app.exception
    assert [option for option in app.selectbox[1].options][0].startswith("ip1")
    assert "On ip1 at 4 bits per code" in texts(app)
    assert "(held-out accuracy; biases stay float32)" in texts(app)
    assert "- 4 bits: best **" in texts(app)


def test_your_own_product_quantization_runs_in_the_background(app):
    app.selectbox[0].set_value("lenet_300_100").run()
    app.selectbox[1].set_value("ip3").run()
    app.select_slider[1].set_value(2)
    app.select_slider[2].set_value(16).run()
    bits = f"{(500 * 4 + 16 * 2 * 16) / 1000:.3f}"  # 4-bit codes per pair + the codebook, shown before fitting
    assert {metric.label: metric.value for metric in app.metric}["Bits per weight at this setting"] == bits
    app.button[0].click().run()
    assert not app.exception and not app.error
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Bits per weight at this setting"] == bits and "Output error, output objective" in metrics
    assert "held-out digits is" in texts(app)


def test_the_whole_model_sentence_reads_the_chosen_bits(app):
    study = load_study()["autoencoder"]
    by_outputs = study["effect"]["PQ, output objective"]["score"][1]
    assert "Where the weight objective misleads, at 2 bits: on the 5 layers" in texts(app)
    assert f"is {by_outputs:.4f} against" in texts(app)
