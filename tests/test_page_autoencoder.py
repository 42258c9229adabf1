"""AppTest of chapters/autoencoder.py with a held-out digit (the canvas itself is covered by the browser test)."""

from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from safetensors.numpy import load as load_safetensors_bytes
from streamlit.testing.v1 import AppTest

from core.measure.reconstruction import mse
from core.models import autoencoder
from core.models.mnist import load_split

PAGE = str(Path(__file__).resolve().parent.parent / "chapters" / "autoencoder.py")


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def markdown(app: AppTest) -> str:
    return "\n".join(element.value for element in app.markdown)


@pytest.fixture(scope="module")
def app():
    return AppTest.from_file(PAGE, default_timeout=120).run()


def test_empty_canvas_shows_a_prompt_not_an_error(app):
    assert not app.exception and not app.error
    assert app.title[0].value == "Autoencoder"
    assert any("Draw a digit" in info.value for info in app.info)
    assert "Float MSE" not in metrics(app)
    assert metrics(app)["Float32 model"] == "8.60 MB"
    assert metrics(app)["Model size at 4 bits"] == f"{autoencoder.quantize_model(autoencoder.load_state_dict(), 4).storage_bytes / 1e6:.2f} MB"


def test_a_heldout_digit_is_reconstructed_and_measured(app):
    app.button[1].click().run()
    assert not app.exception and not app.error
    shown = metrics(app)
    # the page's numbers must be the model's: recompute the chosen digit's errors independently
    index = int(np.random.default_rng(0).integers(500))
    digit = load_split()[2][index : index + 1]
    captions = [image.proto.imgs[0].caption for image in app.get("image")]
    assert captions[0].startswith(f"Input: held-out digit #{index}")
    state = autoencoder.load_state_dict()
    float_mse = mse(digit, autoencoder.reconstruct(state, digit))
    four_bit_mse = mse(digit, autoencoder.reconstruct(autoencoder.quantize_model(state, 4).state_dict, digit))
    assert shown["Float MSE"] == f"{float_mse:.4f}"
    assert shown["4 bits MSE"] == f"{four_bit_mse:.4f}"
    assert "held-out MSE is" in markdown(app)


def test_one_bit_warns_that_the_model_collapses(app):
    app.select_slider[0].set_value(1).run()
    assert not app.exception
    assert any("nearly the same blob" in warning.value for warning in app.warning)
    assert "1 bit MSE" in metrics(app)


def test_float_and_linear_choices_work(app):
    app.select_slider[0].set_value("float").run()
    assert metrics(app)["Model size at float32"] == "8.60 MB"
    # the file offered is plain float32 tensors, and the page says so (it used to describe indices and codebooks)
    exported = autoencoder.export_quantized(autoencoder.quantize_model(autoencoder.load_state_dict(), {}))
    assert {array.dtype for array in load_safetensors_bytes(exported).values()} == {np.dtype(np.float32)}
    captions = " ".join(caption.value for caption in app.caption)
    assert "plain float32" in captions and "uint8 indices" not in captions
    size_help = next(metric.proto.help for metric in app.metric if metric.label == "Model size at float32")
    assert "float32" in size_help and "codebook" not in size_help and "indices" not in size_help
    app.radio[0].set_value("linear")
    app.select_slider[0].set_value(5).run()
    assert not app.exception and "linear, min–max" in markdown(app)


def test_one_layer_at_one_bit_is_not_called_a_collapse(app):
    app.radio[0].set_value("kmeans")
    app.toggle[0].set_value(True).run()
    for slider in app.select_slider[1:]:
        slider.set_value("float")
    app.select_slider[3].set_value(1).run()  # fc3 at 1 bit, the rest float32
    assert not app.exception
    assert not any("collapsed" in warning.value or "blob" in warning.value for warning in app.warning)
    # and indeed the held-out digits still come out different from each other
    state = autoencoder.load_state_dict()
    outputs = autoencoder.reconstruct(autoencoder.quantize_model(state, {"fc3": 1}).state_dict, load_split()[2])
    assert np.abs(outputs - outputs.mean(axis=0)).max() > 0.5
    app.toggle[0].set_value(False).run()


def test_per_layer_bits(app):
    app.toggle[0].set_value(True).run()
    for slider in app.select_slider[1:]:
        slider.set_value("float")
    app.select_slider[3].set_value(2).run()  # fc3 only
    assert not app.exception
    expected = autoencoder.quantize_model(autoencoder.load_state_dict(), {"fc3": 2}, "linear").storage_bytes
    assert metrics(app)["Model size at mixed bits"] == f"{expected / 1e6:.2f} MB"


def test_a_missing_model_file_shows_a_notice_not_a_traceback(monkeypatch):
    monkeypatch.setattr(autoencoder, "MODEL_PATH", autoencoder.MODEL_PATH.with_name("missing.safetensors"))
    st.cache_resource.clear()
    try:
        missing = AppTest.from_file(PAGE, default_timeout=120).run()
    finally:
        st.cache_resource.clear()  # the pages tested next must load the real model again
    assert not missing.exception and not missing.error
    assert any("not there yet" in info.value for info in missing.info)
