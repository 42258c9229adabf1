import math

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import distributions
from core.content_cache import PROCESS_BUDGET
from core.models import autoencoder
from core.quantize.weight_sharing import quantize_weights, random_inputs

PAGE = "../chapters/weights.py"
SHOWN = 5e-3  # metrics show 3 significant digits


@pytest.fixture(autouse=True)
def fresh_caches():
    PROCESS_BUDGET.clear()
    st.cache_resource.clear()
    yield
    # a test that hides the model file must not leave "no model" cached for the pages tested after it
    PROCESS_BUDGET.clear()
    st.cache_resource.clear()


def run(**widgets):
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.run()
    for key, value in widgets.items():
        for kind in (app.selectbox, app.slider, app.radio, app.number_input):
            matches = [widget for widget in kind if widget.key == f"weights_{key}"]
            if matches:
                matches[0].set_value(value)
                break
        else:
            raise KeyError(key)
    app.run()
    assert not app.exception, app.exception
    return app


def metric(app, label_start):
    [value] = [m.value for m in app.metric if m.label.startswith(label_start)]
    return value


def shown(app, label_start):
    return float(metric(app, label_start).replace(",", ""))


def text(app):
    return " ".join(element.value for element in [*app.markdown, *app.caption, *app.info, *app.warning])


@pytest.mark.parametrize("distribution", distributions.DISTRIBUTIONS)
@pytest.mark.parametrize("bits", [1, 4, 8])
def test_every_distribution_shows_its_numbers(distribution, bits):
    app = run(choice=distribution, bits=bits)
    weights = distributions.weight_matrix(distribution, 20, 0).astype(np.float64)
    quantized = quantize_weights(weights, bits, "kmeans")
    assert shown(app, "Relative error") == pytest.approx(
        np.abs(weights - quantized).sum(axis=0).max() / np.abs(weights).sum(axis=0).max(), rel=SHOWN
    )
    assert metric(app, "W as float32") == "1,600 B"
    assert metric(app, "Q as stored") == f"{math.ceil(400 * bits / 8) + 4 * 2**bits:,} B"
    assert shown(app, "Bound") >= shown(app, "Measured, max")
    assert not app.error


@pytest.mark.parametrize("p", [1, 2, "inf", "fro"])
@pytest.mark.parametrize("method", ["minmax", "absmax"])
def test_linear_methods_in_every_norm_match_numpy(p, method):
    app = run(choice="laplace", bits=3, method=method, norm=p)
    weights = distributions.weight_matrix("laplace", 20, 0).astype(np.float64)
    quantized = quantize_weights(weights, 3, method)
    order = np.inf if p == "inf" else p
    assert shown(app, "Relative error") == pytest.approx(
        np.linalg.norm(weights - quantized, order) / np.linalg.norm(weights, order), rel=SHOWN
    )
    assert shown(app, "Condition number") == pytest.approx(np.linalg.cond(weights, order), rel=SHOWN)
    zero_point_bytes = 1 if method == "minmax" else 0
    assert metric(app, "Q as stored") == f"{150 + 4 + zero_point_bytes:,} B"


def test_measured_output_error_is_over_1000_random_inputs():
    app = run(choice="normal", bits=2, norm=2)
    weights = distributions.weight_matrix("normal", 20, 0).astype(np.float64)
    inputs = random_inputs(20)
    assert inputs.shape == (20, 1000)
    delta = weights - quantize_weights(weights, 2, "kmeans")
    ratios = np.linalg.norm(delta @ inputs, axis=0) / np.linalg.norm(weights @ inputs, axis=0)
    assert shown(app, "Measured ‖(W − Q)x‖ / ‖Wx‖, median") == pytest.approx(np.median(ratios), rel=SHOWN)
    assert shown(app, "Measured, max") == pytest.approx(ratios.max(), rel=SHOWN)


def test_bound_far_above_measured_is_said_in_words():
    app = run(choice="outlier", bits=2)
    assert shown(app, "Bound") > 1
    assert "promises nothing" in text(app) and "far above what happens" in text(app)


def test_singular_matrix_shows_infinite_condition_number(monkeypatch):
    def rank_deficient(distribution, n, seed=0):
        weights = np.random.default_rng(seed).standard_normal((n, n)).astype(np.float32)
        weights[-1] = weights[0]
        return weights

    monkeypatch.setattr(distributions, "weight_matrix", rank_deficient)
    app = run()
    assert metric(app, "Condition number") == "∞"
    assert metric(app, "Bound") == "∞"
    assert "W is singular" in text(app)
    assert shown(app, "Measured, max") > 0


@pytest.mark.parametrize("p", [1, 2])
def test_the_singular_choice_shows_infinity_and_why(p):
    app = run(choice=distributions.SINGULAR, norm=p)
    assert not app.exception
    assert metric(app, "Condition number") == "∞"
    assert metric(app, "Bound") == "∞"
    assert "W is singular" in text(app)
    weights = distributions.singular_matrix(20, 0).astype(np.float64)
    assert np.linalg.matrix_rank(weights) == 19


def test_bad_weights_show_an_error_instead_of_a_traceback(monkeypatch):
    monkeypatch.setattr(distributions, "weight_matrix", lambda distribution, n, seed=0: np.zeros((n, n), np.float32))
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not app.exception
    assert "W must not be all zeros" in app.error[0].value


def test_new_sample_moves_to_the_next_seed():
    app = run()
    before = metric(app, "Relative error")
    app.button[0].click().run()
    assert app.number_input(key="weights_seed").value == 1
    assert metric(app, "Relative error") != before
    app.number_input(key="weights_seed").set_value(0).run()
    assert metric(app, "Relative error") == before


def test_largest_matrix():
    app = run(choice="normal", n=512, bits=5)
    assert metric(app, "W as float32") == f"{512 * 512 * 4:,} B"
    assert metric(app, "Q as stored") == f"{512 * 512 * 5 // 8 + 32 * 4:,} B"
    assert shown(app, "Relative error") < 0.1


def test_real_layers_square_and_not():
    app = run(choice="fc3")
    weights = autoencoder.layer_weights()["fc3"].astype(np.float64)
    assert shown(app, "Condition number") == pytest.approx(np.linalg.cond(weights, 1), rel=SHOWN)
    app.selectbox(key="weights_choice").set_value("fc1").run()
    assert not app.exception
    assert metric(app, "Condition number") == "—" and metric(app, "Bound") == "—"
    assert "has no inverse" in text(app)
    assert metric(app, "W as float32") == f"{1000 * 784 * 4:,} B"


def test_real_layer_option_is_hidden_until_the_model_exists(monkeypatch):
    monkeypatch.setattr(autoencoder, "MODEL_PATH", autoencoder.MODEL_PATH.with_name("missing.safetensors"))
    app = run()
    assert app.selectbox(key="weights_choice").options == [
        "Normal N(0, 1)",
        "Uniform U(−2, 2)",
        "Normal with one outlier (one entry = 25)",
        "Laplacian (variance 1)",
        "Bimodal: N(−2, 0.5²) and N(2, 0.5²)",
        "Singular: N(0, 1) with its last row a copy of the first",
    ]


def test_bytes_of_a_matrix_with_fewer_weights_than_levels_are_described_as_stored():
    # 8×8 = 64 weights at 8 bits: k-means gives each weight its own level, so 64 levels and 6-bit indices
    app = run(choice="normal", n=8, seed=4, bits=8)
    assert metric(app, "Q as stored") == f"{64 * 6 // 8 + 64 * 4:,} B"
    caption = next(caption.value for caption in app.caption if caption.value.startswith("Q stores"))
    assert "64 indices of 6 bits" in caption and "codebook of 64 float32 values" in caption
    assert "256" not in caption.split(".")[0]


@pytest.mark.parametrize("p", [1, "fro"])
def test_the_bound_is_derived_in_latex_with_this_matrix_numbers(p):
    app = run(choice="normal", bits=3, norm=p)
    assert not app.latex  # typeset only when the reader asks
    next(toggle for toggle in app.toggle if toggle.label.startswith("Why the bound")).set_value(True).run()
    relative, condition, bound = (metric(app, start) for start in ("Relative error", "Condition number", "Bound"))
    final = app.latex[-1].value.strip("$\n").replace(r"\,", ",")  # LaTeX thin spaces separate the thousands
    assert f"_{{{relative}}}" in final and f"_{{{condition}}}" in final
    assert final.endswith(f"= {bound}")
    weights = distributions.weight_matrix("normal", 20, 0).astype(np.float64)
    order = "fro" if p == "fro" else p
    assert shown(app, "Bound") == pytest.approx(
        np.linalg.norm(weights - quantize_weights(weights, 3, "kmeans"), order) * np.linalg.norm(np.linalg.inv(weights), order),
        rel=SHOWN,
    )
    assert len(app.latex) == 4  # the four steps


def test_key_numbers_come_right_after_the_controls():
    app = run()
    assert [element.value for element in app.subheader][:2] == ["How far can Wx move?", "The matrices"]
