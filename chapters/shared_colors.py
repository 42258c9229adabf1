"""Shared colors: k-means picks k colors for a photo; each pixel keeps only an index into them."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.measure.sizes import float_bytes, index_bits, shared_bytes
from ui.image_choice import (
    ChosenImage,
    SharedColors,
    block_locator_png,
    choose_image,
    choose_k,
    color_count,
    original_colors,
    original_display_png,
    original_png,
    shared_colors,
)

BLOCK = 8
LOCATOR_WIDTH = 320
ARTICLE_WIDTH, ARTICLE_HEIGHT, ARTICLE_PIXELS = 880, 602, 4_824_160


def swatches_html(palette: np.ndarray, shares: np.ndarray) -> str:
    """The palette as numbered color squares, most used first; hovering one tells its color and share."""
    cells = "".join(
        f'<div title="index {index}: {rgb(color)}, {share:.1%} of pixels" '
        f'style="background: {rgb(color)}; color: {text_color(color)}; width: 2.2em; height: 2.2em; '
        f'display: flex; align-items: center; justify-content: center; font-size: 0.7em; '
        f'border: 1px solid #0002">{index}</div>'
        for index, (color, share) in enumerate(zip(palette, shares))
    )
    return f'<div style="display: flex; flex-wrap: wrap; gap: 2px">{cells}</div>'


def rgb(color: np.ndarray) -> str:
    """CSS color of an RGB triple, e.g. rgb(12, 200, 31)."""
    red, green, blue = color.tolist()
    return f"rgb({red}, {green}, {blue})"


def text_color(color: np.ndarray) -> str:
    """Black or white, whichever reads better on this background color."""
    luma = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    return "#000" if luma > 140 else "#fff"


def block_html(indices: np.ndarray, palette: np.ndarray) -> str:
    """An 8×8 block as a grid of palette indices, each cell painted with its palette color."""
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td style="background: {rgb(palette[i])}; color: {text_color(palette[i])}; '
            f'width: 2.4em; height: 2.4em; text-align: center; font-family: monospace; padding: 0">{i}</td>'
            for i in row
        )
        + "</tr>"
        for row in indices.tolist()
    )
    return f'<table style="border-collapse: collapse">{rows}</table>'


def legend_html(indices: np.ndarray, palette: np.ndarray) -> str:
    """One line per palette index: a color square, the index and its RGB value."""
    return "".join(
        f'<div style="display: flex; gap: 0.5em; align-items: center; font-family: monospace; '
        f'font-size: 0.8em; white-space: nowrap"><span style="background: {rgb(palette[i])}; '
        f'width: 1.2em; height: 1.2em; border: 1px solid #0003"></span>{i}: {rgb(palette[i])}</div>'
        for i in indices.tolist()
    )


def block_start(label: str, size: int, key: str) -> int:
    """Slider for where the block starts along one side; 0 when the side is no longer than a block."""
    if size <= BLOCK:
        return 0
    return st.slider(label, 0, size - BLOCK, (size - BLOCK) // 2, key=key)


def byte_accounting(width: int, height: int, colors: int) -> None:
    """Plain vs shared storage in bytes, explained in one sentence, with the ratio."""
    pixels = height * width
    plain = float_bytes(pixels, 24)
    shared = shared_bytes(pixels, colors, value_bits=24)
    bits = index_bits(colors)
    index_part = shared - float_bytes(colors, 24)
    if bits:
        how = f"each pixel keeps only a ⌈log₂ {colors}⌉ = {bits}-bit index into a palette of {colors} colors"
    else:
        how = "with a single color no index is needed at all, only the palette"
    st.write(
        f"Stored plainly, each of the {width:,} × {height:,} = {pixels:,} pixels takes 3 bytes, "
        f"{plain:,} bytes in all; with shared colors {how}: ⌈{pixels:,} × {bits} / 8⌉ = {index_part:,} bytes "
        f"of indices + {colors} × 3 = {3 * colors:,} bytes of palette = {shared:,} bytes, "
        f"{plain / shared:,.1f}× smaller."
    )
    plain_col, shared_col, ratio_col = st.columns(3)
    plain_col.metric("Plain RGB (bytes)", f"{plain:,}")
    shared_col.metric("Shared colors (bytes)", f"{shared:,}")
    ratio_col.metric("Compression ratio", f"{plain / shared:,.1f}×")


def real_files(image: ChosenImage, shared: SharedColors) -> None:
    """Sizes of the actual PNG files, and the palette PNG to download."""
    original_size, shared_size = len(original_png(image)), len(shared.png)
    st.write(
        "Real files compress further: PNG deflates the pixel data, and a palette PNG stores the "
        "indices at 1, 2, 4 or 8 bits per pixel next to the palette."
    )
    original_col, shared_col = st.columns(2)
    original_col.metric("Original as PNG (bytes)", f"{original_size:,}")
    shared_col.metric("Shared colors as palette PNG (bytes)", f"{shared_size:,}")
    st.caption(f"The palette PNG is {original_size / shared_size:,.1f}× smaller than the original PNG.")
    stem = image.name.rsplit(".", 1)[0]
    st.download_button(
        "Download the palette PNG",
        shared.png,
        file_name=f"{stem}_{len(shared.palette)}_colors.png",
        mime="image/png",
    )


def magnifier(image: ChosenImage, shared: SharedColors) -> None:
    """An 8×8 block as the file stores it: palette indices, painted with the palette's colors."""
    height, width = shared.labels.shape
    st.subheader("How the picture is stored")
    st.write(
        "Pick a block: the file holds no colors for these pixels, only the palette index of each. "
        "Looking a color up in the palette paints the picture."
    )
    top = block_start("Block top (pixels from the top edge)", height, "shared_colors_top")
    left = block_start("Block left (pixels from the left edge)", width, "shared_colors_left")
    indices = shared.labels[top : top + BLOCK, left : left + BLOCK]
    where, grid, legend = st.columns([5, 5, 4])
    where.image(block_locator_png(image, top, left, BLOCK, LOCATOR_WIDTH), caption=f"Block at row {top}, column {left}", output_format="PNG")
    grid.html(block_html(indices, shared.palette))
    legend.html(legend_html(np.unique(indices), shared.palette))
    bits = index_bits(len(shared.palette))
    st.caption(
        f"These {indices.size} pixels take {indices.size} × {bits} bits = {indices.size * bits / 8:g} bytes of "
        f"indices instead of {indices.size * 3} bytes of RGB."
    )


def first_steps(image: ChosenImage) -> None:
    """The image with one shared color, then two, side by side, each with what it does to the picture."""
    st.subheader("One color, then two")
    one_col, two_col = st.columns(2)
    for column, k, text in (
        (
            one_col,
            1,
            "With one color to share, every pixel gets the same one: the color closest to all of them, "
            "their average. Nothing is left of the picture but its overall tint, and the file needs no "
            "index at all, only those 3 bytes of palette.",
        ),
        (
            two_col,
            2,
            "With two, k-means splits the pixels into two groups and gives each group its average color. "
            "Each pixel now needs one bit, which of the two it takes, and shapes come back: wherever the "
            "groups meet you see an edge.",
        ),
    ):
        shared = shared_colors(image, k)
        column.image(shared.display_png, caption=color_count(len(shared.palette)), width="stretch", output_format="PNG")
        column.write(text)
    st.write("Each extra color can serve one more part of the picture. Your turn: how many does it need to look right?")


st.title("Shared colors")
st.write(
    "A photo stores a full 24-bit color for every pixel. k-means finds the k colors that serve the "
    "whole picture best, and each pixel keeps only the index of its nearest one: the weight sharing "
    "Deep Compression applies to a network's weights, made visible. How few colors still look right?"
)
chosen = choose_image()
first_steps(chosen)

st.subheader("Your turn: choose k")
k = choose_k("shared_colors_k")
result = shared_colors(chosen, k)
colors = len(result.palette)

original_col, shared_col = st.columns(2)
# output_format="PNG": left to itself st.image re-encodes an RGB PNG as JPEG.
original_col.image(
    original_display_png(chosen), caption=f"Original: {original_colors(chosen):,} colors", width="stretch", output_format="PNG"
)
shared_col.image(result.display_png, caption=color_count(colors), width="stretch", output_format="PNG")
if colors < k:
    st.info(f"This image has only {colors} distinct color{'s' if colors > 1 else ''}, so no more can be shared.")

st.subheader("The palette, most used first")
st.html(swatches_html(result.palette, result.shares))

st.subheader("Bytes")
height, width = chosen.pixels.shape[:2]
byte_accounting(width, height, colors)
st.caption(
    f"The article sizes its {ARTICLE_WIDTH} × {ARTICLE_HEIGHT} photo from {ARTICLE_PIXELS:,} pixels; "
    f"{ARTICLE_WIDTH} × {ARTICLE_HEIGHT} is {ARTICLE_WIDTH * ARTICLE_HEIGHT:,}, so its byte counts are "
    f"{ARTICLE_PIXELS / (ARTICLE_WIDTH * ARTICLE_HEIGHT):.1f}× too large. The counts here use the real pixel count."
)
real_files(chosen, result)
magnifier(chosen, result)
