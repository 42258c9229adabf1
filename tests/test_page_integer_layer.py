"""AppTest of chapters/integer_layer.py: the stages of fc1 on a held-out digit and the W8A8 autoencoder."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest


PAGE = str(Path(__file__).resolve().parent.parent / "chapters" / "integer_layer.py")


@pytest.fixture(scope="module")
def app():
    return AppTest.from_file(PAGE, default_timeout=120).run()


def _metrics(app):
    return {m.label: m.value for m in app.metric}


def test_stages_are_consistent(app):
    assert not app.exception and not app.error
    stages = app.dataframe[2].value
    # requantized codes times s_y sit within one step of the float ReLU output (the top outputs are inside the range)
    steps = np.abs(stages["s_y·y_q"] - stages["ReLU(W x + b)"])
    scale = float(app.subheader[4].value.split("s_y = ")[1].split(",")[0])
    assert (steps <= scale).all()
    np.testing.assert_allclose(stages["acc·s_x·s_w"], stages["W x + b"], atol=2 * scale)
    assert float(_metrics(app)["Largest error, in steps s_y"]) <= 1.5


def test_input_scale_is_one_over_255_and_codes_are_the_pixel_bytes(app):
    assert "s_x = 0.00392157, z_x = 0" in app.subheader[0].value


def test_w8a8_close_to_float_and_per_tensor_switch(app):
    metrics = _metrics(app)
    float_mse, integer_mse = float(metrics["Held-out MSE, float32"]), float(metrics["Held-out MSE, W8A8"])
    assert abs(integer_mse - float_mse) < 0.05 * float_mse
    app.radio[0].set_value(False).run()
    app.slider[0].set_value(7).run()
    assert not app.exception
    assert any(m.value.startswith("One $s_w$ = ") and m.value.endswith("for all of W.") for m in app.markdown)
