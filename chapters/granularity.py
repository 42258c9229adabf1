"""Granularity: one scale per tensor, row, column, group or element — error against the bits spent on scales."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import distributions
from core.quantize import linear
from ui.charts import plotly_chart
from ui.memory import kept
from ui.shipped_model import layer_weights
from ui.your_turn import your_turn

BIT_WIDTHS = tuple(range(2, 9))
SYNTHETIC = "synthetic"
SYNTHETIC_SHAPE = (256, 256)
MAPPINGS = {True: "symmetric (scale only)", False: "asymmetric (scale and zero point)"}
# Hues far apart for the coarse granularities; the three group sizes are one family, light to dark, with their own markers.
GRANULARITY_COLORS = {
    "per tensor": "#000000", "per row": "#d62728", "per column": "#ff7f0e",
    "per group of 32": "#08306b", "per group of 64": "#2171b5", "per group of 128": "#6baed6",
}
GRANULARITY_SYMBOLS = {"per group of 32": "square", "per group of 64": "diamond", "per group of 128": "triangle-up"}


@kept()
def synthetic_matrix() -> np.ndarray:
    return distributions.outlier_rows_matrix(*SYNTHETIC_SHAPE)


def weights_for(choice: str) -> np.ndarray:
    return synthetic_matrix() if choice == SYNTHETIC else layer_weights()[choice]


@kept(spinner="Quantizing at every granularity and bit width…")
def curves(choice: str, symmetric: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return linear.granularity_errors(weights_for(choice), BIT_WIDTHS, symmetric)


st.title("Granularity")
st.write(
    "One scale for a whole tensor is cheap to store, but a single large weight stretches the grid for "
    "everyone. Giving each row, column or group of weights its own scale fits the grid to the local range, "
    "at the price of storing more scales. Here is that trade: error against the bits each weight really costs."
)

layers = layer_weights()
labels = {SYNTHETIC: f"Synthetic {SYNTHETIC_SHAPE[0]}×{SYNTHETIC_SHAPE[1]}: N(0, 1) with {distributions.OUTLIER_ROWS} rows ×{distributions.OUTLIER_ROW_FACTOR:g}"}
labels |= {name: f"Autoencoder {name} ({w.shape[0]}×{w.shape[1]}, out × in)" for name, w in layers.items()}
left, right = st.columns([3, 2])
choice = left.selectbox("Weights", list(labels), format_func=labels.get)
symmetric = right.radio("Mapping", list(MAPPINGS), format_func=MAPPINGS.get)
weights = weights_for(choice)
try:
    results = curves(choice, symmetric)
except ValueError as error:
    st.error(f"Could not quantize these weights: {error}")
    st.stop()

figure = go.Figure()
for name, (storage, errors) in results.items():
    if name == "per element":  # exact (error 0 up to float32 rounding) at 32 + b bits: off this chart's scale
        continue
    labelled = name == "per tensor"  # one line carries the bit widths: on every line they overlapped
    figure.add_trace(go.Scatter(
        x=storage, y=errors, mode="lines+markers+text" if labelled else "lines+markers", name=name,
        text=[f"{b} bits" for b in BIT_WIDTHS] if labelled else None, textposition="top right",
        line=dict(color=GRANULARITY_COLORS.get(name)), marker=dict(symbol=GRANULARITY_SYMBOLS.get(name, "circle"), size=8),
        hovertemplate=f"{name}<br>" + ("%{text}<br>" if labelled else "")
        + "%{x:.3f} bits per weight<br>relative error %{y:.3g}<extra></extra>",
    ))
figure.update_layout(
    height=460, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="bits per weight, scales and zero points included",
    yaxis_title="relative error ‖W − Q‖<sub>F</sub> / ‖W‖<sub>F</sub> (log)",
)
figure.update_yaxes(type="log", dtick=1, exponentformat="power")  # one label per power of ten
plotly_chart(figure)
st.caption(
    "Each point is one bit width, 2 bits at the left of every line to 8 at the right (printed on the per-tensor "
    "line). Scales are stored as 32-bit floats; the asymmetric "
    "mapping adds a b-bit zero point per block. Groups run along a row (the input dimension); when the "
    "group size does not divide the row, the last group of the row is shorter. Per element is left off the "
    "chart: it is exact (each weight becomes its own scale, error 0 up to float32 rounding) at 32 + b bits "
    "per weight or more — more than the float it replaces."
)

bits = st.slider("Bits per code", 2, 8, 4)
column = BIT_WIDTHS.index(bits)
per_tensor, per_row = results["per tensor"][1][column], results["per row"][1][column]
a, b = st.columns(2)
a.metric(f"Relative error per tensor at {bits} bits", f"{per_tensor:.3g}")
b.metric("Per row", f"{per_row:.3g}", delta=f"{per_row / per_tensor - 1:+.0%}", delta_color="inverse")
blocks = linear.granularities(weights.shape)
table = {
    "granularity": list(results),
    "block size": [f"{rows}×{cols}" for rows, cols in blocks.values()],
    "scales stored": [linear.block_count(weights.shape, block) for block in blocks.values()],
    "bits per weight": [round(float(results[name][0][column]), 4) for name in results],
    "relative error": [float(results[name][1][column]) for name in results],
}
st.dataframe(table, hide_index=True)
your_turn(
    "On the synthetic matrix, per row beats per tensor by far: which rows force the single scale to be coarse? "
    "Now pick a real layer of the autoencoder. Is the gap as large, and is per column or per row the better "
    "choice there?"
)

