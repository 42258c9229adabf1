"""AppTest of chapters/quantization_error.py: the average error, what the error map is sent, the curve, uploads.

The error map and the curve are project components (ui/error_map.py, ui/charts.py): their data is read
from the elements' JSON. What the browser computes from it (E, the hover) is checked in tests/test_browser.py.
"""

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

PAGE = str(Path(__file__).resolve().parent.parent / "chapters" / "quantization_error.py")
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


def component_data(app: AppTest, name: str) -> list[dict]:
    """The data of every project component `name` on the page, in page order."""
    return [json.loads(element.proto.json) for element in app.get("bidi_component") if element.proto.component_name == name]


def error_map_data(app: AppTest) -> dict:
    [data] = component_data(app, "quantization_explorer.error_map")
    return data


def curve_figure(app: AppTest) -> dict:
    [data] = component_data(app, "quantization_explorer.plotly_chart")
    return json.loads(data["figure"])


def decode(array: dict | list) -> np.ndarray:
    """A plotly typed array ({dtype, bdata, shape}) or a plain list back to numpy."""
    if isinstance(array, list):
        return np.array(array)
    values = np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]).newbyteorder("<"))
    return values.reshape([int(n) for n in str(array.get("shape", values.size)).split(",")])


def decode_png(encoded: str) -> np.ndarray:
    """A base64 PNG file back to (H, W, 3) uint8 RGB."""
    with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


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


def test_error_map_gets_both_images_at_full_resolution_scaled_to_the_largest_error_or_fixed() -> None:
    app = open_page()
    data = error_map_data(app)
    palette, labels = palette_kmeans(CHINA, 8)
    # The browser computes E and the hover from these two images, pixel for pixel.
    np.testing.assert_array_equal(decode_png(data["original_png"]), CHINA)
    np.testing.assert_array_equal(decode_png(data["shared_png"]), palette[labels])
    assert data["step"] == 1
    largest = brute_force_errors(CHINA, 8).max()
    assert data["scale_max"] == largest < 765  # by default the map's colors span this image's errors
    assert data["ticks"][0] == 0 and data["ticks"][-1] <= largest and len(data["ticks"]) >= 3
    assert data["titles"] == ["Original", "8 shared colors", "Error E per pixel"]
    assert "|ΔR| + |ΔG| + |ΔB|" in data["colorbar_title"]
    app.radio(key="quantization_error_scale").set_value("fixed").run()
    assert error_map_data(app)["scale_max"] == 765


def test_original_is_sent_again_only_when_the_browser_does_not_hold_it() -> None:
    app = open_page()
    digest = error_map_data(app)["digest"]
    app.session_state["quantization_error_map"] = {"held": digest}  # as the component reports after drawing
    app.select_slider(key="quantization_error_k").set_value(16).run()
    assert not app.exception
    data = error_map_data(app)
    assert data["original_png"] is None and data["titles"][1] == "16 shared colors"
    app.session_state["quantization_error_map"] = {"held": None}  # a tab that lost it asks again
    app.run()
    np.testing.assert_array_equal(decode_png(error_map_data(app)["original_png"]), CHINA)


def test_scale_reaches_errors_above_255() -> None:
    app = open_page()
    app.select_slider(key="quantization_error_k").set_value(1).run()
    assert not app.exception
    errors = brute_force_errors(CHINA, 1)
    assert errors.max() > 255
    assert error_map_data(app)["scale_max"] == errors.max()
    assert metric(app, "Largest pixel error") == str(errors.max())


def test_moves_recompute_nothing_already_seen(record_calls) -> None:
    import ui.image_choice as image_choice

    image_choice.shared_colors.clear()  # so the new k below is new whatever ran before
    image_choice.error_map.clear()
    app = open_page()
    app.select_slider(key="quantization_error_k").set_value(3).run()
    calls = record_calls(image_choice, ("palette_kmeans", "palette_png", "png_bytes", "pixel_error", "error_curve"))
    app.radio(key="quantization_error_scale").set_value("fixed").run()
    app.select_slider(key="quantization_error_k").set_value(8).run()  # seen at the first run
    assert not app.exception
    assert calls == []
    app.select_slider(key="quantization_error_k").set_value(12).run()
    assert calls == ["palette_kmeans", "palette_png", "pixel_error"]  # a new k: the fit, its file and its errors


def test_curve_falls_with_k_and_marks_the_current_k() -> None:
    app = open_page()
    app.select_slider(key="quantization_error_k").set_value(54).run()
    line, marker = curve_figure(app)["data"]
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


def test_large_image_map_draws_every_second_pixel_and_reports_the_step() -> None:
    rng = np.random.default_rng(3)
    colors = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    pixels = colors[(np.arange(800)[:, None] // 100 + np.arange(1000)[None, :] // 125) % 16]  # 800 × 1000
    app = AppTest.from_file(PAGE, default_timeout=180)
    app.session_state[IMAGE_KEY] = ChosenImage("stripes.png", pixels, image_digest(pixels), uploaded=True)
    app.run()
    assert not app.exception
    data = error_map_data(app)
    palette, labels = palette_kmeans(pixels, 8)
    errors = brute_force_errors(pixels, 8)
    np.testing.assert_array_equal(decode_png(data["original_png"]), pixels[::2, ::2])
    np.testing.assert_array_equal(decode_png(data["shared_png"]), palette[labels][::2, ::2])
    assert data["step"] == 2  # the hover shows drawn pixel i at row/column 2 i
    assert data["scale_max"] == errors.max()  # over every pixel, as the metric
    assert metric(app, "Average error") == f"{errors.mean():.2f}"  # over every pixel, not only the drawn ones
    assert any("One pixel in 2" in caption.value for caption in app.caption)


def test_non_image_upload_shows_an_error_and_the_page_carries_on() -> None:
    app = open_page()
    app.radio(key="image_source").set_value("your own image").run()
    app.file_uploader(key="image_upload").set_value(("notes.png", b"not an image at all", "image/png")).run()
    assert not app.exception
    assert "not an image" in app.sidebar.error[0].value
    assert metric(app, "Average error") == f"{brute_force_errors(CHINA, 8).mean():.2f}"


def test_presentation_mode_sets_chart_text_of_16_px_or_more() -> None:
    app = open_page()
    assert curve_figure(app)["layout"].get("font", {}).get("size") is None  # plotly's 12 px by default
    assert not error_map_data(app)["presentation"]
    app.session_state["presentation"] = True  # the session-wide toggle's key
    app.run()
    layout = curve_figure(app)["layout"]
    assert layout["font"]["size"] >= 16 and layout["hoverlabel"]["font"]["size"] >= 16
    assert error_map_data(app)["presentation"]  # the canvases' text grows with the page (ui/components/canvas_views.css)
