"""AppTest of pages/shared_colors.py: byte accounting by hand, palette PNG, magnifier, uploads good and bad."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from image_files import png_header_only
from streamlit.testing.v1 import AppTest

from core.images.io import palette_png, png_bytes, sample_image
from core.images.palette import palette_kmeans

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "shared_colors.py")
CHINA = sample_image("china.jpg")
HEIGHT, WIDTH = CHINA.shape[:2]


def open_page() -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not app.exception, app.exception
    return app


def metric(app: AppTest, label: str) -> str:
    [value] = [m.value for m in app.metric if m.label == label]
    return value


def as_int(text: str) -> int:
    return int(text.replace(",", ""))


def hand_shared_bytes(pixels: int, k: int) -> int:
    bits = math.ceil(math.log2(k)) if k > 1 else 0
    return math.ceil(pixels * bits / 8) + 3 * k


def upload(app: AppTest, name: str, data: bytes) -> AppTest:
    if app.radio(key="image_source").value != "your own image":
        app.radio(key="image_source").set_value("your own image").run()
    app.file_uploader(key="image_upload").set_value((name, data, "image/png")).run()
    assert not app.exception, app.exception
    return app


def grid_numbers(app: AppTest) -> np.ndarray:
    [table] = [h.value for h in app.get("html") if h.value.startswith("<table")]
    return np.array([[int(n) for n in re.findall(r">(\d+)</td>", row)] for row in table.split("<tr>")[1:]])


def test_default_is_china_at_eight_colors_with_bytes_worked_by_hand() -> None:
    app = open_page()
    assert app.title[0].value == "Shared colors"
    assert app.slider(key="shared_colors_k").value == 8
    assert "china.jpg" in app.sidebar.caption[0].value
    pixels = HEIGHT * WIDTH
    assert as_int(metric(app, "Plain RGB (bytes)")) == pixels * 3 == 819_840
    assert as_int(metric(app, "Shared colors (bytes)")) == hand_shared_bytes(pixels, 8) == 102_504
    assert metric(app, "Compression ratio") == f"{819_840 / 102_504:.1f}×"
    sentence = next(m.value for m in app.markdown if m.value.startswith("Stored plainly"))
    assert "3-bit index" in sentence and "102,504 bytes" in sentence
    assert any("529,760" in c.value and "4,824,160" in c.value for c in app.caption)


def test_pictures_are_pngs_and_the_palette_png_is_offered() -> None:
    app = open_page()
    urls = [url for image in app.get("image") for url in image.value]
    assert len(urls) >= 2 and all(url.endswith(".png") for url in urls[:2])  # never re-encoded as JPEG
    palette, labels = palette_kmeans(CHINA, 8)
    assert as_int(metric(app, "Shared colors as palette PNG (bytes)")) == len(palette_png(palette, labels))
    assert as_int(metric(app, "Original as PNG (bytes)")) == len(png_bytes(CHINA))
    assert app.get("download_button")[0].proto.label == "Download the palette PNG"
    colors = len(np.unique(CHINA.reshape(-1, 3), axis=0))
    assert [image.captions for image in app.get("image")][:2] == [[f"Original: {colors:,} colors"], ["8 shared colors"]]


@pytest.mark.parametrize("k", [1, 2, 5, 256])
def test_slider_changes_the_numbers(k: int) -> None:
    app = open_page()
    app.slider(key="shared_colors_k").set_value(k).run()
    assert not app.exception
    colors = len(palette_kmeans(CHINA, k)[0])  # k, unless two centers round to the same color
    assert as_int(metric(app, "Shared colors (bytes)")) == hand_shared_bytes(HEIGHT * WIDTH, colors)
    swatches = next(h.value for h in app.get("html") if h.value.startswith('<div style="display: flex; flex-wrap'))
    assert swatches.count("title=") == colors


def test_magnifier_shows_the_stored_indices() -> None:
    app = open_page()
    _, labels = palette_kmeans(CHINA, 8)
    top, left = (HEIGHT - 8) // 2, (WIDTH - 8) // 2
    np.testing.assert_array_equal(grid_numbers(app), labels[top : top + 8, left : left + 8])
    app.slider(key="shared_colors_top").set_value(0).run()
    app.slider(key="shared_colors_left").set_value(WIDTH - 8).run()
    np.testing.assert_array_equal(grid_numbers(app), labels[:8, -8:])
    assert any("64 × 3 bits = 24 bytes" in c.value for c in app.caption)


def test_picker_switches_to_the_flower() -> None:
    app = open_page()
    app.radio(key="image_source").set_value("flower.jpg").run()
    assert not app.exception
    assert "flower.jpg" in app.sidebar.caption[0].value
    palette, labels = palette_kmeans(sample_image("flower.jpg"), 8)
    assert as_int(metric(app, "Shared colors as palette PNG (bytes)")) == len(palette_png(palette, labels))


def test_good_upload_replaces_the_image() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    app = upload(open_page(), "noise.png", png_bytes(pixels))
    assert not app.sidebar.error
    assert as_int(metric(app, "Plain RGB (bytes)")) == 30 * 40 * 3
    assert "noise.png" in app.sidebar.caption[0].value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"just some text, no picture here", "not an image"),
        (png_bytes(np.zeros((64, 64, 3), dtype=np.uint8))[:60], "not a readable image"),
        (png_header_only(50_000, 50_000), "decompression-bomb"),
    ],
)
def test_bad_upload_shows_an_error_and_keeps_the_previous_image(data: bytes, message: str) -> None:
    app = upload(open_page(), "bad.png", data)
    [error] = app.sidebar.error
    assert message in error.value and "Still showing china.jpg" in error.value
    assert as_int(metric(app, "Plain RGB (bytes)")) == 819_840
    app.slider(key="shared_colors_k").set_value(4).run()  # the app carries on
    assert not app.exception
    assert as_int(metric(app, "Shared colors (bytes)")) == hand_shared_bytes(HEIGHT * WIDTH, 4)


def test_bad_upload_after_a_good_one_keeps_the_good_one() -> None:
    app = upload(open_page(), "gray.png", png_bytes(np.full((10, 12, 3), 90, dtype=np.uint8)))
    upload(app, "broken.png", b"\x89PNG\r\n\x1a\n garbage")
    assert "Still showing gray.png" in app.sidebar.error[0].value
    assert as_int(metric(app, "Plain RGB (bytes)")) == 10 * 12 * 3
    assert any("only 1 distinct color," in i.value for i in app.info)


def test_oversized_upload_is_downscaled_with_a_notice() -> None:
    app = upload(open_page(), "big.png", png_bytes(np.full((1000, 4100, 3), 200, dtype=np.uint8)))
    plain = as_int(metric(app, "Plain RGB (bytes)"))
    assert plain <= 4_000_000 * 3 and plain > 3_900_000 * 3
    assert any("Downscaled from 4100×1000" in notice.value for notice in app.sidebar.info)


def test_moves_recompute_nothing_already_seen(record_calls) -> None:
    import ui.image_choice as image_choice

    image_choice.shared_colors.clear()  # so the new k below is new whatever ran before
    app = open_page()
    app.slider(key="shared_colors_k").set_value(3).run()
    calls = record_calls(image_choice, ("palette_kmeans", "palette_png", "png_bytes", "error_curve"))
    app.slider(key="shared_colors_top").set_value(0).run()
    app.slider(key="shared_colors_k").set_value(8).run()  # seen at the first run
    assert not app.exception
    assert calls == []
    app.slider(key="shared_colors_k").set_value(9).run()
    assert calls == ["palette_kmeans", "palette_png"]  # a new k: the fit and its file, nothing per image


def test_uploaded_file_names_are_shown_as_typed_not_as_markdown():
    from ui.image_choice import escape_markdown

    assert escape_markdown("[x](https://evil.example/a).png") == r"\[x\]\(https\://evil.example/a\).png"
    assert escape_markdown("my_photo*1.png") == r"my\_photo\*1.png"
