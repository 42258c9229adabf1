"""Bad input everywhere a user can give it: a table of awkward uploads, every control at its extremes,
junk in every text box, and the autoencoder canvas left empty or scribbled full white.

Each input must give either a correct result or a clear st.error naming the problem, never a
traceback, and the page must still work for the next action. Uploads and controls run through
AppTest; the canvas needs the real browser.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from conftest import ROOT, as_read
from image_files import png_file
from PIL import Image, ImageFile, TiffImagePlugin
from streamlit.testing.v1 import AppTest

from core.images.io import MAX_FILE_BYTES, MAX_FRAMES_COUNTED, MAX_SOURCE_PIXELS, load_image
from ui.image_choice import IMAGE_KEY, OWN_IMAGE, SOURCE_KEY
from ui.literal_text import literal_text

# Every module in chapters/ is a page (the code pages share lives in ui/); each draws a title.
PAGE_SCRIPTS = sorted(path for path in (ROOT / "chapters").glob("*.py") if "st.title(" in path.read_text())
IMAGE_PAGES = [path for path in PAGE_SCRIPTS if "choose_image(" in path.read_text()]
JUNK_TEXT = ["", "   ", "abc", "nan", "-inf", "1e400", "1,,2", "0x1F", "½", "9" * 5000]
PREVIOUS = "previous.png"  # the good upload each case starts from, so a refused file must leave it in place


def run_page(path: Path) -> AppTest:
    app = AppTest.from_file(str(path), default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    return app


def page_id(path: Path) -> str:
    return path.stem


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.cache
def decompression_bomb(side: int = 30_000) -> bytes:
    """A valid side×side 1-bit black PNG (900 MP for 30000) in ~110 kB, written chunk by chunk."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row * 1000) for _ in range(side // 1000))
    data += compressor.compress(row * (side % 1000)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    whole = encoded(Image.fromarray(noise), "JPEG")
    return whole[: len(whole) // 2]


def sixteen_bit_png() -> bytes:
    ramp = np.linspace(0, 65535, 64).round().astype(np.uint16)
    return encoded(Image.fromarray(np.tile(ramp, (16, 1))), "PNG")  # mode I;16


def animated_gif() -> bytes:
    red, blue = Image.new("RGB", (24, 16), (255, 0, 0)), Image.new("RGB", (24, 16), (0, 0, 255))
    return encoded(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)


def exif_rotated_jpeg() -> bytes:
    """Stored 40 wide × 20 tall, left half black; orientation 6 (turn 90° clockwise) shows it 20 × 40, black on top."""
    stored = np.full((20, 40, 3), 255, dtype=np.uint8)
    stored[:, :20] = 0
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(Image.fromarray(stored), "JPEG", exif=exif.tobytes(), quality=95)


def transparent_png() -> bytes:
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[:, :10] = (255, 0, 0, 255)  # the right half stays fully transparent
    return encoded(Image.fromarray(rgba, "RGBA"), "PNG")


def strip_png(width: int, height: int) -> bytes:
    """A complete 1-bit black width × height PNG: a 1500×1 one is 90 bytes, a 40,000,000×1 one 4.9 kB."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)  # filter byte + packed bits
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    data = zlib.compress(row * height, 9)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def jpeg_claiming_more_than_it_holds() -> bytes:
    """The 631-byte start of an 8000×5000 JPEG, closed with an end-of-image marker: libjpeg fills the rest with gray."""
    whole = encoded(Image.new("RGB", (8000, 5000), (200, 30, 30)), "JPEG", quality=50)
    return whole[:629] + b"\xff\xd9"


def many_page_tiff(pages: int = 3 * MAX_FRAMES_COUNTED) -> bytes:
    page = Image.new("L", (1, 1), 0)
    return encoded(page, "TIFF", save_all=True, append_images=[page] * (pages - 1))


def thirty_two_bit_tiff() -> bytes:
    """A 32-bit integer ("I") TIFF holding 0…252 in 253 columns: an 8-bit ramp stored in 32 bits."""
    ramp = np.tile(np.arange(253, dtype=np.int32), (20, 1))
    return encoded(Image.fromarray(ramp, "I"), "TIFF")


def near(pixels: np.ndarray, color: tuple[int, int, int], tolerance: int = 0) -> bool:
    return bool(np.abs(pixels.astype(int) - np.array(color)).max() <= tolerance)


@dataclass(frozen=True)
class Upload:
    """One row of the table: a file, and either the problem its error must name or how the result must look."""

    name: str
    data: Callable[[], bytes]
    problem: str | None = None  # words the st.error must contain
    size: tuple[int, int] | None = None  # (width, height) shown
    looks_right: Callable[[np.ndarray], bool] = lambda pixels: True
    notice: str | None = None  # words a sidebar notice must contain
    k: int | None = None  # number of shared colors to set before uploading


UPLOADS = [
    Upload("empty.png", lambda: b"", problem="empty"),
    Upload("notes.png", lambda: b"These are my notes, not a picture.\n" * 20, problem="not an image"),
    Upload("truncated.jpg", truncated_jpeg, problem="truncated"),
    # Strips: refused from the header, before any decode or resize, with the limit and the received size.
    Upload("strip_1500x1.png", lambda: strip_png(1500, 1), problem="1,500×1 pixels, a side ratio of 1,500.0:1; at most 20:1"),
    Upload("strip_3000x2.png", lambda: strip_png(3000, 2), problem="3,000×2 pixels"),
    Upload("strip_60000x1.png", lambda: strip_png(60_000, 1), problem="60,000×1 pixels"),
    Upload("tall_1x70000.png", lambda: strip_png(1, 70_000), problem="1×70,000 pixels"),
    Upload("strip_40000000x1.png", lambda: strip_png(40_000_000, 1), problem="40,000,000×1 pixels"),
    Upload("claims_8000x5000.jpg", jpeg_claiming_more_than_it_holds, problem="truncated: a complete 8000×5000 JPEG holds at least 78,125 bytes"),
    Upload("too_big.png", lambda: b"\x89PNG" + bytes(MAX_FILE_BYTES), problem=f"{MAX_FILE_BYTES + 4:,} bytes; at most {MAX_FILE_BYTES:,} bytes"),
    Upload(
        "pages.tiff",
        many_page_tiff,
        size=(1, 1),
        notice=f"at least {MAX_FRAMES_COUNTED} frames (counting stopped there)",
    ),
    Upload(
        "ramp_int32.tiff",
        thirty_two_bit_tiff,
        size=(253, 20),
        looks_right=lambda pixels: bool((pixels[0, :, 0] == np.arange(253)).all()),  # 0…252 kept, not near black
        notice="32-bit integer pixels, all within 0…255",
    ),
    Upload("bomb.png", decompression_bomb, problem=f"at most {MAX_SOURCE_PIXELS:,}"),
    Upload(
        "dot.png",
        lambda: encoded(Image.new("RGB", (1, 1), (12, 34, 56)), "PNG"),
        size=(1, 1),
        looks_right=lambda pixels: near(pixels, (12, 34, 56)),
    ),
    Upload(
        "one_color.png",
        lambda: encoded(Image.new("RGB", (50, 40), (90, 120, 200)), "PNG"),
        size=(50, 40),
        looks_right=lambda pixels: near(pixels, (90, 120, 200)),
        k=256,
    ),
    Upload(
        "sixteen_bit.png",
        sixteen_bit_png,
        size=(64, 16),
        # 0…65535 in 64 steps is 0…255 in steps of about 4: gray, increasing, full range.
        looks_right=lambda pixels: bool(
            (pixels[..., 0] == pixels[..., 2]).all()
            and (np.diff(pixels[0, :, 0].astype(int)) >= 0).all()
            and pixels[0, 0, 0] == 0
            and pixels[0, -1, 0] == 255
        ),
    ),
    Upload(
        "cmyk.jpg",
        lambda: encoded(Image.new("CMYK", (32, 24), (0, 255, 255, 0)), "JPEG", quality=95),
        size=(32, 24),
        looks_right=lambda pixels: near(pixels, (255, 0, 0), tolerance=24),  # no cyan, full magenta + yellow: red
    ),
    Upload(
        "animated.gif",
        animated_gif,
        size=(24, 16),
        looks_right=lambda pixels: near(pixels, (255, 0, 0)),  # the first frame
        notice="2 frames",
    ),
    Upload(
        "rotated.jpg",
        exif_rotated_jpeg,
        size=(20, 40),
        looks_right=lambda pixels: pixels[:20].mean() < 40 and pixels[20:].mean() > 215,
        notice="EXIF orientation",
    ),
    Upload(
        "transparent.png",
        transparent_png,
        size=(20, 20),
        looks_right=lambda pixels: near(pixels[:, :10], (255, 0, 0)) and near(pixels[:, 10:], (255, 255, 255)),
    ),
]


def k_slider(app: AppTest):
    [slider] = [slider for slider in app.select_slider if slider.label.startswith("Number of shared colors")]
    return slider


def upload(app: AppTest, name: str, data: bytes) -> None:
    app.file_uploader[0].set_value((name, data, "application/octet-stream"))
    app.run()


@pytest.fixture(params=IMAGE_PAGES, ids=page_id, scope="module")
def image_page(request) -> AppTest:
    """An image page with 'your own image' chosen."""
    app = run_page(request.param)
    app.sidebar.radio(key=SOURCE_KEY).set_value(OWN_IMAGE).run()
    return app


@pytest.mark.parametrize("case", UPLOADS, ids=lambda case: case.name)
def test_upload_gives_a_correct_image_or_names_the_problem(image_page, case):
    app = image_page
    previous = np.full((30, 30, 3), 77, dtype=np.uint8)
    upload(app, PREVIOUS, encoded(Image.fromarray(previous), "PNG"))
    k_slider(app).set_value(case.k or 8).run()
    upload(app, case.name, case.data())
    assert not app.exception, app.exception

    chosen = app.session_state[IMAGE_KEY]
    sidebar = [element.value for element in [*app.sidebar.caption, *app.sidebar.info, *app.sidebar.error]]
    if case.problem:
        errors = [error.value for error in app.sidebar.error]
        assert len(errors) == 1 and f"“{case.name}”" in as_read(errors[0]) and case.problem in as_read(errors[0]), sidebar
        assert chosen.name == PREVIOUS and np.array_equal(chosen.pixels, previous), "the last good image must stay"
    else:
        assert not app.error, [error.value for error in app.error]
        width, height = case.size
        assert f"Showing “{case.name}”: {width:,} × {height:,}" in as_read(" ".join(sidebar)), sidebar
        assert chosen.pixels.shape == (height, width, 3)
        assert case.looks_right(chosen.pixels), chosen.pixels
        if case.notice:
            assert any(case.notice in as_read(info.value) for info in app.sidebar.info), sidebar

    k_slider(app).set_value(3).run()  # the next action still works; a refused file's message may stay in the sidebar
    assert not app.exception, app.exception
    assert not app.main.error, [error.value for error in app.main.error]
    assert app.metric, "the page shows its numbers again"


def test_a_strip_of_a_few_kilobytes_is_refused_before_any_decode_or_resize(monkeypatch):
    work = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: work.append("decode"))
    monkeypatch.setattr(Image.Image, "resize", lambda self, *args, **kwargs: work.append("resize"))
    data = strip_png(40_000_000, 1)
    assert len(data) < 5_000
    with pytest.raises(ValueError, match="at most 20:1"):
        load_image(data)
    assert work == []


def test_a_tiff_of_many_pages_is_read_only_up_to_the_frame_cap(monkeypatch):
    visited = []
    original = TiffImagePlugin.TiffImageFile._seek
    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "_seek", lambda self, frame: visited.append(frame) or original(self, frame))
    loaded = load_image(many_page_tiff(pages=20 * MAX_FRAMES_COUNTED))
    assert max(visited) < MAX_FRAMES_COUNTED  # Pillow's n_frames would have walked all 2,000 pages
    assert loaded.notices == (f"The file holds at least {MAX_FRAMES_COUNTED} frames (counting stopped there); the first one is used.",)


def test_a_float32_limit_message_shows_digits_that_differ():
    app = run_page(ROOT / "chapters" / "data_types.py")
    widget(app, "text_input", app.text_input[0].label).set_value("3.40282357e38").run()
    [error] = [error.value for error in app.error]
    numbers = re.findall(r"\d\.\d+e\+\d+", error)
    assert len(numbers) == 2 and numbers[0] != numbers[1], error
    assert float(numbers[0]) < float(numbers[1])  # the value received really is above the limit shown


# A select slider's raw options cannot be read back from AppTest (only their labels), so its ends are listed here.
SELECT_SLIDER_ENDS = {
    ("autoencoder", "Bits per weight"): [1, 8, "float"],
    ("output_aware", "Bits per code"): [1, 4],
    ("output_aware", "Sub-vector length (block)"): [1, 16],
    ("output_aware", "Codewords (k)"): [2, 256],
    ("shared_colors", "Number of shared colors k"): [1, 256],
    ("quantization_error", "Number of shared colors k"): [1, 256],
}
# Buttons to press before the controls move, so the extremes reach the page's results (AppTest cannot draw).
FIRST_PRESS = {"autoencoder": "Use a held-out digit"}


def extremes(path: Path, app: AppTest) -> list[tuple[str, str, object]]:
    """(kind, label, value) for both ends of every enabled slider, select slider and bounded number input."""
    ends = []
    for slider in app.slider:
        if not slider.disabled and not isinstance(slider.value, (tuple, list)):
            ends += [("slider", slider.label, slider.min), ("slider", slider.label, slider.max)]
    for slider in app.select_slider:
        if not slider.disabled:
            listed = SELECT_SLIDER_ENDS.get((path.stem, slider.label))
            assert listed is not None, f"add {path.stem}'s select slider {slider.label!r} to SELECT_SLIDER_ENDS"
            ends += [("select_slider", slider.label, value) for value in listed]
    for number in app.number_input:
        if not number.disabled:
            ends += [("number_input", number.label, end) for end in (number.min, number.max) if end is not None]
    return ends


def widget(app: AppTest, kind: str, label: str):
    matches = [element for element in getattr(app, kind) if element.label == label]
    return matches[0] if matches else None


@pytest.mark.parametrize("path", PAGE_SCRIPTS, ids=page_id)
def test_every_control_at_both_ends_gives_numbers_not_errors(path):
    app = run_page(path)
    if path.stem in FIRST_PRESS:
        [button] = [button for button in app.button if button.label == FIRST_PRESS[path.stem]]
        button.click().run()
        assert app.metric, "the pressed button should bring the page's results"
    failures = []
    for kind, label, value in extremes(path, app):
        element = widget(app, kind, label)
        if element is None:  # hidden by an earlier choice
            continue
        element.set_value(value).run()  # not set back: the ends also meet each other (k=256 at n=512 ...)
        problems = [*map(str, app.exception), *(error.value for error in app.error)]
        if kind == "number_input":  # a legal but absurd number may be refused, clearly
            problems = [str(exception) for exception in app.exception]
        if problems:
            failures.append(f"{label} = {value}: {problems}")
    assert not failures, f"{path.name}:\n" + "\n".join(failures)


@pytest.mark.parametrize("path", [path for path in PAGE_SCRIPTS if "st.text_input(" in path.read_text()], ids=page_id)
def test_junk_in_every_text_box_gives_an_error_or_a_result(path):
    app = run_page(path)
    failures = []
    for box in list(app.text_input):
        label, default = box.label, box.value
        for text in JUNK_TEXT:
            widget(app, "text_input", label).set_value(text).run()
            if app.exception:
                failures.append(f"{label} = {text[:20]!r}: {app.exception[0].message}")
            for error in app.error:
                assert error.value.strip(), "an error must say what was wrong"
        widget(app, "text_input", label).set_value(default).run()
        assert not app.exception and not app.error, "the page works again with the default text"
    assert not failures, f"{path.name}:\n" + "\n".join(failures)


def no_traceback(app_page) -> None:
    assert app_page.page.locator("[data-testid=stException]").count() == 0
    assert not app_page.server_tracebacks(), app_page.server_tracebacks()


@pytest.fixture
def autoencoder_page(app_page):
    app_page.open("Autoencoder")
    return app_page


def test_empty_canvas_asks_for_a_drawing(autoencoder_page):
    no_traceback(autoencoder_page)
    assert autoencoder_page.errors() == []
    autoencoder_page.page.get_by_text("Draw a digit").wait_for()
    autoencoder_page.draw([[(0.5, 0.2), (0.5, 0.8)]])
    autoencoder_page.page.get_by_text("your drawing").first.wait_for()
    autoencoder_page.page.get_by_role("button", name="Clear").click()
    autoencoder_page.page.get_by_text("Draw a digit").wait_for()  # cleared: back to the prompt, not an error
    autoencoder_page.wait_idle()
    no_traceback(autoencoder_page)
    assert autoencoder_page.errors() == []


def test_canvas_scribbled_full_white_gives_a_result_or_a_message(autoencoder_page):
    pen = autoencoder_page.page.locator("[data-testid=stSlider]", has_text="Pen width").first
    autoencoder_page.press_slider(pen, "End")
    autoencoder_page.wait_idle()
    rows = [i / 14 for i in range(15)]
    autoencoder_page.draw([[(0.0, y), (1.0, y)] for y in rows] + [[(x, 0.0), (x, 1.0)] for x in rows])
    autoencoder_page.page.get_by_text("your drawing").first.or_(
        autoencoder_page.page.get_by_text("Could not read the drawing")
    ).first.wait_for()
    autoencoder_page.wait_idle()
    autoencoder_page.screenshot("Autoencoder canvas scribbled full white")
    no_traceback(autoencoder_page)
    errors = autoencoder_page.errors()
    assert all("drawing" in error for error in errors), errors
    if not errors:
        labels = autoencoder_page.page.locator("[data-testid=stMetricLabel]").all_inner_texts()
        assert "Float MSE" in labels, labels

    before = autoencoder_page.numbers()
    bits = autoencoder_page.page.locator("[data-testid=stSlider]", has_text="Bits per weight").first
    autoencoder_page.press_slider(bits, "Home")
    assert autoencoder_page.wait_numbers_change(before) != before, "the page must still answer the next action"
    no_traceback(autoencoder_page)


HOSTILE_NAMES = [
    "# Heading.png",
    "1986. A good year.png",
    "- bullet.png",
    "a&lt;b&gt;.png",
    "see https://example.com/x for it.png",
    "   three leading spaces.png",
    "**not bold**.png",
]
SIDEBAR_MARKUP_JS = """() => {
  const sidebar = document.querySelector('[data-testid=stSidebarUserContent]');
  return [...sidebar.querySelectorAll('h1, h2, h3, h4, h5, h6, ol, ul, li, a, strong, em, code')].map(e => e.outerHTML);
}"""


def open_own_image(app_page):
    app_page.open("Shared colors")
    sidebar = app_page.page.locator("[data-testid=stSidebarUserContent]")
    sidebar.get_by_text("your own image").click()
    app_page.wait_idle()
    return sidebar


def test_file_names_show_as_typed_in_captions_and_errors(app_page):
    sidebar = open_own_image(app_page)
    dropzone = app_page.page.locator("[data-testid=stFileUploaderDropzoneInput]")
    good = encoded(Image.new("RGB", (12, 8), (10, 120, 200)), "PNG")
    for name in HOSTILE_NAMES:
        for data, shown in ((good, f"Showing “{name}”: 12 × 8"), (b"not an image", f"“{name}” cannot be used")):
            dropzone.set_input_files(files=[{"name": name, "mimeType": "image/png", "buffer": data}])
            sidebar.get_by_text(shown.split("“")[0] + "“").first.wait_for()
            app_page.wait_idle()
            text = sidebar.inner_text().replace("\u00a0", " ").replace("\u2060", "")  # both invisible
            assert shown in text, (name, text)
            assert app_page.page.evaluate(SIDEBAR_MARKUP_JS) == [], name  # no heading, list, link or emphasis
    no_traceback(app_page)


@pytest.mark.parametrize(
    ("platform", "size", "message"),
    [
        # Windows browsers count the uploader's 25 MB as 25 MiB and send this file; the app names the limit.
        ("Win32", 25 * 1024 * 1024, f"the file is 26,214,400 bytes; at most {MAX_FILE_BYTES:,} bytes (25 MB) are accepted"),
        # Other browsers count 25,000,000 bytes and refuse a byte more themselves, in the same 25 MB.
        ("Linux x86_64", MAX_FILE_BYTES + 1, "File must be 25.0MB or smaller."),
    ],
)
def test_an_upload_over_the_cap_gets_the_size_message_in_every_browser(app_page, tmp_path, platform, size, message):
    app_page.page.context.add_init_script(f"Object.defineProperty(navigator, 'platform', {{get: () => '{platform}'}})")
    sidebar = open_own_image(app_page)
    path = tmp_path / "large.png"
    path.write_bytes(b"\x89PNG" + bytes(size - 4))
    app_page.page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(path)
    sidebar.get_by_text(message).wait_for()
    app_page.wait_idle()
    text = sidebar.inner_text()
    assert "413" not in text and "AxiosError" not in text, text
    no_traceback(app_page)
