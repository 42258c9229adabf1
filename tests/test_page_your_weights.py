"""AppTest of chapters/your_weights.py: the shipped model before any upload, the budget, every bad upload of
the issue giving a clear message while the page keeps working, and the quantized file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import as_read
from safetensors.numpy import save as save_numpy
from streamlit.testing.v1 import AppTest

from core.weightfile.budget import allocate_bits
from core.weightfile.report import report_weights
from ui.literal_text import literal_text

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "chapters" / "your_weights.py")
SHIPPED = ROOT / "models" / "autoencoder.safetensors"
GOOD = save_numpy({"layer.weight": np.random.default_rng(0).standard_normal((64, 200)).astype(np.float32)})


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def choose_upload(app: AppTest) -> AppTest:
    app.radio(key="your_weights_source").set_value("Upload your own").run()
    return app


def upload(app: AppTest, name: str, data: bytes) -> AppTest:
    app.file_uploader[0].set_value((name, data, "application/octet-stream"))
    return app.run()


def one_tensor(header_entry: dict, data: bytes, name: str = "w") -> bytes:
    import json

    header = json.dumps({name: header_entry}).encode()
    return len(header).to_bytes(8, "little") + header + data


@pytest.fixture(scope="module")
def app() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=180).run()


def test_the_shipped_model_is_reported_before_any_upload(app) -> None:
    assert not app.exception and not app.error
    assert app.title[0].value == "Your weights"
    expected = allocate_bits(report_weights(str(SHIPPED)), "k-means", bits_per_weight=4.0)
    shown = metrics(app)
    assert shown["Quantized file"] == f"{expected.total_bytes / 1e6:.3f} MB"
    assert shown["Bits per weight"] == f"{expected.bits_per_weight:.3f}"
    assert shown["Relative error"] == f"{expected.relative_error:.4f}"
    table = app.dataframe[0].value
    assert len(table) == 10 and set(table["chosen bits"]) <= set(range(2, 9))
    assert dict(zip(table["tensor"], table["chosen bits"])) == expected.bits
    assert any("Exact: no choice of bits per tensor" in caption.value for caption in app.caption)


def test_the_budget_and_the_method_change_the_allocation(app) -> None:
    app.slider[0].set_value(6.0).run()
    app.radio[1].set_value("per group of 128").run()
    assert not app.exception and not app.error
    expected = allocate_bits(report_weights(str(SHIPPED)), "per group of 128", bits_per_weight=6.0)
    assert metrics(app)["Quantized file"] == f"{expected.total_bytes / 1e6:.3f} MB"


def test_the_quantized_file_is_made_and_offered(app) -> None:
    [button] = [button for button in app.button if button.label == "Make the quantized file"]
    button.click().run()
    assert not app.exception and not app.error
    labels = [element.proto.label for element in app.get("download_button")]
    assert any(label.startswith("Quantized file (") for label in labels), labels


NAN_FILE = save_numpy({"broken": np.array([1.0, np.nan, 2.0], dtype=np.float32), "w": np.ones((3, 3), dtype=np.float32) * np.arange(3)})


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("notes.safetensors", b"These are my notes, not weights.\n" * 5, "is not a safetensors, .npz or .npy file"),
        ("long.safetensors", (10**9).to_bytes(8, "little") + b'{"w": {}}', "beyond the end of the file"),
        ("garbled.safetensors", (9).to_bytes(8, "little") + b"{not json", "its header is not JSON"),
        (
            "overlap.safetensors",
            b"".join(
                [
                    (len(h := b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}')).to_bytes(8, "little"),
                    h,
                    bytes(16),
                ]
            ),
            "overlap",
        ),
        ("past.safetensors", one_tensor({"dtype": "F32", "shape": [4], "data_offsets": [0, 64]}, bytes(16)), "run past the end of the data"),
        ("shape.safetensors", one_tensor({"dtype": "F32", "shape": [3, 3], "data_offsets": [0, 16]}, bytes(16)), "but shape (3, 3) of F32 needs 36"),
        ("dtype.safetensors", one_tensor({"dtype": "Q4_K", "shape": [4], "data_offsets": [0, 16]}, bytes(16)), "unknown dtype 'Q4_K'"),
        ("objects.npy", b"", "holds Python objects"),
        ("huge.safetensors", b"", "over this page's 25 MB cap"),
    ],
    ids=lambda value: value if isinstance(value, str) and value.endswith(("safetensors", "npy")) else "",
)
def test_a_bad_upload_names_its_problem_and_the_page_keeps_working(name: str, data: bytes, problem: str) -> None:
    if name == "objects.npy":
        import io

        buffer = io.BytesIO()
        np.save(buffer, np.array([{"code": "evil"}], dtype=object), allow_pickle=True)
        data = buffer.getvalue()
    if name == "huge.safetensors":
        data = bytes(25 * 1024 * 1024 + 1)
    app = choose_upload(AppTest.from_file(PAGE, default_timeout=180).run())
    upload(app, name, data)
    assert not app.exception
    errors = [error.value for error in app.error]
    assert len(errors) == 1 and problem in as_read(errors[0]) and name in as_read(errors[0]), errors
    upload(app, "good.safetensors", GOOD)  # the next file works
    assert not app.exception and not app.error and "Quantized file" in metrics(app)


def test_nan_empty_scalar_and_integer_tensors_are_listed_with_their_status() -> None:
    data = save_numpy(
        {
            "broken": np.array([1.0, np.nan, 2.0], dtype=np.float32),
            "empty": np.zeros((0, 3), dtype=np.float32),
            "scalar": np.array(2.0, dtype=np.float32),
            "steps": np.arange(3),
            "w": np.random.default_rng(1).standard_normal((8, 8)).astype(np.float32),
        }
    )
    app = upload(choose_upload(AppTest.from_file(PAGE, default_timeout=180).run()), "mixed.safetensors", data)
    assert not app.exception and not app.error
    status = dict(zip(app.dataframe[0].value["tensor"], app.dataframe[0].value["status"]))
    assert status["broken"] == "holds 1 NaN/Inf value: reported, not quantized"
    assert "empty" in status["empty"] and "0-d" in status["scalar"] and "integer" in status["steps"] and status["w"] == "quantized"
    reasons = next(markdown.value for markdown in app.markdown if "- **broken**" in markdown.value)  # whole, beside the cut-off column
    assert f"- **broken**: {literal_text(status['broken'])}" in reasons.splitlines() and "**w**" not in reasons
    assert len(reasons.splitlines()) == 4


def test_a_tensor_name_with_html_is_shown_as_text() -> None:
    name = '<img src=x onerror="alert(1)"><b>bold</b>'
    data = save_numpy({name: np.random.default_rng(2).standard_normal((4, 8)).astype(np.float32)})
    app = upload(choose_upload(AppTest.from_file(PAGE, default_timeout=180).run()), "<script>x</script>.safetensors", data)
    assert not app.exception and not app.error
    assert app.dataframe[0].value["tensor"].tolist() == [name]  # a dataframe cell is literal text
    caption = next(caption.value for caption in app.caption if "tensors," in caption.value)
    assert "\\<script\\>x\\<\\/script\\>" in caption and "“<script>x</script>.safetensors”" in as_read(caption)  # shown as typed


def test_a_file_with_only_integers_says_so() -> None:
    app = upload(choose_upload(AppTest.from_file(PAGE, default_timeout=180).run()), "ints.safetensors", save_numpy({"ids": np.arange(5)}))
    assert not app.exception and not app.error
    assert any("no float tensor" in warning.value for warning in app.warning)


def test_tensors_too_small_to_trade_size_for_error_and_ten_thousand_of_them() -> None:
    app = upload(choose_upload(AppTest.from_file(PAGE, default_timeout=180).run()), "tiny.safetensors", save_numpy({"w": np.array([0.5, -1.0], np.float32)}))
    assert not app.exception and not app.error
    assert any("Every choice of bits gives this file the same size" in caption.value for caption in app.caption)
    assert metrics(app)["Relative error"] == "0.0000"
    many = save_numpy({f"t{i}": np.array([0.5, -1.0, float(i)], np.float32) for i in range(10_000)})
    upload(app, "many.safetensors", many)
    assert not app.exception and not app.error
    assert len(app.dataframe[0].value) == 10_000
    assert any("The 60 largest of 10,000 quantized tensors" in caption.value for caption in app.caption)
