"""AppTest of chapters/granularity.py: the synthetic outlier-row matrix, the table at a bit width, a real layer."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest


PAGE = str(Path(__file__).resolve().parent.parent / "chapters" / "granularity.py")


@pytest.fixture
def app():
    return AppTest.from_file(PAGE, default_timeout=120).run()


def test_outlier_rows_favour_per_row_scales(app):
    assert not app.exception and not app.error
    table = app.dataframe[0].value.set_index("granularity")
    assert table.loc["per tensor", "scales stored"] == 1 and table.loc["per row", "scales stored"] == 256
    assert table.loc["per group of 32", "scales stored"] == 256 * 8
    assert table.loc["per row", "relative error"] < table.loc["per tensor", "relative error"] / 2
    assert table.loc["per element", "relative error"] < 1e-6
    assert table.loc["per tensor", "bits per weight"] == pytest.approx(4 + 32 / 65536, abs=1e-4)


def test_bits_and_mapping_change_the_table(app):
    app.slider[0].set_value(8).run()
    table = app.dataframe[0].value.set_index("granularity")
    assert table.loc["per row", "bits per weight"] == pytest.approx(8 + 32 / 256, abs=1e-4)
    app.radio[0].set_value(False).run()
    table = app.dataframe[0].value.set_index("granularity")
    assert table.loc["per row", "bits per weight"] == pytest.approx(8 + 40 / 256, abs=1e-4)


def test_a_real_layer(app):
    app.selectbox[0].set_value("fc3").run()
    assert not app.exception
    table = app.dataframe[0].value.set_index("granularity")
    assert table.loc["per row", "scales stored"] == 256
    assert table.loc["per group of 32", "relative error"] <= table.loc["per tensor", "relative error"]
