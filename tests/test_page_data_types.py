"""AppTest of chapters/data_types.py: bits and stored values per format, overflow, NaN, INT8, bad input."""

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parent.parent / "chapters" / "data_types.py")


@pytest.fixture
def app():
    return AppTest.from_file(PAGE, default_timeout=60).run()


def _table(app):
    return next(m.value for m in app.markdown if m.value.startswith("<table"))


def _row(app, name):
    """The format's row of the bits table as "| cell | cell | … |"."""
    row = next(row for row in _table(app).split("<tr>") if row.startswith(f"<td>{name}</td>"))
    return "| " + " | ".join(re.findall(r"<td[^>]*>(.*?)</td>", row)) + " |"


def test_default_value_0_1_in_every_format(app):
    assert not app.exception and not app.error
    assert "| 0.100000001490116119384765625 |" in _row(app, "FP32")  # float32(0.1), every digit
    bf16 = _row(app, "BF16")
    assert ">0</span>" in bf16 and ">01111011</span>" in bf16 and ">1001101</span>" in bf16
    assert "| 0.10009765625 |" in bf16 and "2<sup>−4</sup> × 1.6015625" in bf16
    assert "| 0.0999755859375 |" in _row(app, "FP16")  # 2^-4 × 1.599609375 (1638.4 / 1024 rounds to 1638)


def test_overflow_saturation_and_nan(app):
    app.text_input[0].set_value("70000").run()
    assert "∞" in _row(app, "FP16") and "overflow → ∞" in _row(app, "FP16")
    assert "448" in _row(app, "FP8 E4M3") and "clamped" in _row(app, "FP8 E4M3")
    assert "70144" in _row(app, "BF16")
    app.text_input[0].set_value("nan").run()
    assert "NaN" in _row(app, "FP32") and not app.exception
    assert any("no code for ∞ or NaN" in info.value for info in app.info)


def test_subnormal_is_named(app):
    app.text_input[0].set_value("1e-5").run()
    assert "subnormal" in _row(app, "FP16")
    assert "| normal |" in _row(app, "FP32")


def test_int8_code_and_saturation(app):
    app.text_input[0].set_value("0.5").run()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Code q"] == "50" and metrics["Stored s·q"] == "0.5"
    app.number_input[0].set_value(0.001).run()
    assert {m.label: m.value for m in app.metric}["Code q"] == "127"
    assert "clipped" in app.warning[0].value


@pytest.mark.parametrize("value, scale, code", [("0.025", 0.01, "2"), ("0.015", 0.01, "2"), ("0.15", 0.1, "2"), ("0.45", 0.3, "1")])
def test_int8_tie_is_rounded_to_even_and_not_called_clipped(app, value, scale, code):
    app.text_input[0].set_value(value)
    app.number_input[0].set_value(scale).run()
    assert {m.label: m.value for m in app.metric}["Code q"] == code
    assert not any("clipped" in warning.value for warning in app.warning)


def test_bad_number_shows_an_error(app):
    app.text_input[0].set_value("one half").run()
    assert not app.exception
    assert "type one number" in app.error[0].value


def test_limits_table_lists_every_format(app):
    table = app.dataframe[0].value.set_index("")
    assert list(table.columns) == ["FP32", "FP16", "BF16", "FP8 E4M3", "FP8 E5M2"]
    assert table.loc["max", "FP8 E4M3"] == "448" and table.loc["max", "FP8 E5M2"] == "57344"
    assert table.loc["max", "FP32"] == "3.40282e+38" and table.loc["overflow", "FP8 E4M3"] == "±448 (saturates)"


def test_zero_is_called_zero_not_subnormal(app):
    app.text_input[0].set_value("0").run()
    assert "subnormal" not in _row(app, "FP16") and "all zeros" in _row(app, "FP16")


def test_a_weight_of_the_model(app):
    app.radio[0].set_value("A weight of the autoencoder").run()
    app.number_input[0].set_value(0)
    app.number_input[1].set_value(5).run()
    assert not app.exception
    assert app.caption[0].value.startswith("fc1[0, 5] = ")
    assert _row(app, "FP32").endswith("| 0 | normal |")  # the weights are float32: stored exactly
