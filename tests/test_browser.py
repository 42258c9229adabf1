"""The app in a real browser: every registered page loads cleanly, its sliders move its numbers by keyboard,
its plots draw; the autoencoder canvas takes a mouse drawing; an uploaded image is the one quantized.

Pages are read from app.py, so a page the lead registers is tested without editing this file.
Screenshots of every page go to screenshots/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from conftest import ROOT, SLIDERS_THAT_CHANGE_NO_NUMBER, TRACEBACK, registered_pages
from PIL import Image

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
    assert PAGES, "app.py registers no st.Page('chapters/...') at all"


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


BURST_SECONDS = 5
KEY_REPEAT_SECONDS = 0.033  # a held key repeats about 30 times a second


@pytest.fixture(params=["idle", "both cores busy"])
def machine_load(request):
    """Nothing, or one CPU-bound process per core beside the server for the test's length (the race showed under load)."""
    spinners = []
    if request.param == "both cores busy":
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    yield request.param
    for spinner in spinners:
        spinner.kill()
        spinner.wait()


def thumb_value(slider) -> float:
    return float(slider.locator("input[type=range]").get_attribute("value"))


SLIDER_PAGES = [title for title, path in PAGES.items() if "st.slider(" in (ROOT / path).read_text()]


@pytest.mark.parametrize("title", SLIDER_PAGES)
def test_holding_an_arrow_key_on_the_main_slider_ends_clean_on_the_last_value(app_page, title, machine_load):
    app_page.open(title)
    app_page.wait_drawn()
    shown = [s for s in sliders(app_page) if slider_label(s) not in SLIDERS_THAT_CHANGE_NO_NUMBER]
    if not shown:
        pytest.skip(f"{title} shows no slider until the reader opens a section")
    slider = shown[0]
    label = slider_label(slider)
    thumb = slider.locator("input[type=range]")
    start, top, step = (float(thumb.get_attribute(name) or 1) for name in ("value", "max", "step"))
    thumb.focus()
    presses, deadline = 0, time.monotonic() + BURST_SECONDS
    while time.monotonic() < deadline:  # every press reruns the page: a burst of overlapping reruns
        app_page.page.keyboard.press("ArrowRight")
        presses += 1
        time.sleep(KEY_REPEAT_SECONDS)
    app_page.wait_idle()
    app_page.wait_drawn()
    assert_clean(app_page)
    slider = app_page.page.locator("[data-testid=stSlider]", has_text=label).first
    expected = min(top, start + presses * step)
    assert thumb_value(slider) == pytest.approx(expected), f"{presses} presses from {start:g} should end at {expected:g}"
    # The label over the thumb is the one the slider gives its value (a number, or a name such as "float32").
    shown = slider.get_by_test_id("stSliderThumbValue").inner_text().strip()
    assert shown == slider.locator("input[type=range]").get_attribute("aria-valuetext")
    # What the page shows belongs to the last value: one step away and back shows the same numbers.
    settled = app_page.numbers()
    app_page.press_slider(slider, "ArrowLeft")
    app_page.wait_numbers_change(settled)
    app_page.press_slider(slider, "ArrowRight")
    app_page.wait_idle()
    app_page.wait_drawn()
    assert app_page.numbers() == settled, "after the burst the page showed the results of another value"
    assert_clean(app_page)


def test_error_map_hover_shows_the_pixel_its_colors_and_its_error(app_page):
    from core.images.io import sample_image
    from core.images.palette import palette_kmeans

    app_page.open("Quantization error")
    app_page.wait_drawn()
    pixels = sample_image("china.jpg")
    palette, labels = palette_kmeans(pixels, 8)
    shared = palette[labels].astype(int)
    height, width = labels.shape
    for panel, (fx, fy) in (("error", (0.25, 0.6)), ("original", (0.7, 0.3))):
        box = app_page.page.locator(f"figure[data-panel={panel}] canvas").bounding_box()
        column, row = int(fx * width), int(fy * height)
        # Near the pixel (row, column): a screen pixel covers several image pixels at this size, so the
        # tooltip is checked against the pixel it names, which must be within a screen pixel of the aim.
        app_page.page.mouse.move(
            box["x"] + (column + 0.5) * box["width"] / width, box["y"] + (row + 0.5) * box["height"] / height
        )
        lines = app_page.page.locator(".qe-tooltip").inner_text().splitlines()
        shown_row, shown_column = (int(n) for n in re.fullmatch(r"row (\d+), column (\d+)", lines[0]).groups())
        per_screen_pixel = max(width / box["width"], height / box["height"])
        assert abs(shown_row - row) <= per_screen_pixel + 1 and abs(shown_column - column) <= per_screen_pixel + 1
        original = ", ".join(str(c) for c in pixels[shown_row, shown_column])
        quantized = ", ".join(str(c) for c in shared[shown_row, shown_column])
        error = int(np.abs(pixels[shown_row, shown_column].astype(int) - shared[shown_row, shown_column]).sum())
        assert lines[1:] == [f"original rgb({original})", f"shared rgb({quantized})", f"error E = {error}"]
    assert_clean(app_page)


def test_server_warms_every_page_in_the_background(app_page):
    from ui.warm_up import DONE_MESSAGE

    deadline = time.monotonic() + 300
    while DONE_MESSAGE not in app_page.server.log() and time.monotonic() < deadline:
        time.sleep(0.5)
    log = app_page.server.log()
    assert DONE_MESSAGE in log
    for path in PAGES.values():
        assert f"Warm-up: {path.removeprefix('chapters/').removesuffix('.py')} in" in log
    assert "did not finish" not in log
    assert TRACEBACK not in log
    with urllib.request.urlopen(f"{app_page.server.url}/warmed", timeout=5) as response:
        assert (response.status, response.read()) == (200, b"warm")


CHARTS_JS = """() => [...document.querySelectorAll('.qe-plotly-chart')].map(chart => ({
  drawn: chart.dataset.drawn ?? null, expected: chart.dataset.expected ?? null,
  legend: [...chart.querySelectorAll('.legendtext')].map(text => text.textContent),
}))"""


def test_a_chart_far_below_the_window_draws_the_last_move_once_scrolled_near(app_page):
    app_page.open("Weights")
    app_page.wait_drawn()
    [histogram, _] = app_page.page.evaluate(CHARTS_JS)
    assert histogram["drawn"] == histogram["expected"], "a chart's first figure is drawn at once, wherever it is"
    slider = next(s for s in sliders(app_page) if slider_label(s) == "Bits per weight")
    before = app_page.numbers()
    app_page.press_slider(slider, key_that_moves(slider))
    app_page.wait_numbers_change(before)
    app_page.wait_drawn()
    [kept, _] = app_page.page.evaluate(CHARTS_JS)
    assert kept == {**histogram, "expected": None}, "the histogram, ~1,000 px below the window, was drawn again"
    app_page.page.locator(".qe-plotly-chart").first.scroll_into_view_if_needed()
    app_page.wait_drawn()
    app_page.page.wait_for_function("() => document.querySelector('.qe-plotly-chart').dataset.expected !== undefined")
    app_page.wait_drawn()
    [redrawn, _] = app_page.page.evaluate(CHARTS_JS)
    assert redrawn["drawn"] == redrawn["expected"] != histogram["drawn"], "scrolled near, it shows the last move's figure"
    assert_clean(app_page)


def test_charts_in_a_closed_expander_are_drawn_when_it_opens(app_page):
    app_page.open("Calibration")
    app_page.wait_drawn()
    _, *hidden = app_page.page.evaluate(CHARTS_JS)
    assert hidden and all(chart == {"drawn": None, "expected": None, "legend": []} for chart in hidden)
    app_page.page.locator("[data-testid=stExpander] summary", has_text="How entropy and MSE choose").click()
    app_page.page.wait_for_function("() => document.querySelectorAll('.qe-plotly-chart[data-drawn]').length === 3")
    app_page.wait_drawn()
    _, kl, mse = app_page.page.evaluate(CHARTS_JS)
    assert kl["drawn"] == kl["expected"] and mse["drawn"] == mse["expected"]
    assert mse["legend"] == ["rounding", "clipping", "total"]
    assert_clean(app_page)
