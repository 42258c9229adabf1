"""The image both image pages work on, and the cached work done on it.

The choice lives in `st.session_state[IMAGE_KEY]` as a `ChosenImage`, so moving between the
"Shared colors" and "Quantization error" pages keeps the image without reloading it. Everything
heavy is cached by the image's content digest (and k), in bytes under the process's one memory
budget (ui.memory): a slider move recomputes nothing else. Every picture goes to st.image as PNG
bytes at most DISPLAY_WIDTH wide, so Streamlit never resizes or re-encodes it.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw

from core.images.io import (
    MAX_FILE_BYTES,
    SAMPLE_IMAGES,
    UPLOAD_EXTENSIONS,
    display_size,
    distinct_colors,
    image_digest,
    load_image,
    nearest_resize,
    palette_png,
    png_bytes,
    sample_image,
)
from core.images.palette import forget_image, palette_kmeans
from core.images.palette_curve import CURVE_KS, error_curve
from core.measure.image_error import pixel_error
from ui.background import run_in_background
from ui.literal_text import literal_text
from ui.memory import forget, kept

IMAGE_KEY = "chosen_image"  # ChosenImage: the image both image pages show
UPLOADED_KEY = "uploaded_image"  # (file_id, ChosenImage) of the last good upload, kept when the uploader is empty
UPLOAD_ERROR_KEY = "upload_error"  # (file_id, message) of the last upload that could not be used
SOURCE_KEY = "image_source"  # radio: a sample name or OWN_IMAGE
UPLOADER_KEY = "image_upload"
OWN_IMAGE = "your own image"
DEFAULT_IMAGE = "china.jpg"
SEED = 0
DISPLAY_WIDTH = 1460  # st.image resizes (and re-encodes) anything wider on every run
# Every k from 1 to 16, then four stops per doubling: 1…16 take half the slider, 128…256 an eighth.
# The outline of a block on the locator, inside out: a white ring, then a black one; one shows on any color.
OUTLINE = ((255, 255, 255), 1), ((0, 0, 0), 3)
K_STOPS = tuple(sorted({*range(1, 17), *(round(16 * 2 ** (quarter / 4)) for quarter in range(17))}))
# The error map's shared image is sent to the browser and drawn again on every slider move.
MAX_HEATMAP_PIXELS = 500_000


@dataclass(frozen=True)
class ChosenImage:
    """An image ready to quantize: display name, (H, W, 3) uint8 pixels, content digest, load notices."""

    name: str
    pixels: np.ndarray
    digest: str
    notices: tuple[str, ...] = ()
    uploaded: bool = False


@dataclass(frozen=True)
class SharedColors:
    """The image with k shared colors: palette (k', 3) uint8 most used first, labels (H, W) uint8, the share
    of pixels of each palette color, the palette PNG file, and that PNG at most DISPLAY_WIDTH wide."""

    palette: np.ndarray
    labels: np.ndarray
    shares: np.ndarray
    png: bytes
    display_png: bytes


@dataclass(frozen=True)
class ErrorMap:
    """The image with k shared colors and the summary of its per-pixel error E = sum_c |Q_c - W_c| (0…765).

    The error map draws every `step`-th pixel along rows and columns; `shown_png` holds their shared
    colors (the browser computes their E from it and the original's drawn pixels).
    """

    colors: int  # palette size
    average: float  # mean E over all pixels
    largest: int  # max E over all pixels
    step: int
    shown_png: bytes  # palette PNG of the drawn pixels: their shared colors


def _by_digest(image: ChosenImage, *rest: object) -> tuple:
    return (image.digest, *rest)


def color_count(colors: int) -> str:
    """'1 shared color', '8 shared colors'."""
    return f"{colors} shared color{'' if colors == 1 else 's'}"


def choose_k(key: str, default: int = 8) -> int:
    """The k control both image pages use: a slider over K_STOPS, as easy to aim at 1…16 as at 128…256."""
    return st.select_slider(
        "Number of shared colors k",
        K_STOPS,
        value=default,
        key=key,
        help="Every k from 1 to 16, then four steps per doubling up to 256.",
    )


@kept(_by_digest, spinner="Finding the shared colors…")
def shared_colors(image: ChosenImage, k: int) -> SharedColors:
    """The k-means palette of the image with k colors, and the image saved as a palette PNG (cached)."""
    palette, labels = palette_kmeans(image.pixels, k, SEED)
    shares = np.bincount(labels.ravel(), minlength=len(palette)) / labels.size
    png = palette_png(palette, labels)
    height, width = labels.shape
    shown_width, shown_height = display_size(width, height, DISPLAY_WIDTH)
    shown = png if shown_width == width else palette_png(palette, nearest_resize(labels, shown_width, shown_height))
    return SharedColors(palette, labels, shares, png, shown)


@kept(_by_digest, spinner="Finding the shared colors…")
def error_map(image: ChosenImage, k: int) -> ErrorMap:
    """The image's k-color palette PNG, its error summary, and the shared colors the error map draws (cached)."""
    shared = shared_colors(image, k)
    errors = pixel_error(image.pixels, shared.palette.take(shared.labels, axis=0))  # take: 4x faster than []
    step = heatmap_step(*errors.shape)
    shown_png = shared.png if step == 1 else palette_png(shared.palette, shared.labels[::step, ::step])
    return ErrorMap(len(shared.palette), float(errors.mean()), int(errors.max()), step, shown_png)


@kept(_by_digest)
def shown_original_png(image: ChosenImage) -> bytes:
    """The pixels the error map draws, as an RGB PNG (cached): the whole image's PNG unless it is large."""
    step = heatmap_step(*image.pixels.shape[:2])
    return original_png(image) if step == 1 else png_bytes(image.pixels[::step, ::step])


def heatmap_step(height: int, width: int) -> int:
    """Draw every step-th pixel so the error map has at most MAX_HEATMAP_PIXELS (1 = full resolution)."""
    return math.ceil(math.sqrt(height * width / MAX_HEATMAP_PIXELS))


@kept(_by_digest)
def original_png(image: ChosenImage) -> bytes:
    """The image as an RGB PNG file (cached): shown as is and weighed against the palette PNG."""
    return png_bytes(image.pixels)


@kept(_by_digest)
def original_colors(image: ChosenImage) -> int:
    """How many different colors the image has (cached)."""
    return distinct_colors(image.pixels)


@kept(_by_digest)
def original_display_png(image: ChosenImage) -> bytes:
    """The image as a PNG at most DISPLAY_WIDTH wide (cached), so st.image never resizes it on a rerun."""
    return shrunk_png(image.pixels, DISPLAY_WIDTH)


def shrunk_png(pixels: np.ndarray, max_width: int) -> bytes:
    """(H, W, 3) uint8 pixels as an RGB PNG at most max_width wide (LANCZOS), no side below 1 pixel."""
    height, width = pixels.shape[:2]
    size = display_size(width, height, max_width)
    if size != (width, height):
        pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))
    return png_bytes(pixels)


@kept(_by_digest)
def block_locator_png(image: ChosenImage, top: int, left: int, block: int, max_width: int) -> bytes:
    """A copy of the image at most max_width wide, as PNG bytes, with the block × block square at (top, left) outlined (cached)."""
    height, width = image.pixels.shape[:2]
    small_width, small_height = display_size(width, height, max_width)
    thumbnail = Image.fromarray(image.pixels).resize((small_width, small_height))
    scale_x, scale_y = small_width / width, small_height / height
    draw = ImageDraw.Draw(thumbnail)
    margin = 1
    for color, line in OUTLINE:
        margin += line
        box = [left * scale_x - margin, top * scale_y - margin, (left + block) * scale_x + margin, (top + block) * scale_y + margin]
        draw.rectangle(box, outline=color, width=line)
    return png_bytes(np.asarray(thumbnail))


@kept(_by_digest)
def error_by_k(image: ChosenImage) -> tuple[tuple[int, ...], np.ndarray]:
    """(ks, average errors) of the image's palettes over CURVE_KS (cached per image).

    22 palettes take ~1.5 s of CPU on a 0.3 MP image, more on an upload: they are made in a worker
    process, so the other sessions' sliders do not wait for them."""
    label = "Measuring the error at every k on the curve"
    return CURVE_KS, run_in_background(error_curve, image.pixels, CURVE_KS, SEED, label=label)


@st.cache_resource(show_spinner=False)
def _sample(name: str) -> ChosenImage:
    pixels = sample_image(name)
    return ChosenImage(name, pixels, image_digest(pixels))


def choose_image() -> ChosenImage:
    """Sidebar controls for the image (samples or an upload); returns the chosen image.

    A file that cannot be used shows st.error and leaves the previous image in place.
    """
    state = st.session_state
    if IMAGE_KEY not in state:
        state[IMAGE_KEY] = _sample(DEFAULT_IMAGE)
    current: ChosenImage = state[IMAGE_KEY]
    sources = [*SAMPLE_IMAGES, OWN_IMAGE]
    source = st.sidebar.radio(
        "Image", sources, index=sources.index(OWN_IMAGE if current.uploaded else current.name), key=SOURCE_KEY
    )
    if source == OWN_IMAGE:
        _take_upload()
    elif current.name != source or current.uploaded:
        state[IMAGE_KEY] = _sample(source)
    chosen: ChosenImage = state[IMAGE_KEY]
    height, width = chosen.pixels.shape[:2]
    st.sidebar.caption(f"Showing “{literal_text(chosen.name)}”: {width:,} × {height:,} = {width * height:,} pixels.")
    for notice in chosen.notices:
        st.sidebar.info(notice)
    return chosen


def forget_upload(digest: str, pixels: np.ndarray) -> None:
    """Drop everything kept for an uploaded image: the pages' results (keyed by its digest) and core's preparation."""
    forget(digest)
    forget_image(pixels)


def _take_upload() -> None:
    """Use a new upload, or show why it cannot be used; an empty uploader keeps the last good upload."""
    state = st.session_state
    # The browser checks the file against max_upload_size (MB, which Windows browsers count as MiB) before
    # sending it; the server's own cap (server.maxUploadSize, 26 MiB) leaves room for the request's framing,
    # so every file the browser sends arrives and load_image names the one limit, MAX_FILE_BYTES.
    upload = st.sidebar.file_uploader(
        f"PNG, JPEG, WebP, GIF, BMP or TIFF, up to {MAX_FILE_BYTES / 1e6:g} MB (over 4 MP is downscaled)",
        type=list(UPLOAD_EXTENSIONS),
        key=UPLOADER_KEY,
        max_upload_size=round(MAX_FILE_BYTES / 1e6),
    )
    good_id, _ = state.get(UPLOADED_KEY, (None, None))
    bad_id, problem = state.get(UPLOAD_ERROR_KEY, (None, None))
    if upload is not None and upload.file_id not in (good_id, bad_id):
        try:
            loaded = load_image(upload.getvalue())
        except ValueError as error:
            bad_id, problem = upload.file_id, f"“{literal_text(upload.name)}” cannot be used: {literal_text(str(error))}."
            state[UPLOAD_ERROR_KEY] = (bad_id, problem)
        else:
            image = ChosenImage(upload.name, loaded.pixels, image_digest(loaded.pixels), loaded.notices, uploaded=True)
            # Once no session holds this upload (replaced, or its session expired), nothing will ask for its results.
            weakref.finalize(image, forget_upload, image.digest, image.pixels)
            state[UPLOADED_KEY] = (upload.file_id, image)
    if upload is not None and upload.file_id == bad_id:
        st.sidebar.error(f"{problem} Still showing “{literal_text(state[IMAGE_KEY].name)}”.")
    elif UPLOADED_KEY in state:
        state[IMAGE_KEY] = state[UPLOADED_KEY][1]
    else:
        st.sidebar.info(f"Upload an image; until then the pages show “{literal_text(state[IMAGE_KEY].name)}”.")
