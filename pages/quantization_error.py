"""Quantization error: where sharing k colors hurts, pixel by pixel, and how the average falls with k."""

from __future__ import annotations

import base64

import numpy as np
import streamlit as st

from ui.charts import plotly_chart
from ui.image_choice import (
    ErrorMap,
    choose_image,
    choose_k,
    color_count,
    error_by_k,
    error_map,
    shared_colors,
    shown_original_png,
)

MAX_ERROR = 765  # 3 channels × 255
WHITE_TO_DEEP_RED = [[0.0, "#ffffff"], [0.25, "#fcae91"], [0.5, "#fb6a4a"], [0.75, "#cb181d"], [1.0, "#67000d"]]
# The hover reads a pixel's colors from two Plotly image traces drawn under the heatmap, so they
# travel as PNG files (compressed) instead of six numbers per pixel. "x unified" hover puts one
# line per trace in a single label; its title can show the column only, so the first line adds the row.
HOVER_TITLE = "column %{x}"
ORIGINAL_HOVER = "row %{y}<br>original rgb(%{color[0]}, %{color[1]}, %{color[2]})<extra></extra>"
SHARED_HOVER = "shared rgb(%{color[0]}, %{color[1]}, %{color[2]})<extra></extra>"
ERROR_HOVER = "error E = %{z}<extra></extra>"
PLOT_WIDTH = 360  # about one column of the centred layout, in CSS pixels
MAX_PLOT_HEIGHT = 720


def error_heatmap(view: ErrorMap, original_png: bytes, auto_scale: bool) -> dict:
    """Heatmap of E over the original and shared images; hovering a pixel shows its position, both colors and E.

    A plain dict with the data already base64-encoded: built as a plotly Figure it took ten times longer.
    """
    height, width = view.errors.shape
    placed = {"x0": 0, "dx": view.step, "y0": 0, "dy": view.step}  # true pixel coordinates
    heatmap = {
        "type": "heatmap",
        "z": typed_array(view.errors),
        **placed,
        "hovertemplate": ERROR_HOVER,
        "colorscale": WHITE_TO_DEEP_RED,
        "zmin": 0,
        "zmax": max(view.largest if auto_scale else MAX_ERROR, 1),
        "colorbar": {"orientation": "h", "thickness": 10, "y": -0.02, "yanchor": "top"},
    }
    colors = [
        {"type": "image", "source": png_uri(png), **placed, "hovertemplate": hover}
        for png, hover in ((original_png, ORIGINAL_HOVER), (view.shown_png, SHARED_HOVER))
    ]
    plot_height = min(MAX_PLOT_HEIGHT, round(PLOT_WIDTH * height / width)) + 60  # + the colorbar below
    axis = {"visible": False, "constrain": "domain", "showspikes": False}
    return {
        "data": [*colors, heatmap],
        "layout": {
            "hovermode": "x unified",
            "xaxis": {**axis, "unifiedhovertitle": {"text": HOVER_TITLE}},
            "yaxis": {**axis, "autorange": "reversed", "scaleanchor": "x"},
            "height": plot_height,
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        },
    }


def typed_array(values: np.ndarray) -> dict:
    """A 2-D integer array as a Plotly typed array: base64 of its little-endian bytes."""
    data = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
    shape = f"{data.shape[0]},{data.shape[1]}"
    return {"dtype": data.dtype.str[1:], "bdata": base64.b64encode(data).decode(), "shape": shape}


def png_uri(png: bytes) -> str:
    """A PNG file as a data URI, which a Plotly image trace takes as its source."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def curve_chart(ks: tuple[int, ...], errors: np.ndarray, k: int, average: float) -> dict:
    """Average error against k on a log axis, with the current k marked."""
    scatter = {"type": "scatter", "hovertemplate": "k = %{x}<br>average error %{y:.2f}<extra></extra>"}
    marker = {"size": 14, "color": "#cb181d", "symbol": "diamond"}
    return {
        "data": [
            {**scatter, "x": list(ks), "y": errors, "mode": "lines+markers", "name": "k-means palette"},
            {**scatter, "x": [k], "y": [average], "mode": "markers", "name": f"k = {k}", "marker": marker},
        ],
        "layout": {
            "xaxis": {
                "type": "log",
                "title": {"text": "shared colors k (log scale)"},
                "tickvals": [1, 2, 4, 8, 16, 32, 64, 128, 256],
            },
            "yaxis": {"title": {"text": "average error (of 765)"}, "rangemode": "tozero"},
            "height": 360,
            "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
            "legend": {"x": 0.7, "y": 0.95},
        },
    }


st.title("Quantization error")
st.write(
    "How wrong is each pixel after sharing k colors? The error of a pixel is how far its shared color "
    "is from the original, summed over red, green and blue: 0 for a perfect match, at most 765."
)
chosen = choose_image()
k = choose_k("quantization_error_k")
auto_scale = st.toggle(
    "Stretch the colors to this image's largest error (instead of the fixed 0…765)", key="quantization_error_auto_scale"
)
view = error_map(chosen, k)

image_col, heatmap_col = st.columns(2)
image_col.image(shared_colors(chosen, k).display_png, caption=color_count(view.colors), width="stretch", output_format="PNG")
plotly_chart(error_heatmap(view, shown_original_png(chosen), auto_scale), key="quantization_error_heatmap", where=heatmap_col)
step = view.step
resolution = "" if step == 1 else f" One pixel in {step} along each row and column is drawn, to keep the page responsive."
heatmap_col.caption(f"Per-pixel error E, white for 0 to deep red; hover a pixel for its colors.{resolution}")

average_col, largest_col = st.columns(2)
average_col.metric("Average error", f"{view.average:.2f}")
largest_col.metric("Largest pixel error", f"{view.largest}")
st.latex(
    r"\text{Average Error} = \frac{1}{N}\sum_{p=1}^{N} E_p, \qquad "
    r"E_p = \sum_{c \in \{R,G,B\}} \left| Q_{p,c} - W_{p,c} \right|"
)
st.caption("W is the original image, Q the image with shared colors, and the sum runs over its N pixels.")

st.subheader("Average error against k")
ks, curve = error_by_k(chosen)
error_at = dict(zip(ks, curve))
st.write(
    f"Each doubling of k buys less. Going from 1 to 8 colors takes the average error from {error_at[1]:.1f} "
    f"to {error_at[8]:.1f}; going from 128 to 256 colors, only from {error_at[128]:.1f} to {error_at[256]:.1f}, "
    "for one more bit per pixel."
)
plotly_chart(curve_chart(ks, curve, k, view.average), key="quantization_error_curve")