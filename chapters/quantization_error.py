"""Quantization error: where sharing k colors hurts, pixel by pixel, and how the average falls with k."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui.charts import plotly_chart
from ui.error_map import MAX_ERROR, error_map_view
from ui.image_choice import (
    choose_image,
    choose_k,
    error_by_k,
    error_map,
    shown_original_png,
)

SCALES = {
    "largest": "0 … this image's largest error (shows where the error is, at every k)",
    "fixed": f"fixed 0 … {MAX_ERROR} (the same colors at every k, to compare them)",
}


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
scale = st.radio("Color scale of the error map", list(SCALES), format_func=SCALES.get, key="quantization_error_scale")
view = error_map(chosen, k)

error_map_view(
    digest=chosen.digest,
    original_png=shown_original_png(chosen),
    shared_png=view.shown_png,
    colors=view.colors,
    step=view.step,
    scale_max=max(view.largest, 1) if scale == "largest" else MAX_ERROR,
)
step = view.step
resolution = "" if step == 1 else f" One pixel in {step} along each row and column is drawn, to keep the page responsive."
st.caption(
    "The original, the same image with its colors shared, and each pixel's error E, white for none to deep red "
    f"for the most; hover any of the three for a pixel's position, both colors and E.{resolution}"
)

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