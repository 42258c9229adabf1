"""Scale and affine mapping: floats to b-bit integers, symmetric (scale only) vs asymmetric (scale and zero point)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import distributions
from core.quantize import calibration, linear
from ui.charts import plotly_chart
from ui.memory import kept
from ui.your_turn import your_turn

WORKED_EXAMPLE = "-2.3, -1.1, 0.0, 1.5, 2.8, 4.0"
MAX_VALUES = 50
MAPPINGS = {True: "Symmetric (scale only)", False: "Asymmetric (affine: scale and zero point)"}
CLIP_SAMPLE_SIDE = 100


def parse_values(text: str) -> np.ndarray:
    """Comma- or space-separated numbers -> float64 array; ValueError naming what is accepted."""
    pieces = [piece for piece in text.replace(",", " ").split() if piece]
    if not 1 <= len(pieces) <= MAX_VALUES:
        raise ValueError(f"type 1 to {MAX_VALUES} numbers separated by commas; got {len(pieces)}")
    try:
        values = np.array([float(piece) for piece in pieces])
    except ValueError:
        raise ValueError(f"every entry must be a number like -2.3 or 4e-2; got {text!r}") from None
    if not np.isfinite(values).all() or np.abs(values).max() > 1e30:
        raise ValueError("numbers must be finite and at most 1e30 in size (no inf or nan)")
    return values


def segments(x0: np.ndarray, x1: np.ndarray, y0, y1) -> tuple[np.ndarray, np.ndarray]:
    """Line segments from (x0, y0) to (x1, y1), elementwise, as the x and y of one plotly line (NaN breaks it)."""
    x = np.column_stack([x0, x1, np.full(len(x0), np.nan)]).ravel()
    y = np.column_stack([y0, y1, np.full(len(x0), np.nan)]).ravel()
    return x, y


def number_line(values: np.ndarray, restored: np.ndarray, codes: np.ndarray, scale: float, zero_point: int, bits: int, symmetric: bool) -> go.Figure:
    """Floats on the upper line, their integer codes on the lower one (drawn at the value each code stands for)."""
    qmin, qmax = linear.quant_range(bits, symmetric)
    ends = np.array([(qmin - zero_point) * scale, (qmax - zero_point) * scale])
    figure = go.Figure()
    # The two lines in one trace and every value's link in another: a plot redraws faster with few traces.
    x, y = segments(ends[[0, 0]], ends[[1, 1]], [1, 0], [1, 0])
    figure.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color="lightgray", width=6), hoverinfo="skip", showlegend=False))
    x, y = segments(values, restored, np.ones_like(values), np.zeros_like(values))
    figure.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color="steelblue"), hoverinfo="skip", showlegend=False))
    figure.add_trace(go.Scatter(
        x=values, y=np.ones_like(values), mode="markers+text", text=[f"{v:g}" for v in values], textposition="top center",
        marker=dict(size=10, color="steelblue"), name="float", hovertemplate="x = %{x}<extra></extra>",
    ))
    landmarks = [qmin, qmax] if symmetric and bits == 1 else [qmin, qmax, zero_point]  # sign codes have no 0
    landmarks = [code for code in landmarks if code not in codes]
    labelled = np.concatenate([codes, np.array(landmarks, dtype=codes.dtype)])
    positions = (labelled - zero_point) * scale
    figure.add_trace(go.Scatter(
        x=positions, y=np.zeros_like(positions), mode="markers+text", text=[str(c) for c in labelled], textposition="bottom center",
        marker=dict(size=[10] * len(codes) + [6] * len(landmarks), color=["darkorange"] * len(codes) + ["gray"] * len(landmarks)),
        name="integer code",
        hovertemplate="code %{text}<extra></extra>",
    ))
    figure.update_layout(height=230, margin=dict(l=10, r=10, t=30, b=10), showlegend=False)
    figure.update_yaxes(tickvals=[0, 1], ticktext=["integers", "floats"], range=[-0.6, 1.6])
    figure.update_xaxes(zeroline=False)
    return figure


def mapping_column(column, values: np.ndarray, bits: int, symmetric: bool) -> None:
    scale, zero_point = linear.choose_qparams(values, bits, symmetric)
    codes = linear.quantize(values, scale, zero_point, bits, symmetric=symmetric)
    restored = linear.dequantize(codes, scale, zero_point)
    s, z = float(scale[0]), int(zero_point[0])
    qmin, qmax = linear.quant_range(bits, symmetric)
    column.subheader(MAPPINGS[symmetric])
    if symmetric and bits == 1:
        column.markdown(rf"At 1 bit the codes are the signs −1 and +1, times $s = \operatorname{{mean}}|x| = {s:.6g}$ (the least-squares scale).")
    elif symmetric:
        column.markdown(rf"$s = \max|x| / {qmax} = {s:.6g}$, codes {qmin}…{qmax}, $q = \operatorname{{round}}(x / s)$")
    else:
        column.markdown(
            rf"$s = (\max - \min) / {qmax} = {s:.6g}$, $z = \operatorname{{round}}(-\min / s) = {z}$, codes {qmin}…{qmax}, "
            r"$q = \operatorname{round}(x / s) + z$"
        )
    plotly_chart(number_line(values, restored, codes, s, z, bits, symmetric), key=f"line_{symmetric}", where=column)
    column.dataframe(
        {"x": values, "code q": codes, "dequantized": restored.astype(np.float64), "error": restored.astype(np.float64) - values},
        hide_index=True,
        column_config={name: st.column_config.NumberColumn(format="%.6g") for name in ("x", "dequantized", "error")},
    )
    column.metric("Mean squared error", f"{np.mean((restored.astype(np.float64) - values) ** 2):.3g}")


@kept()
def clipping_sample(seed: int) -> np.ndarray:
    return distributions.weight_matrix("laplace", CLIP_SAMPLE_SIDE, seed).ravel()


@kept(spinner="Sweeping clip thresholds…")
def clipping_curve(seed: int, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return calibration.mse_curve(clipping_sample(seed), bits, signed=True)


@st.fragment
def both_mappings() -> None:
    """The values, the bit width and both mappings of them. A fragment: moving its controls reruns this
    section alone, and the rest of the page is not drawn again."""
    text = st.text_input("Values (comma-separated)", WORKED_EXAMPLE)
    bits = st.slider("Bits", 1, 8, 8)
    try:
        values = parse_values(text)
    except ValueError as error:
        st.error(f"Could not read the values: {error}")
        return
    if not np.any(values):
        st.info("All values are 0: every mapping stores them exactly (scale 1, code = zero point).")
    left, right = st.columns(2)
    mapping_column(left, values, bits, symmetric=True)
    mapping_column(right, values, bits, symmetric=False)


@st.fragment
def clipping_trade_off() -> None:
    """The clipping trade-off on a Laplacian sample; a fragment, as both_mappings() is."""
    left, middle, right = st.columns(3)
    clip_bits = left.slider("Bits for clipping", 2, 8, 4)
    seed = middle.number_input("Seed", 0, 2**32 - 1, 0)
    sample = clipping_sample(int(seed))
    largest = float(np.abs(sample).max())
    fraction = right.slider("Clip threshold t, as a fraction of max|x|", 0.02, 1.0, 0.5, 0.01)
    t = fraction * largest
    rounding, clipping = calibration.error_parts(sample, t, clip_bits, signed=True)
    thresholds, rounding_curve, clipping_curve_values = clipping_curve(int(seed), clip_bits)
    best = float(thresholds[np.argmin(rounding_curve + clipping_curve_values)])
    a, b, c, d = st.columns(4)
    a.metric("Rounding MSE", f"{rounding:.3g}")
    b.metric("Clipping MSE", f"{clipping:.3g}")
    c.metric("Total MSE", f"{rounding + clipping:.3g}")
    d.metric("Best t on the sweep", f"{best:.3g}", help=f"{best / largest:.0%} of max|x| = {largest:.3g}")

    figure = go.Figure()
    figure.add_trace(go.Scatter(x=thresholds, y=rounding_curve, name="rounding (values inside ±t)"))
    figure.add_trace(go.Scatter(x=thresholds, y=clipping_curve_values, name="clipping (values beyond ±t)"))
    figure.add_trace(go.Scatter(x=thresholds, y=rounding_curve + clipping_curve_values, name="total", line=dict(dash="dot", color="black")))
    figure.add_vline(x=t, line_color="crimson", annotation_text=f"t = {t:.3g}")
    figure.update_layout(height=360, xaxis_title="clip threshold t", yaxis_title="mean squared error", yaxis_type="log", margin=dict(l=10, r=10, t=30, b=10))
    plotly_chart(figure)


st.title("Scale and affine mapping")
st.write(
    "Linear quantization stores a float x as a small integer q and one shared scale s: x ≈ s·q. "
    "The symmetric mapping centres the integers on 0; the asymmetric (affine) one shifts them by a zero "
    "point z so the integers cover exactly the range of the data, x ≈ s·(q − z). Edit the numbers and "
    "the bit width and follow each value to its integer and back."
)
both_mappings()
st.caption(
    "Round to nearest with scale 127/4: 1.5 → 47.625 → 48 and 2.8 → 88.9 → 89, and every value keeps "
    "its own code. A widely shared write-up of this example prints 47 for 1.5 and leaves a value out. "
    "The symmetric grid here uses −127…127, so 0 maps to 0 and the grid is the same on both sides; "
    "the asymmetric grid widens [min, max] to include 0 so that 0.0 is stored exactly."
)

your_turn(
    "Replace the last value, 4.0, by 40. What happens to the codes of the other five values in each mapping, "
    "and to the mean squared error? Then go down to 1 bit: what is left of each mapping?"
)

st.header("Clipping: rounding error against clipping error")
st.write(
    "Shrinking the range [−t, t] makes the steps finer, so values inside it round with less error, "
    "but values beyond t are clipped to ±t. On 10,000 Laplacian weights (heavier tails than a normal), "
    "move t and watch the two errors trade places."
)
clipping_trade_off()
