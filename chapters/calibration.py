"""Calibration: choosing where to clip real activations of the autoencoder before quantizing them."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.measure.reconstruction import mse
from core.models import autoencoder
from core.models.mnist import N_HELDOUT
from core.quantize import calibration
from ui.charts import plotly_chart
from ui.memory import kept
from ui.shipped_model import mnist_split, state_dict, stop_unless_shipped
from ui.your_turn import your_turn

N_CALIBRATION = 500
END_TO_END_BITS = (8, 4)
HISTOGRAM_BINS = 200
METHOD_LABELS = {
    "max": "max",
    "percentile": "percentile",
    "entropy": "entropy (KL, TensorRT)",
    "mse": "MSE sweep",
}
METHOD_COLORS = {"max": "black", "percentile": "darkorange", "entropy": "seagreen", "mse": "crimson"}
LABEL_HEIGHTS = (0.95, 0.8, 0.65, 0.5)


@st.cache_resource(show_spinner="Loading the autoencoder and the digits…")
def setup():
    """(model, state dict, calibration digits, held-out digits) of the shipped model."""
    train_images, _, heldout_images, _ = mnist_split()
    return autoencoder.load_autoencoder(), state_dict(), train_images[:N_CALIBRATION], heldout_images


@kept(spinner="Running the digits through the autoencoder…")
def activations(split: str) -> dict[str, np.ndarray]:
    """{layer: the activations entering it, flattened} on the calibration or held-out digits."""
    _, state, calibration_images, heldout_images = setup()
    images = calibration_images if split == "calibration" else heldout_images
    return {layer: values.ravel() for layer, values in autoencoder.layer_inputs(state, images).items()}


@kept(spinner="Calibrating…")
def thresholds(layer: str, bits: int, percentile: float) -> dict[str, float]:
    return {method: calibration.threshold(activations("calibration")[layer], method, bits, percentile) for method in calibration.METHODS}


@kept()
def histogram_of(layer: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(counts, bin edges, share exactly 0) of the calibration activations entering layer."""
    values = activations("calibration")[layer]
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    return counts, edges, float(np.mean(values == 0))


@kept()
def heldout_scores(layer: str, bits: int, percentile: float) -> dict[str, tuple[float, float, float]]:
    """{method: (share of held-out activations clipped, rounding MSE, clipping MSE)} at each method's threshold."""
    heldout_values = activations("heldout")[layer]
    return {
        method: (float(np.mean(heldout_values > t)), *calibration.error_parts(heldout_values, t, bits))
        for method, t in thresholds(layer, bits, percentile).items()
    }


@kept()
def choice_curves(layer: str, bits: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(KL per cut point, rounding and clipping MSE per threshold) on the calibration activations entering layer."""
    values = activations("calibration")[layer]
    return calibration.kl_curve(values, bits), calibration.mse_curve(values, bits)


@kept(spinner="Quantizing every layer's activations and reconstructing the held-out digits…")
def end_to_end(percentile: float) -> tuple[float, dict[str, list[float]]]:
    """(float MSE, {method: held-out MSE with all activations quantized at each of END_TO_END_BITS})."""
    model, state, _, heldout_images = setup()
    float_mse = mse(heldout_images, autoencoder.reconstruct(state, heldout_images))
    errors = calibration.quantized_activation_errors(model, activations("calibration"), heldout_images, END_TO_END_BITS, percentile)
    return float_mse, errors


def zoomed_range(thresholds: list[float]) -> list[float]:
    """An x range around the thresholds, with a margin of half their spread (at least 5% of the largest) each side."""
    low, high = min(thresholds), max(thresholds)
    margin = max((high - low) / 2, 0.05 * high)
    return [low - margin, high + margin]


def layer_label(layer: str) -> str:
    return "fc1 input: the pixels" if layer == "fc1" else f"{layer} input: the ReLU outputs of the layer before"


@st.fragment
def explorer() -> None:
    """The controls and everything they drive. A fragment: a move reruns this alone, not the app around it
    (its navigation, sidebar and link to the next chapter), which stays as it is."""
    left, middle, right = st.columns(3)
    layer = left.selectbox("Activations", list(activations("calibration")), format_func=layer_label, index=2)
    bits = middle.slider("Bits", 2, 8, 8)
    percentile = right.number_input("Percentile", min_value=90.0, max_value=100.0, value=99.99, step=0.01, format="%.3f")

    try:
        chosen = thresholds(layer, bits, float(percentile))
    except ValueError as error:
        st.error(f"Could not calibrate: {error}")
        st.stop()

    scores = heldout_scores(layer, bits, float(percentile))
    parts = {method: (rounding, clipping) for method, (_, rounding, clipping) in scores.items()}
    best = min(parts, key=lambda m: sum(parts[m]))
    st.metric(f"Lowest activation MSE at {bits} bits on held-out activations", METHOD_LABELS[best], help=f"{sum(parts[best]):.3g}")

    counts, edges, zeros = histogram_of(layer)
    zoom = st.toggle("Zoom on the thresholds", help="The four thresholds often sit close together in the tail of the histogram.")
    histogram = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), marker_color="lightsteelblue", name="activations"))
    for height, (method, t) in zip(LABEL_HEIGHTS, chosen.items()):
        # labels at four heights: thresholds often sit within a few pixels of each other
        histogram.add_vline(x=t, line_color=METHOD_COLORS[method], line_dash="dash")
        histogram.add_annotation(
            x=t, y=height, yref="paper", text=METHOD_LABELS[method].split(" ")[0], showarrow=False, xanchor="right",
            font=dict(color=METHOD_COLORS[method]), bgcolor="rgba(255,255,255,0.8)",
        )
        # a legend entry alone: with no points its data stays the same, so a move redraws only lines and labels
        histogram.add_trace(go.Scatter(x=[None, None], y=[None, None], mode="lines", line=dict(color=METHOD_COLORS[method], dash="dash"), name=f"{METHOD_LABELS[method]}: t = {t:.3g}"))
    histogram.update_layout(
        height=380, yaxis_type="log", xaxis_title=f"activation entering {layer}", yaxis_title="count (log)",
        margin=dict(l=10, r=10, t=30, b=10), bargap=0,
        xaxis_range=zoomed_range(list(chosen.values())) if zoom else [edges[0] - (edges[1] - edges[0]) * 3, edges[-1] * 1.03],
    )
    plotly_chart(histogram)
    st.caption(f"{counts.sum():,} activations from {N_CALIBRATION} digits; {zeros:.0%} of them are exactly 0 (ReLU), which every threshold stores exactly.")

    st.dataframe(
        {
            "method": [METHOD_LABELS[m] for m in chosen],
            "threshold t": list(chosen.values()),
            "clipped": [f"{scores[m][0]:.4%}" for m in chosen],
            "rounding MSE": [parts[m][0] for m in chosen],
            "clipping MSE": [parts[m][1] for m in chosen],
            "activation MSE": [sum(parts[m]) for m in chosen],
        },
        hide_index=True,
        column_config={name: st.column_config.NumberColumn(format="%.4g") for name in ("threshold t", "rounding MSE", "clipping MSE", "activation MSE")},
    )
    st.caption(
        "Each threshold applied to the held-out activations: the share of them clipped at t, and their squared error "
        "split into rounding (values inside [0, t]) and clipping (values above t)."
    )

    with st.expander("How entropy and MSE choose"):
        (kl_t, kl), (mse_t, rounding, clipping) = choice_curves(layer, bits)
        left, right = st.columns(2)
        figure = go.Figure(go.Scatter(x=kl_t, y=kl, mode="lines", line=dict(color=METHOD_COLORS["entropy"])))
        figure.update_layout(height=300, title="KL(P ‖ Q) per cut point", xaxis_title="t", yaxis_type="log", margin=dict(l=10, r=10, t=40, b=10))
        plotly_chart(figure, where=left)
        figure = go.Figure([go.Scatter(x=mse_t, y=rounding, name="rounding"), go.Scatter(x=mse_t, y=clipping, name="clipping"),
                            go.Scatter(x=mse_t, y=rounding + clipping, name="total", line=dict(color=METHOD_COLORS["mse"]))])
        figure.update_layout(height=300, title="Quantization MSE per threshold", xaxis_title="t", yaxis_type="log", margin=dict(l=10, r=10, t=40, b=10))
        plotly_chart(figure, where=right)
        st.caption(
            f"Entropy: a {calibration.HISTOGRAM_BINS}-bin histogram of the activations; for each cut from bin "
            f"{calibration.first_cut_bin(bits, signed=False)} up, the clipped tail is "
            "added to the last kept bin (P) and the kept bins are merged into as many levels as the code has (Q); "
            "t is the cut with the least KL divergence. TensorRT merges into 128 levels because it stores signed "
            "int8; these activations are ≥ 0 and unsigned, so the 8-bit code has 256 levels on [0, t] (as NVIDIA's "
            f"pytorch-quantization does for unsigned inputs). MSE: {calibration.MSE_CANDIDATES} thresholds from "
            f"max/{calibration.MSE_CANDIDATES} to max, exact error each."
        )

    your_turn(
        "At 8 bits the four methods are close. Move the bits down to 4: which threshold wins now, and does it clip "
        "more or fewer held-out values than max? Then try the percentile 99.0 and watch the clipping MSE."
    )

    st.subheader("End to end: every activation quantized")
    float_mse, table = end_to_end(float(percentile))
    st.dataframe(
        {
            "method": [METHOD_LABELS[m] for m in table],
            **{
                column: values
                for i, b in enumerate(END_TO_END_BITS)
                for column, values in (
                    (f"MSE, {b} bits", [row[i] for row in table.values()]),
                    (f"vs float, {b} bits", [f"{row[i] / float_mse - 1:+.1%}" for row in table.values()]),
                )
            },
        },
        hide_index=True,
        column_config={f"MSE, {b} bits": st.column_config.NumberColumn(format="%.5f") for b in END_TO_END_BITS},
    )
    st.metric("Float reconstruction MSE (held out)", f"{float_mse:.5f}")
    st.caption(
        "Held-out reconstruction MSE with the inputs of all five Linear layers (pixels and ReLU outputs) quantized "
        "to 8 or 4 bits, each with its own threshold from the method; weights stay float. The percentile above "
        "applies here too."
    )


st.title("Calibration")
st.write(
    "Weights are known before the model runs; activations are not. To quantize them, pick a clip "
    "threshold t from sample inputs: too high and the steps are coarse, too low and large activations "
    "are clipped. Here are the four usual rules on the real activations of the autoencoder."
)
stop_unless_shipped()
st.caption(
    f"Thresholds are calibrated on {N_CALIBRATION} training digits and judged on the {N_HELDOUT} held-out digits, so "
    "no method sees the digits it is scored on. All these activations are ≥ 0, so each is stored as an "
    "unsigned code 0…2^b − 1 on [0, t] (zero point 0) — no code is spent on negatives."
)
explorer()
