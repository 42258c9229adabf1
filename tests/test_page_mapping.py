"""AppTest of chapters/mapping.py: the worked example's integers, editing values, bad input, the clipping trade-off."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parent.parent / "chapters" / "mapping.py")


@pytest.fixture
def app():
    return AppTest.from_file(PAGE, default_timeout=60).run()


def _codes(app, index):
    return list(app.dataframe[index].value["code q"])


def test_worked_example_rounds_1_5_to_48_and_2_8_to_89(app):
    assert not app.exception and not app.error
    assert _codes(app, 0) == [-73, -35, 0, 48, 89, 127]
    assert _codes(app, 1) == [0, 48, 93, 154, 206, 255]
    assert any(r"s = \max|x| / 127 = 0.0314961" in m.value for m in app.markdown)
    assert any(r"z = \operatorname{round}(-\min / s) = 93" in m.value for m in app.markdown)


def test_bits_slider_changes_the_integers(app):
    app.slider[0].set_value(4).run()
    assert _codes(app, 0) == [-4, -2, 0, 3, 5, 7]  # scale 4/7: -2.3*7/4 = -4.025 -> -4, 1.5*7/4 = 2.625 -> 3
    errors = np.abs(np.array(app.dataframe[0].value["error"]))
    assert errors.max() <= 4 / 7 / 2 + 1e-6


def test_editing_values_and_bad_input(app):
    app.text_input[0].set_value("0, 1, 2, 3").run()
    assert _codes(app, 1) == [0, 85, 170, 255]
    app.text_input[0].set_value("1, two, 3").run()
    assert not app.exception
    assert "number" in app.error[0].value
    app.text_input[0].set_value("1, inf").run()
    assert "finite" in app.error[0].value


def test_clipping_metrics_add_up_and_move_with_t(app):
    metrics = {m.label: float(m.value) for m in app.metric}
    assert metrics["Total MSE"] == pytest.approx(metrics["Rounding MSE"] + metrics["Clipping MSE"], rel=0.01)
    app.slider[2].set_value(0.1).run()
    tight = {m.label: float(m.value) for m in app.metric}
    assert tight["Clipping MSE"] > metrics["Clipping MSE"]
    assert tight["Rounding MSE"] < metrics["Rounding MSE"]
