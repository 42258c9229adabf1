"""Quantization error: where sharing k colors hurts, pixel by pixel, and how the average falls with k."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.image_error import pixel_error
from pages.image_choice import choose_image, error_by_k, shared_colors

MAX_ERROR = 765  # 3 channels × 255
WHITE_TO_DEEP_RED = [[0.0, "#ffffff"], [0.25, "#fcae91"], [0.5, "#fb6a4a"], [0.75, "#cb181d"], [1.0, "#67000d"]]
HOVER = (
    "pixel (%{x}, %{y})<br>"
    "original rgb(%{customdata[0]}, %{customdata[1]}, %{customdata[2]})<br>"
    "shared rgb(%{customdata[3]}, %{customdata[4]}, %{customdata[5]})<br>"
    "error E = %{z}<extra></extra>"
)
PLOT_WIDTH = 360  # about one column of the centred layout, in CSS pixels
MAX_PLOT_HEIGHT = 720
# Each heatmap pixel sends 8 bytes (error + two colors) as base64 JSON on every slider move.
MAX_HEATMAP_PIXELS = 500_000


def heatmap_step(height: int, width: int) -> int:
    """Show every step-th pixel so the heatmap sends at most MAX_HEATMAP_PIXELS (1 = full resolution)."""
    return math.ceil(math.sqrt(height * width / MAX_HEATMAP_PIXELS))


def error_heatmap(errors: np.ndarray, original: np.ndarray, quantized: np.ndarray, auto_scale: bool) -> go.Figure:
    """Heatmap of E (every heatmap_step-th pixel); hovering a pixel shows its original color, shared color and error."""
    height, width = errors.shape
    step = heatmap_step(height, width)
    shown = (slice(None, None, step), slice(None, None, step))
    top = int(errors.max()) if auto_scale else MAX_ERROR
    figure = go.Figure(
        go.Heatmap(
            z=errors[shown],
            x=np.arange(0, width, step),
            y=np.arange(0, height, step),
            customdata=np.concatenate([original[shown], quantized[shown]], axis=2),
            hovertemplate=HOVER,
            colorscale=WHITE_TO_DEEP_RED,
            zmin=0,
            zmax=max(top, 1),
            colorbar={"orientation": "h", "thickness": 10, "y": -0.02, "yanchor": "top"},
        )
    )
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    plot_height = min(MAX_PLOT_HEIGHT, round(PLOT_WIDTH * height / width)) + 60  # + the colorbar below
    figure.update_layout(height=plot_height, margin={"l": 0, "r": 0, "t": 0, "b": 0})
    return figure


def curve_chart(ks: tuple[int, ...], errors: np.ndarray, k: int, average: float) -> go.Figure:
    """Average error against k on a log axis, with the current k marked."""
    hover = "k = %{x}<br>average error %{y:.2f}<extra></extra>"
    marker = {"size": 14, "color": "#cb181d", "symbol": "diamond"}
    figure = go.Figure(
        [
            go.Scatter(x=list(ks), y=errors, mode="lines+markers", name="k-means palette", hovertemplate=hover),
            go.Scatter(x=[k], y=[average], mode="markers", name=f"k = {k}", marker=marker, hovertemplate=hover),
        ]
    )
    figure.update_xaxes(type="log", title="shared colors k (log scale)", tickvals=[1, 2, 4, 8, 16, 32, 64, 128, 256])
    figure.update_yaxes(title="average error (of 765)", rangemode="tozero")
    figure.update_layout(height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"x": 0.7, "y": 0.95})
    return figure


st.title("Quantization error")
st.write(
    "How wrong is each pixel after sharing k colors? The error of a pixel is how far its shared color "
    "is from the original, summed over red, green and blue: 0 for a perfect match, at most 765."
)
chosen = choose_image()
k = st.slider("Number of shared colors k", 1, 256, 8, key="quantization_error_k")
auto_scale = st.toggle(
    "Stretch the colors to this image's largest error (instead of the fixed 0…765)", key="quantization_error_auto_scale"
)
result = shared_colors(chosen, k)
quantized = result.palette[result.labels]
errors = pixel_error(chosen.pixels, quantized)
average = float(errors.mean())

image_col, heatmap_col = st.columns(2)
image_col.image(result.png, caption=f"{len(result.palette)} shared colors", width="stretch", output_format="PNG")
heatmap_col.plotly_chart(error_heatmap(errors, chosen.pixels, quantized, auto_scale), key="quantization_error_heatmap")
step = heatmap_step(*errors.shape)
resolution = "" if step == 1 else f" One pixel in {step} along each row and column is drawn, to keep the page responsive."
heatmap_col.caption(f"Per-pixel error E, white for 0 to deep red; hover a pixel for its colors.{resolution}")

average_col, largest_col = st.columns(2)
average_col.metric("Average error", f"{average:.2f}")
largest_col.metric("Largest pixel error", f"{int(errors.max())}")
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
st.plotly_chart(curve_chart(ks, curve, k, average), key="quantization_error_curve")
