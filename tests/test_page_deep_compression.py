"""AppTest of chapters/deep_compression.py on the shipped .dc files and their recorded measurements."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.compress.dcfile import load_compressed
from core.compress.shipped import dc_path, load_results

PAGE = str(Path(__file__).resolve().parent.parent / "chapters" / "deep_compression.py")


@pytest.fixture(scope="module")
def app():
    return AppTest.from_file(PAGE, default_timeout=180).run()


def _metric(app, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def test_lenet_300_100_shows_the_real_file_and_its_accuracy(app):
    assert not app.exception and not app.error
    size = len(dc_path("lenet_300_100").read_bytes())
    assert _metric(app, "compressed file") == f"{size:,} B"
    record = load_results("lenet_300_100")
    assert _metric(app, "decoded accuracy") == f"{record['stages'][-1]['score']:.1%}"
    assert any(f"{size:,} bytes" in button.label for button in app.get("download_button"))


def test_per_layer_table_is_the_papers_table_2(app):
    table = app.dataframe[0].value  # sideways: one column per layer
    assert list(table.columns) == ["ip1", "ip2", "ip3"]
    assert list(table.loc["weights"]) == ["235,200", "30,000", "1,000"]
    state = load_compressed(dc_path("lenet_300_100").read_bytes())  # kept = nonzero weights, not stored entries
    assert list(table.loc["kept"]) == [f"{np.count_nonzero(state[f'{layer}.weight']) / state[f'{layer}.weight'].size:.1%}" for layer in table.columns]


def test_initialisation_sentence_comes_from_the_measurements(app):
    text = " ".join(m.value for m in app.markdown)
    assert "the best start is" in text and "The widest gap between the three is" in text


def test_lenet5_adds_conv_against_fc(app):
    app.radio[0].set_value("lenet5").run()
    assert not app.exception and not app.error
    text = " ".join(m.value for m in app.markdown)
    assert "LeNet-5 needs" in text
    assert list(app.dataframe[0].value.columns) == ["conv1", "conv2", "ip1", "ip2"]


def test_the_autoencoder_asks_for_a_run(app):
    app.radio[0].set_value("autoencoder").run()
    assert not app.exception
    assert any("Run the pipeline" in info.value for info in app.info)
