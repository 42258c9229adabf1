"""AppTest of chapters/shared_colors.py: byte accounting by hand, palette PNG, magnifier, uploads good and bad."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import as_read
from image_files import png_header_only
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.images.io import image_digest, palette_png, png_bytes, sample_image
from core.images.palette import palette_kmeans
from ui.image_choice import ChosenImage, block_locator_png

PAGE = str(Path(__file__).resolve().parent.parent / "chapters" / "shared_colors.py")
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
    assert app.select_slider(key="shared_colors_k").value == 8
    assert "china.jpg" in as_read(app.sidebar.caption[0].value)
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
    captions = [image.captions for image in app.get("image")]
    assert captions[:4] == [["1 shared color"], ["2 shared colors"], [f"Original: {colors:,} colors"], ["8 shared colors"]]


def test_walks_one_color_then_two_before_the_slider() -> None:
    app = open_page()
    one, two = (palette_kmeans(CHINA, k) for k in (1, 2))
    assert len(one[0]) == 1 and np.abs(one[0][0].astype(int) - CHINA.reshape(-1, 3).mean(axis=0)).max() <= 0.5  # the average
    assert len(two[0]) == 2
    texts = [m.value for m in app.markdown]
    assert any("average" in text and "3 bytes" in text for text in texts)
    assert any("one bit" in text for text in texts)
    headings = [h.value for h in app.subheader]
    assert headings.index("One color, then two") < headings.index("Your turn: choose k")


def test_k_control_gives_1_to_16_half_the_track_and_reaches_256() -> None:
    from ui.image_choice import K_STOPS

    app = open_page()
    control = app.select_slider(key="shared_colors_k")
    assert list(control.options) == [str(k) for k in K_STOPS]
    assert K_STOPS[:16] == tuple(range(1, 17)) and K_STOPS[-1] == 256
    assert len([k for k in K_STOPS if k > 16]) == 16  # 16…256 in as many stops as 1…16
    assert len([k for k in K_STOPS if k >= 128]) <= 5


@pytest.mark.parametrize("k", [1, 2, 5, 256])
def test_slider_changes_the_numbers(k: int) -> None:
    app = open_page()
    app.select_slider(key="shared_colors_k").set_value(k).run()
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
    assert "flower.jpg" in as_read(app.sidebar.caption[0].value)
    palette, labels = palette_kmeans(sample_image("flower.jpg"), 8)
    assert as_int(metric(app, "Shared colors as palette PNG (bytes)")) == len(palette_png(palette, labels))


def test_good_upload_replaces_the_image() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    app = upload(open_page(), "noise.png", png_bytes(pixels))
    assert not app.sidebar.error
    assert as_int(metric(app, "Plain RGB (bytes)")) == 30 * 40 * 3
    assert "noise.png" in as_read(app.sidebar.caption[0].value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"just some text, no picture here", "not an image"),
        (png_bytes(np.zeros((64, 64, 3), dtype=np.uint8))[:60], "truncated"),
        (png_header_only(50_000, 50_000), "decompression-bomb"),
    ],
)
def test_bad_upload_shows_an_error_and_keeps_the_previous_image(data: bytes, message: str) -> None:
    app = upload(open_page(), "bad.png", data)
    [error] = app.sidebar.error
    assert message in as_read(error.value) and "Still showing “china.jpg”" in as_read(error.value)
    assert as_int(metric(app, "Plain RGB (bytes)")) == 819_840
    app.select_slider(key="shared_colors_k").set_value(4).run()  # the app carries on
    assert not app.exception
    assert as_int(metric(app, "Shared colors (bytes)")) == hand_shared_bytes(HEIGHT * WIDTH, 4)


def test_bad_upload_after_a_good_one_keeps_the_good_one() -> None:
    app = upload(open_page(), "gray.png", png_bytes(np.full((10, 12, 3), 90, dtype=np.uint8)))
    upload(app, "broken.png", b"\x89PNG\r\n\x1a\n garbage")
    assert "Still showing “gray.png”" in as_read(app.sidebar.error[0].value)
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
    app.select_slider(key="shared_colors_k").set_value(3).run()
    calls = record_calls(image_choice, ("palette_kmeans", "palette_png", "png_bytes", "error_curve"))
    app.slider(key="shared_colors_top").set_value(0).run()
    app.select_slider(key="shared_colors_k").set_value(8).run()  # seen at the first run
    assert not app.exception
    assert calls == []
    app.select_slider(key="shared_colors_k").set_value(9).run()
    assert calls == ["palette_kmeans", "palette_png"]  # a new k: the fit and its file, nothing per image


def test_sizes_read_width_by_height_in_the_sidebar_and_the_bytes_text() -> None:
    app = open_page()
    assert f"{WIDTH} × {HEIGHT} = {WIDTH * HEIGHT:,} pixels" in as_read(app.sidebar.caption[0].value)
    sentence = next(m.value for m in app.markdown if m.value.startswith("Stored plainly"))
    assert f"{WIDTH} × {HEIGHT} = {WIDTH * HEIGHT:,} pixels" in sentence


def test_block_outline_shows_on_black_white_and_red() -> None:
    for color in ((0, 0, 0), (255, 255, 255), (255, 0, 0)):
        pixels = np.full((80, 80, 3), color, dtype=np.uint8)
        image = ChosenImage("flat.png", pixels, image_digest(pixels))
        outlined = np.asarray(Image.open(io.BytesIO(block_locator_png(image, 36, 36, 8, 320))).convert("RGB"))
        marked = np.abs(outlined.astype(int) - np.array(color)).sum(axis=2) > 200  # far from the background
        assert marked[30:50, 30:50].sum() >= 40, color  # a ring of clearly different pixels around the block


def test_a_replaced_upload_leaves_nothing_kept_for_it() -> None:
    import gc

    from core.content_cache import PROCESS_BUDGET
    from core.images import palette as palette_module

    first = np.random.default_rng(5).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    app = upload(open_page(), "first.png", png_bytes(first))
    digest = image_digest(first)
    assert any(isinstance(key[1], tuple) and key[1][:1] == (digest,) for key in PROCESS_BUDGET.keys() if isinstance(key[0], str))
    tables = len(palette_module._color_table)
    upload(app, "second.png", png_bytes(np.full((20, 20, 3), 9, dtype=np.uint8)))
    app.run()  # session state lets go of a replaced value at the start of the next run
    gc.collect()
    assert not any(isinstance(key[1], tuple) and key[1][:1] == (digest,) for key in PROCESS_BUDGET.keys() if isinstance(key[0], str))
    assert len(palette_module._color_table) <= tables  # the first upload's table went, the second's came
