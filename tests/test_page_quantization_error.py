"""AppTest of pages/quantization_error.py: the average error, the heatmap's data and hover, the curve, uploads."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
from conftest import as_read
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.images.io import image_digest, sample_image
from core.images.palette import palette_kmeans
from ui.image_choice import IMAGE_KEY, UPLOADED_KEY, ChosenImage

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "quantization_error.py")
CHINA = sample_image("china.jpg")


def open_page() -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=180).run()
    assert not app.exception, app.exception
    return app


def metric(app: AppTest, label: str) -> str:
    [value] = [m.value for m in app.metric if m.label == label]
    return value


def brute_force_errors(image: np.ndarray, k: int) -> np.ndarray:
    palette, labels = palette_kmeans(image, k)
    quantized = palette[labels]
    return sum(np.abs(image[:, :, c].astype(int) - quantized[:, :, c].astype(int)) for c in range(3))


def figures(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def decode(array: dict) -> np.ndarray:
    """A plotly typed array ({dtype, bdata, shape}) back to numpy."""
    values = np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]).newbyteorder("<"))
    return values.reshape([int(n) for n in str(array.get("shape", values.size)).split(",")])


def decode_png(uri: str) -> np.ndarray:
    """A PNG data URI (a Plotly image trace's source) back to (H, W, 3) uint8 RGB."""
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    with Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :]))) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def heatmap_traces(app: AppTest) -> tuple[dict, dict, dict, dict]:
    """(original image, shared image, heatmap, layout) of the error page's first chart."""
    figure = figures(app)[0]
    original, shared, heatmap = figure["data"]
    assert (original["type"], shared["type"], heatmap["type"]) == ("image", "image", "heatmap")
    return original, shared, heatmap, figure["layout"]


def test_default_average_error_matches_brute_force() -> None:
    app = open_page()
    assert app.title[0].value == "Quantization error"
    errors = brute_force_errors(CHINA, 8)
    assert metric(app, "Average error") == f"{errors.mean():.2f}"
    assert metric(app, "Largest pixel error") == str(errors.max())
    assert any(r"\frac{1}{N}" in latex.value for latex in app.get("latex"))


def test_slider_changes_the_numbers_and_more_colors_err_less() -> None:
    app = open_page()
    before = float(metric(app, "Average error"))
    app.select_slider(key="quantization_error_k").set_value(64).run()
    assert not app.exception
    after = float(metric(app, "Average error"))
    assert after == round(brute_force_errors(CHINA, 64).mean(), 2)
    assert after < before


def test_heatmap_is_full_resolution_with_hover_colors_and_a_fixed_or_stretched_scale() -> None:
    app = open_page()
    original, shared, heatmap, layout = heatmap_traces(app)
    errors = decode(heatmap["z"])
    np.testing.assert_array_equal(errors, brute_force_errors(CHINA, 8))
    palette, labels = palette_kmeans(CHINA, 8)
    # The hover reads each pixel's colors from the images under the heatmap, on the same pixel grid.
    np.testing.assert_array_equal(decode_png(original["source"]), CHINA)
    np.testing.assert_array_equal(decode_png(shared["source"]), palette[labels])
    for trace in (original, shared, heatmap):
        assert (trace["x0"], trace["dx"], trace["y0"], trace["dy"]) == (0, 1, 0, 1)
    assert layout["hovermode"] == "x unified"
    assert "%{x}" in layout["xaxis"]["unifiedhovertitle"]["text"] and "row %{y}" in original["hovertemplate"]
    assert "original rgb(%{color[0]}, %{color[1]}, %{color[2]})" in original["hovertemplate"]
    assert "shared rgb(%{color[0]}, %{color[1]}, %{color[2]})" in shared["hovertemplate"]
    assert "error E = %{z}" in heatmap["hovertemplate"]
    assert (heatmap["zmin"], heatmap["zmax"]) == (0, 765)
    app.toggle(key="quantization_error_auto_scale").set_value(True).run()
    assert heatmap_traces(app)[2]["zmax"] == errors.max()


def test_errors_above_255_are_sent_exactly() -> None:
    app = open_page()
    app.select_slider(key="quantization_error_k").set_value(1).run()
    assert not app.exception
    errors = brute_force_errors(CHINA, 1)
    assert errors.max() > 255
    np.testing.assert_array_equal(decode(heatmap_traces(app)[2]["z"]), errors)


def test_moves_recompute_nothing_already_seen(record_calls) -> None:
    import ui.image_choice as image_choice

    image_choice.shared_colors.clear()  # so the new k below is new whatever ran before
    image_choice.error_map.clear()
    app = open_page()
    app.select_slider(key="quantization_error_k").set_value(3).run()
    calls = record_calls(image_choice, ("palette_kmeans", "palette_png", "png_bytes", "pixel_error", "error_curve"))
    app.toggle(key="quantization_error_auto_scale").set_value(True).run()
    app.select_slider(key="quantization_error_k").set_value(8).run()  # seen at the first run
    assert not app.exception
    assert calls == []
    app.select_slider(key="quantization_error_k").set_value(12).run()
    assert calls == ["palette_kmeans", "palette_png", "pixel_error"]  # a new k: the fit, its file and its errors


def test_curve_falls_with_k_and_marks_the_current_k() -> None:
    app = open_page()
    app.select_slider(key="quantization_error_k").set_value(54).run()
    line, marker = figures(app)[1]["data"]
    ks, curve = np.array(line["x"]), decode(line["y"])
    assert ks[0] == 1 and ks[-1] == 256
    assert (np.diff(curve) <= 0.02 * curve[:-1]).all()
    assert marker["x"] == [54]
    assert np.isclose(marker["y"][0], brute_force_errors(CHINA, 54).mean())


def test_image_chosen_on_the_other_page_is_used_from_session_state() -> None:
    pixels = np.zeros((6, 8, 3), dtype=np.uint8)
    pixels[:, 4:] = (200, 40, 10)
    app = AppTest.from_file(PAGE, default_timeout=180)
    image = ChosenImage("two.png", pixels, image_digest(pixels), uploaded=True)
    app.session_state[IMAGE_KEY] = image  # as the shared colors page leaves it after an upload
    app.session_state[UPLOADED_KEY] = ("file-id-of-two.png", image)
    app.run()
    assert not app.exception
    assert metric(app, "Average error") == "0.00"  # two colors, eight to share
    assert app.radio(key="image_source").value == "your own image"
    assert "two.png" in as_read(app.sidebar.caption[0].value)
    assert not app.sidebar.info and not app.sidebar.error


def test_large_image_heatmap_draws_every_second_pixel_with_true_coordinates() -> None:
    rng = np.random.default_rng(3)
    colors = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    pixels = colors[(np.arange(800)[:, None] // 100 + np.arange(1000)[None, :] // 125) % 16]  # 800 × 1000
    app = AppTest.from_file(PAGE, default_timeout=180)
    app.session_state[IMAGE_KEY] = ChosenImage("stripes.png", pixels, image_digest(pixels), uploaded=True)
    app.run()
    assert not app.exception
    original, shared, heatmap, _ = heatmap_traces(app)
    palette, labels = palette_kmeans(pixels, 8)
    errors = brute_force_errors(pixels, 8)
    np.testing.assert_array_equal(decode(heatmap["z"]), errors[::2, ::2])
    np.testing.assert_array_equal(decode_png(original["source"]), pixels[::2, ::2])
    np.testing.assert_array_equal(decode_png(shared["source"]), palette[labels][::2, ::2])
    for trace in (original, shared, heatmap):  # drawn pixel i sits at coordinate 2 i
        assert (trace["x0"], trace["dx"], trace["y0"], trace["dy"]) == (0, 2, 0, 2)
    assert metric(app, "Average error") == f"{errors.mean():.2f}"  # over every pixel, not only the drawn ones
    assert any("One pixel in 2" in caption.value for caption in app.caption)


def test_non_image_upload_shows_an_error_and_the_page_carries_on() -> None:
    app = open_page()
    app.radio(key="image_source").set_value("your own image").run()
    app.file_uploader(key="image_upload").set_value(("notes.png", b"not an image at all", "image/png")).run()
    assert not app.exception
    assert "not an image" in app.sidebar.error[0].value
    assert metric(app, "Average error") == f"{brute_force_errors(CHINA, 8).mean():.2f}"
