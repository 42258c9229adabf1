"""The app in a real browser: every registered page loads cleanly, its sliders move its numbers by keyboard,
its plots draw; the autoencoder canvas takes a mouse drawing; an uploaded image is the one quantized.

Pages are read from app.py, so a page the lead registers is tested without editing this file.
Screenshots of every page go to screenshots/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, SLIDERS_THAT_CHANGE_NO_NUMBER, registered_pages

HOME = "Home"
PAGES = registered_pages()
UPLOAD_PAGES = [title for title, path in PAGES.items() if "choose_image(" in (ROOT / path).read_text()]


def sliders(app_page) -> list:
    """The sliders a user can move now: visible and enabled, main area and sidebar."""
    found = app_page.page.locator("[data-testid=stSlider]")
    return [
        slider
        for slider in found.all()
        if slider.is_visible() and slider.locator("input[type=range]").is_enabled()
    ]


def slider_label(slider) -> str:
    return slider.locator("[data-testid=stWidgetLabel]").inner_text().strip()


def key_that_moves(slider) -> str:
    """ArrowRight, or ArrowLeft when the thumb already sits at its maximum."""
    thumb = slider.locator("input[type=range]")
    at_end = thumb.get_attribute("value") == thumb.get_attribute("max")
    return "ArrowLeft" if at_end else "ArrowRight"


def assert_clean(app_page) -> None:
    assert app_page.errors() == [], f"error elements on the page: {app_page.errors()}"
    tracebacks = app_page.server_tracebacks()
    assert not tracebacks, "the server logged a Python exception:\n" + "\n".join(tracebacks)


def metrics(app_page) -> dict[str, str]:
    """{label: value} of the st.metric elements shown."""
    labels = app_page.page.locator("[data-testid=stMetricLabel]").all_inner_texts()
    values = app_page.page.locator("[data-testid=stMetricValue]").all_inner_texts()
    return {label.strip(): value.strip() for label, value in zip(labels, values)}


def shown_images(app_page) -> list[tuple[str, Image.Image]]:
    """(caption, decoded picture) of every st.image on the page, fetched as the browser fetched it."""
    found = []
    for figure in app_page.page.locator("[data-testid=stImage]").all():
        response = app_page.page.request.get(figure.locator("img").evaluate("img => img.src"))  # absolute URL
        caption = figure.locator("[data-testid=stImageCaption]")
        found.append((caption.inner_text() if caption.count() else "", Image.open(io.BytesIO(response.body()))))
    return found


def test_app_registers_pages():
    assert PAGES, "app.py registers no st.Page('pages/...') at all"


def test_home_page_links_every_section(app_page):
    app_page.open()
    assert_clean(app_page)
    links = app_page.page.locator("[data-testid=stMain] [data-testid=stPageLink]").all_inner_texts()
    start, *chapters = [link.strip().splitlines()[-1] for link in links]  # the first line is the icon's name
    assert start == f"Start here: {next(iter(PAGES))}"
    assert chapters == list(PAGES)
    app_page.screenshot(HOME)


@pytest.mark.parametrize("title", list(PAGES))
def test_page_loads_and_every_slider_moves_its_numbers(app_page, title):
    app_page.open(title)
    app_page.wait_drawn()
    assert_clean(app_page)
    app_page.screenshot(title)

    still = []
    for index in range(len(sliders(app_page))):
        current = sliders(app_page)  # found afresh: a rerun may rebuild the elements
        if index >= len(current):
            break
        slider = current[index]
        label = slider_label(slider)
        if label in SLIDERS_THAT_CHANGE_NO_NUMBER:
            continue
        before = app_page.numbers()
        app_page.press_slider(slider, key_that_moves(slider))
        if app_page.wait_numbers_change(before) == before:
            still.append(label)
        assert_clean(app_page)
    assert not still, f"on {title!r}, moving these sliders changed no number shown: {still}"
    app_page.wait_drawn()


def test_canvas_drawing_is_reconstructed_and_bits_change_its_mse(app_page):
    app_page.open("Autoencoder")
    app_page.draw([[(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]])  # a "7"
    app_page.page.get_by_text("your drawing").first.wait_for()
    app_page.wait_idle()
    app_page.wait_drawn()
    assert_clean(app_page)

    images = dict(shown_images(app_page))
    [drawn] = [picture for caption, picture in images.items() if "your drawing" in caption and "28×28" in caption]
    ink = np.asarray(drawn.convert("L"))
    assert ink.max() > 200 and ink.min() < 50, "the 28×28 input should show the white stroke on black"
    assert any(caption == "Float reconstruction" for caption in images)
    assert sum("reconstruction" in caption for caption in images) >= 2

    before = metrics(app_page)
    [quantized_label] = [label for label in before if label.endswith("MSE") and label != "Float MSE"]
    bits = app_page.page.locator("[data-testid=stSlider]", has_text="Bits per weight").first
    app_page.press_slider(bits, "Home")  # 1 bit: the model collapses, so the MSE must move
    app_page.wait_numbers_change(app_page.numbers())
    after = metrics(app_page)
    [new_label] = [label for label in after if label.endswith("MSE") and label != "Float MSE"]
    assert new_label != quantized_label
    assert after[new_label] != before[quantized_label]
    assert after["Float MSE"] == before["Float MSE"]
    assert_clean(app_page)
    app_page.screenshot("Autoencoder with a drawing")


def test_uploaded_image_is_the_one_quantized(app_page, tmp_path):
    # Four flat quadrants: with k >= 4 shared colors the quantized image must be this image exactly.
    colors = np.array([[200, 30, 40], [20, 160, 60], [30, 60, 210], [240, 220, 30]], dtype=np.uint8)
    pixels = np.zeros((80, 120, 3), dtype=np.uint8)
    pixels[:40, :60], pixels[:40, 60:], pixels[40:, :60], pixels[40:, 60:] = colors
    path = tmp_path / "quadrants.png"
    Image.fromarray(pixels).save(path)

    app_page.upload_image(UPLOAD_PAGES[0], path)
    assert "Showing “quadrants.png”: 120 × 80" in app_page.page.locator("[data-testid=stSidebarUserContent]").inner_text()
    app_page.wait_drawn()
    assert_clean(app_page)

    same = [
        caption
        for caption, picture in shown_images(app_page)
        if picture.size == (120, 80) and np.array_equal(np.asarray(picture.convert("RGB")), pixels)
    ]
    assert len(same) >= 2, "expected the original and its quantized copy, both equal to the upload"
    app_page.screenshot(f"{UPLOAD_PAGES[0]} with an upload")
