"""AppTest of chapters/calibration.py on the shipped autoencoder's real activations."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest


PAGE = str(Path(__file__).resolve().parent.parent / "chapters" / "calibration.py")


@pytest.fixture(scope="module")
def app():
    return AppTest.from_file(PAGE, default_timeout=180).run()


def test_thresholds_and_errors_for_a_layer(app):
    assert not app.exception and not app.error
    table = app.dataframe[0].value.set_index("method")
    assert list(table.index) == ["max", "percentile", "entropy (KL, TensorRT)", "MSE sweep"]
    assert table["threshold t"].max() == table.loc["max", "threshold t"]
    assert table.loc["max", "clipping MSE"] <= table.loc["MSE sweep", "clipping MSE"] + 1e-12
    assert (table["activation MSE"] - table["rounding MSE"] - table["clipping MSE"]).abs().max() < 1e-9


def test_end_to_end_table_compares_with_float(app):
    end_to_end = app.dataframe[1].value.set_index("method")
    float_mse = float(next(m.value for m in app.metric if m.label.startswith("Float")))
    eight, four = end_to_end["MSE, 8 bits"], end_to_end["MSE, 4 bits"]
    assert (eight < float_mse * 1.05).all()
    assert (four >= eight * 0.99).all()


def test_lower_bits_and_percentile_move_the_thresholds(app):
    before = app.dataframe[0].value.set_index("method")["threshold t"]
    app.number_input[0].set_value(99.0).run()
    app.slider[0].set_value(4).run()
    assert not app.exception
    after = app.dataframe[0].value.set_index("method")["threshold t"]
    assert after["percentile"] < before["percentile"]
    assert after["max"] == before["max"]


@pytest.mark.parametrize("bits, first_cut", [(8, 256), (4, 128)])
def test_entropy_caption_names_the_first_cut_the_curve_really_starts_at(app, bits, first_cut):
    app.slider[0].set_value(bits).run()
    caption = next(caption.value for caption in app.caption if caption.value.startswith("Entropy:"))
    assert f"for each cut from bin {first_cut} up" in caption
