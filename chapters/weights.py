"""Weights: quantize a weight matrix by k-means weight sharing or linear quantization and measure the error."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import distributions
from core.measure import norms
from core.measure.divergence import DEFAULT_BINS, shared_histograms
from core.measure.sizes import index_bits
from core.quantize import weight_sharing
from ui.charts import matrix_heatmap, plotly_chart
from ui.memory import kept
from ui.shipped_model import layer_weights
from ui.your_turn import your_turn

DISTRIBUTION_LABELS = {
    "normal": "Normal N(0, 1)",
    "uniform": "Uniform U(−2, 2)",
    "outlier": "Normal with one outlier (one entry = 25)",
    "laplace": "Laplacian (variance 1)",
    "bimodal": "Bimodal: N(−2, 0.5²) and N(2, 0.5²)",
    distributions.SINGULAR: "Singular: N(0, 1) with its last row a copy of the first",
}
METHOD_LABELS = {
    "kmeans": "k-means weight sharing",
    "minmax": "linear, min–max (affine)",
    "absmax": "linear, abs-max (symmetric)",
}
NORM_LABELS = {
    1: "1-norm: max column abs sum",
    2: "2-norm: largest singular value",
    "inf": "∞-norm: max row abs sum",
    "fro": "Frobenius",
}
NORM_SYMBOLS = {1: "₁", 2: "₂", "inf": "∞", "fro": "F"}
NORM_TEX = {1: "1", 2: "2", "inf": r"\infty", "fro": "F"}
MAX_HEATMAP_SIDE = 512
SEED_KEY = "weights_seed"


@kept()
def matrix(choice: str, n: int, seed: int) -> np.ndarray:
    if choice in distributions.DISTRIBUTIONS:
        return distributions.weight_matrix(choice, n, seed)
    if choice == distributions.SINGULAR:
        return distributions.singular_matrix(n, seed)
    return layer_weights()[choice]


@kept()
def inputs(length: int) -> np.ndarray:
    return weight_sharing.random_inputs(length)


@kept(spinner="Computing the condition number (an SVD of W)…")
def condition(choice: str, n: int, seed: int, p: object) -> float:
    return norms.condition_number(matrix(choice, n, seed), p)


@kept(spinner="Quantizing and measuring…")
def report(choice: str, n: int, seed: int, bits: int, method: str, p: object) -> weight_sharing.WeightReport:
    weights = matrix(choice, n, seed)
    return weight_sharing.weight_report(weights, bits, method, p, inputs(weights.shape[1]))


@kept(spinner="Quantizing at every bit width…")
def rate_distortion(choice: str, n: int, seed: int, p: object) -> dict[str, np.ndarray]:
    return weight_sharing.rate_distortion(matrix(choice, n, seed), p)


def number(value: float) -> str:
    """Three significant digits, thousands written out in full, ∞ for infinity."""
    if np.isinf(value):
        return "∞"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def tex_number(value: float) -> str:
    """number() for LaTeX: infinity as its symbol, thousands separated by a thin space."""
    return r"\infty" if np.isinf(value) else number(value).replace(",", r"\,")


def derivation(tex: str, relative_error: float, cond: float, bound: float) -> None:
    """The bound on ‖(W − Q)x‖ / ‖Wx‖ derived in four steps, in the chosen matrix norm (its LaTeX subscript: tex)."""

    def matrix_norm(matrix: str) -> str:
        return rf"\lVert {matrix} \rVert_{{{tex}}}"

    def vector_norm(vector: str) -> str:
        return rf"\lVert {vector} \rVert"

    if tex == "F":
        rule = (
            "The Frobenius norm is not induced by a vector norm, but it is consistent with the vector 2-norm, "
            r"$\lVert Ax \rVert_2 \le \lVert A \rVert_F \lVert x \rVert_2$ for every A and x, and that is all the steps use."
        )
    else:
        rule = (
            rf"The matrix norm is the one induced by the vector norm, ${matrix_norm('A')} = \max_{{x \ne 0}} "
            rf"{vector_norm('Ax')} / {vector_norm('x')}$, so ${vector_norm('Ax')} \le {matrix_norm('A')} {vector_norm('x')}$ "
            "for every A and x."
        )
    st.markdown(f"Write the quantization error as a matrix of its own, $E = W - Q$: the output moves by $Wx - Qx = Ex$. {rule}")
    st.markdown("**1.** The output's error is at most the error matrix's norm times the size of the input:")
    st.latex(rf"{vector_norm('Ex')} \le {matrix_norm('E')} \, {vector_norm('x')}")
    st.markdown("**2.** Measure the input by the output it produces: W is invertible, so $x = W^{-1}(Wx)$, and by the same rule")
    st.latex(rf"{vector_norm('x')} \le {matrix_norm('W^{-1}')} \, {vector_norm('Wx')}")
    st.markdown(r"**3.** Put step 2 into step 1 and divide by $\lVert Wx \rVert$, which is not 0 (W is invertible and x ≠ 0):")
    st.latex(rf"\frac{{{vector_norm('Ex')}}}{{{vector_norm('Wx')}}} \le {matrix_norm('E')} \, {matrix_norm('W^{-1}')}")
    st.markdown(
        f"**4.** Multiply and divide by ${matrix_norm('W')}$: the right side splits into the two numbers above, the "
        "relative error of the weights and the condition number of W."
    )
    st.latex(
        rf"\frac{{{vector_norm('(W-Q)x')}}}{{{vector_norm('Wx')}}} \le "
        rf"\underbrace{{\frac{{{matrix_norm('W-Q')}}}{{{matrix_norm('W')}}}}}_{{{tex_number(relative_error)}}} \cdot "
        rf"\underbrace{{{matrix_norm('W')} \, {matrix_norm('W^{-1}')}}}_{{{tex_number(cond)}}} = {tex_number(bound)}"
    )
    st.markdown(
        "Equality needs one x that E stretches most in step 1 *and* that W shrinks most in step 2. Those are "
        "usually different directions, so only carefully chosen inputs reach the bound: it is a guarantee, "
        "not a forecast."
    )


def new_sample() -> None:
    st.session_state[SEED_KEY] = (st.session_state[SEED_KEY] + 1) % 2**32


def display_step(shape: tuple[int, ...]) -> int:
    """Show one row and column in this many, so a heatmap has at most MAX_HEATMAP_SIDE of each."""
    return -(-max(shape) // MAX_HEATMAP_SIDE)


def heatmap(values: np.ndarray, limit: float, title: str, key: str, where, colorbar_title: str) -> None:
    step = display_step(values.shape)
    matrix_heatmap(
        values[::step, ::step], limit, title, key=key, where=where, step=step, colorbar_title=colorbar_title
    )


@st.fragment
def explorer() -> None:
    """The controls and everything they drive. A fragment: a move reruns this alone, not the app around it
    (its navigation, sidebar and link to the next chapter), which stays as it is."""
    layers = layer_weights()
    choices = [*distributions.DISTRIBUTIONS, distributions.SINGULAR, *layers]
    labels = {
        **DISTRIBUTION_LABELS,
        **{name: f"A real layer: autoencoder {name} {w.shape[0]}×{w.shape[1]}" for name, w in layers.items()},
    }

    st.session_state.setdefault(SEED_KEY, 0)
    left, middle, right = st.columns([3, 2, 2])
    choice = left.selectbox("Weights", choices, format_func=labels.get, key="weights_choice")
    is_layer = choice in layers
    if is_layer:
        n, seed = 0, 0
        middle.caption("The trained weights of the shipped MNIST autoencoder (W is out × in).")
    else:
        n = middle.slider("Matrix size n (n × n)", 8, 512, 20, key="weights_n")
        seed = right.number_input("Seed", 0, 2**32 - 1, key=SEED_KEY, help="The same seed gives everyone the same matrix.")
        right.button("New sample", on_click=new_sample)

    left, middle, right = st.columns([2, 3, 3])
    bits = left.slider("Bits per weight", 1, 8, 4, key="weights_bits")
    method = middle.radio("Method", list(METHOD_LABELS), format_func=METHOD_LABELS.get, key="weights_method")
    p = right.selectbox("Norm", list(NORM_LABELS), format_func=NORM_LABELS.get, key="weights_norm")

    try:
        weights = matrix(choice, n, int(seed))
        result = report(choice, n, int(seed), bits, method, p)
    except ValueError as error:
        st.error(f"Could not quantize these weights: {error}")
        st.stop()
    quantized = result.quantized
    sub = NORM_SYMBOLS[p]

    st.subheader("How far can Wx move?")
    is_square = weights.shape[0] == weights.shape[1]
    cond = condition(choice, n, int(seed), p) if is_square else float("nan")
    bound = weight_sharing.error_bound(result.relative_error, cond)
    left, middle, right = st.columns(3)
    left.metric(f"Relative error ‖W − Q‖{sub} / ‖W‖{sub}", number(result.relative_error))
    middle.metric(f"Condition number ‖W‖{sub}·‖W⁻¹‖{sub}", number(cond) if is_square else "—")
    right.metric("Bound = error × condition", number(bound) if is_square else "—")
    left, middle, _ = st.columns(3)
    left.metric("Measured ‖(W − Q)x‖ / ‖Wx‖, median", number(result.output_error_median))
    middle.metric("Measured, max", number(result.output_error_max))

    vector_p = "2" if p == "fro" else str(p).replace("inf", "∞")
    tex = NORM_TEX[p]
    st.markdown(
        rf"For every input x, $\dfrac{{\lVert (W-Q)x \rVert}}{{\lVert Wx \rVert}} \le "
        rf"\dfrac{{\lVert W-Q \rVert_{{{tex}}}}}{{\lVert W \rVert_{{{tex}}}}} \cdot "
        rf"\lVert W \rVert_{{{tex}}} \lVert W^{{-1}} \rVert_{{{tex}}}$: the quantization error of the weights, amplified "
        "by at most the condition number of W. The measured values are over 1,000 random normal inputs x, with x and "
        f"Wx measured in the vector {vector_p}-norm."
    )
    if is_square and st.toggle("Why the bound holds, step by step", help="Four steps in LaTeX, with this matrix's numbers"):
        derivation(tex, result.relative_error, cond, bound)  # typeset only when asked: it changes with every move
    if not is_square:
        st.info(
            f"The condition number needs W⁻¹, and this {weights.shape[0]}×{weights.shape[1]} matrix has no inverse, "
            "so there is no bound to show; the measured error is still real. "
            f"Square layers: {', '.join(name for name, w in layers.items() if w.shape[0] == w.shape[1])}."
        )
    elif np.isinf(cond):
        st.warning(
            "W is singular to working precision: some x ≠ 0 has Wx = 0, so no relative error on Wx can be bounded "
            "and the condition number is ∞."
        )
    elif bound >= 1:
        st.write(
            f"Here the bound is {number(bound)}: above 1, it promises nothing (an error of 100% is already "
            f"losing the whole output), while the largest error measured is {number(result.output_error_max)}, "
            f"{number(bound / result.output_error_max)}× smaller. For real weights the bound is often far above 1 and "
            "far above what happens: it holds for the worst x, which random inputs almost never hit."
        )
    else:
        st.write(
            f"Here the bound is {number(bound)}; the largest error measured is {number(result.output_error_max)}. "
            "The bound holds for the worst x; random inputs rarely come close to it."
        )
    if p == 1:
        st.caption(
            "The 1-norm of a matrix is the induced one, the largest column absolute sum. The article's demo "
            "used the largest absolute entry, which is not an induced norm, and the bound does not hold with it."
        )
    your_turn(
        "Choose *Normal with one outlier* and compare k-means with abs-max at 3 bits: which method spends its "
        "levels on the single large weight, and what happens to the measured error? Then choose *Singular*: the "
        "bound becomes ∞, yet the measured error barely moves. Which inputs x is the bound warning you about?"
    )

    st.subheader("The matrices")
    limit = float(max(np.abs(weights).max(), np.abs(quantized).max()))
    left, right = st.columns(2)
    heatmap(weights, limit, f"W ({weights.shape[0]}×{weights.shape[1]})", "weights_w", left, "weight")
    heatmap(quantized, limit, f"Q: {result.levels.size} levels, {METHOD_LABELS[method]}", "weights_q", right, "weight")
    difference = weights - quantized
    left, right = st.columns(2)
    heatmap(difference, float(np.abs(difference).max()) or 1.0, "W − Q (its own color scale)", "weights_w_minus_q", left, "W − Q")
    with right:
        st.caption(
            "W and Q share one diverging color scale (red positive, blue negative, white 0), so a single "
            "large weight, like the outlier, washes out the others. W − Q has its own scale."
        )
        if max(weights.shape) > MAX_HEATMAP_SIDE:
            st.caption(
                f"Above {MAX_HEATMAP_SIDE} rows or columns the heatmaps show one row and column "
                f"in {display_step(weights.shape)}; every number is computed on the whole matrix."
            )

    edges, counts_w, _ = shared_histograms(weights, quantized)
    stems_x = np.repeat(result.levels, 3).astype(float)
    stems_y = np.column_stack([np.zeros_like(result.level_counts), result.level_counts, result.level_counts]).ravel().astype(float)
    stems_x[2::3] = stems_y[2::3] = np.nan
    histogram = go.Figure()
    histogram.add_bar(x=(edges[:-1] + edges[1:]) / 2, y=counts_w, width=np.diff(edges), name="W (histogram)", opacity=0.6)
    histogram.add_scatter(x=stems_x, y=stems_y, mode="lines", name="Q (weights per level)", line=dict(color="crimson", width=2))
    histogram.add_scatter(
        x=result.levels, y=result.level_counts, mode="markers", marker=dict(color="crimson", size=6), showlegend=False
    )
    histogram.update_layout(
        title="Histogram of W and the levels of Q", xaxis_title="weight value", yaxis_title="number of weights", height=350, bargap=0
    )
    plotly_chart(histogram)

    st.subheader("Distance between the distributions")
    left, right = st.columns([1, 3])
    left.metric("KL(W ‖ Q) of the histograms", f"{result.kl_bits:.3g} bits")
    right.write(
        "The article leaves this as a challenge. On the histogram's bins above, Q's few levels leave most "
        "bins empty, and KL(W ‖ Q) of raw histograms is then infinite; each bin gets half a count added "
        "(the Krichevsky–Trofimov estimate) to make it finite. KL only counts how much of W falls in bins where "
        "Q has no level, not how far a weight moved: it stays high until the levels cover the bins, then drops "
        f"to nearly 0 (at {int(np.log2(DEFAULT_BINS))} bits min–max quantization's {DEFAULT_BINS} evenly spaced "
        f"levels fill the {DEFAULT_BINS} bins), and it is "
        "exactly 0 on the quantizer's own cells. It is a poor measure of quantization error."
    )

    st.subheader("Bytes")
    left, middle, right = st.columns(3)
    left.metric("W as float32", f"{result.float_bytes:,} B")
    middle.metric("Q as stored", f"{result.quantized_bytes:,} B")
    right.metric("Compression", f"{result.float_bytes / result.quantized_bytes:.2f}×")
    if method == "kmeans":
        levels = result.levels.size
        why = f" (W has only {weights.size:,} weights)" if weights.size < 2**bits else ""
        unused = (
            f" It uses {levels} of the {2**bits} levels that {bits} bits allow{why}, so {index_bits(levels)}-bit indices address them all."
            if levels < 2**bits
            else ""
        )
        st.caption(
            f"Q stores {weights.size:,} indices of {index_bits(levels)} bits, packed, plus a codebook of {levels} float32 values."
            + unused
        )
    else:
        zero_point = f" and a {bits}-bit zero point" if method == "minmax" else ""
        st.caption(f"Q stores {weights.size:,} codes of {bits} bits, packed, plus one float32 scale{zero_point}.")

    st.subheader("Error against bits")
    curves = rate_distortion(choice, n, int(seed), p)
    chart = go.Figure()
    for name, errors in curves.items():
        chart.add_scatter(x=list(weight_sharing.BIT_WIDTHS), y=errors, mode="lines+markers", name=METHOD_LABELS[name])
    chart.add_vline(x=bits, line_dash="dot", annotation_text=f"{bits} bits")
    chart.update_layout(
        xaxis_title="bits per weight", yaxis_title=f"relative error ‖W − Q‖{sub} / ‖W‖{sub} (log)", height=380,
        margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.25),
    )
    chart.update_yaxes(type="log", dtick=1, exponentformat="power")  # one label per power of ten
    plotly_chart(chart)
    st.caption(
        f"On this matrix. At {bits} bits k-means gives {number(curves['kmeans'][bits - 1])}, min–max "
        f"{number(curves['minmax'][bits - 1])}, abs-max {number(curves['absmax'][bits - 1])}."
    )
    if curves["absmax"][1] > curves["absmax"][0]:
        st.caption(
            f"Abs-max is worse at 2 bits ({number(curves['absmax'][1])}) than at 1 bit ({number(curves['absmax'][0])}) here. "
            "Its 2-bit codes are −1, 0 and +1 times max|W| (a symmetric grid gives up the fourth code to keep 0 exact), "
            "so every weight below half the largest becomes 0. At 1 bit the codes are ±mean|W|, the scale with the "
            "least squared error, and no weight is zeroed."
        )


st.title("Weights")
st.write(
    "The colors of a photo were shared among k values; a layer of a neural network can share its weights "
    "the same way. The layer computes Wx, a weight matrix W times an input x. Store each weight as a short "
    "index into $2^{\\text{bits}}$ shared levels and the layer computes Qx instead. The question of this chapter: how "
    "far can Qx be from Wx? One number of the matrix, its condition number, answers it for every input at once."
)
explorer()
