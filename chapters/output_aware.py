"""Output-aware quantization: the weight objective against the output objective (PQ, GPTQ) on the shipped
models' real layers and activations, read from the study precomputed by `python -m core.models.output_aware`."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st

from core.models.output_aware import BIT_WIDTHS, STUDY_PATH, load_study, pq_trial
from core.quantize.layer_methods import METHODS
from core.quantize.pq import pq_bits_per_weight
from ui.background import run_in_background
from ui.charts import plotly_chart
from ui.memory import kept

MODEL_LABELS = {
    "autoencoder": "Autoencoder (784-1000-256-256-1000-784)",
    "lenet_300_100": "LeNet-300-100 classifier",
    "lenet5": "LeNet-5 classifier (its fully connected layers)",
}
COLORS = dict(zip(METHODS, ("#9e9e9e", "#616161", "#ef6c00", "#64b5f6", "#1565c0", "#2e7d32")))
NEAREST = METHODS[0]


@kept()
def studies() -> dict:
    return load_study()


@kept()
def trial(model: str, layer: str, block: int, k: int) -> list[dict]:
    return run_in_background(pq_trial, model, layer, block, k, label=f"Product quantization of {layer}, block {block}, k {k}")


def percent(value: float) -> str:
    return f"{value:.1%}" if value >= 0.001 else f"{value:.2g}"


def by_method(rows: list[dict]) -> dict[str, dict]:
    return {row["method"]: row for row in rows}


def scatter(rows: list[dict]) -> go.Figure:
    figure = go.Figure()
    for row in rows:
        color = COLORS[row["method"]]
        figure.add_trace(go.Scatter(
            x=[row["weight_error"]], y=[row["output_error"]], mode="markers", name=row["method"],
            marker=dict(size=13, color=color, line=dict(width=1, color="white")),
            hovertemplate=(
                f"{row['method']}<br>{row['bits_per_weight']:.3f} bits per weight<br>weight error %{{x:.3g}}"
                "<br>output error %{y:.3g}<extra></extra>"
            ),
        ))
        if math.isfinite(row["bound"]):
            figure.add_trace(go.Scatter(
                x=[row["weight_error"], row["weight_error"]], y=[row["output_error"], row["bound"]], mode="lines+markers",
                line=dict(color=color, width=1, dash="dot"), marker=dict(symbol=["circle", "triangle-down-open"], size=[0, 11], color=color),
                showlegend=False, hovertemplate=f"{row['method']}: the bound, %{{y:.3g}}<extra></extra>",
            ))
    figure.update_layout(
        height=460, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.2),
        xaxis=dict(title="weight error ‖W − Ŵ‖_F / ‖W‖_F", type="log"),
        yaxis=dict(title="output error, held-out ‖X(W − Ŵ)ᵀ‖_F / ‖XWᵀ‖_F", type="log", dtick=1),
    )
    return figure


def effect_chart(study: dict) -> go.Figure:
    figure = go.Figure()
    for method, curve in study["effect"].items():
        figure.add_trace(go.Scatter(
            x=curve["bits_per_weight"], y=curve["score"], mode="lines+markers", name=method,
            line=dict(color=COLORS[method]), hovertemplate=f"{method}<br>%{{x:.3f}} bits per weight<br>%{{y:.4g}}<extra></extra>",
        ))
    spanned = [bits for curve in study["effect"].values() for bits in curve["bits_per_weight"]]
    figure.add_trace(go.Scatter(  # a trace, not add_hline: an hline's label lands off a log axis
        x=[min(spanned), max(spanned)], y=[study["float_score"]] * 2, mode="lines", name="float32",
        line=dict(color="black", dash="dash"), hovertemplate="float32: %{y:.4g}<extra></extra>",
    ))
    accuracy = study["score_name"] == "held-out accuracy"
    figure.update_layout(
        height=420, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.25),
        xaxis_title="bits per weight (all quantized layers, scales and codebooks included)",
        yaxis=dict(title=study["score_name"] + ("" if accuracy else " (log)"), type="linear" if accuracy else "log", dtick=None if accuracy else 1),
    )
    return figure


def layer_sentences(layer: str, bits: int, rows: list[dict], condition: float) -> list[str]:
    """What the scatter shows, in words, from its numbers."""
    methods = by_method(rows)
    best = min(rows, key=lambda row: row["output_error"])
    closest = min(rows, key=lambda row: row["weight_error"])
    nearest = methods[NEAREST]
    said = [
        f"On {layer} at {bits} bit{'s' if bits > 1 else ''} per code, **{best['method']}** changes the layer's output on "
        f"held-out digits least: {percent(best['output_error'])}, {nearest['output_error'] / best['output_error']:.1f}× less "
        f"than round to nearest per row ({percent(nearest['output_error'])})."
    ]
    if closest["method"] != best["method"]:
        said.append(
            f"The weight objective would pick **{closest['method']}**, the closest weights (weight error "
            f"{closest['weight_error']:.3f}), yet its output error is {percent(closest['output_error'])}, "
            f"{closest['output_error'] / best['output_error']:.1f}× the best."
        )
    else:
        said.append("Here the closest weights also give the closest output: the weight objective does not mislead on this layer.")
    by_weights, by_outputs, gptq = methods["PQ, weight objective"], methods["PQ, output objective"], methods["GPTQ"]
    said.append(
        f"Product quantization with the output objective ends {by_outputs['weight_error'] / by_weights['weight_error']:.2f}× as far "
        f"from W as with the weight objective, and its output error is {by_outputs['output_error'] / by_weights['output_error']:.2f}× "
        f"as large; GPTQ against round to nearest per row: {gptq['weight_error'] / nearest['weight_error']:.2f}× the weight error, "
        f"{gptq['output_error'] / nearest['output_error']:.2f}× the output error."
    )
    if math.isinf(condition):
        said.append(
            "The article's bound (relative error × condition number) is infinite here: the layer has more inputs than "
            "outputs, so some inputs give an output of zero and no relative bound can hold for them."
        )
    else:
        ratios = [row["bound"] / row["output_error"] for row in rows if row["output_error"] > 0]
        said.append(
            f"The article's bound (relative error × condition number, cond₂ = {condition:,.0f}) is "
            f"{min(ratios):,.0f}–{max(ratios):,.0f}× the measured output error: true, but too loose to rank the methods."
        )
    return said


def score_formatter(study: dict):
    """Accuracy as a percentage, MSE with four decimals."""
    return (lambda value: f"{value:.1%}") if study["score_name"] == "held-out accuracy" else (lambda value: f"{value:.4f}")


def misleading_sentence(study: dict, bits: int) -> str:
    """How the weight objective misleads on this model at `bits`: PQ's two objectives, layer by layer and whole."""
    index = BIT_WIDTHS.index(bits)
    pairs = [by_method(layer["rows"][str(bits)]) for layer in study["layers"].values()]
    weight_ratios = [pair["PQ, output objective"]["weight_error"] / pair["PQ, weight objective"]["weight_error"] for pair in pairs]
    output_ratios = [pair["PQ, output objective"]["output_error"] / pair["PQ, weight objective"]["output_error"] for pair in pairs]
    by_weights, by_outputs = (study["effect"][method]["score"][index] for method in ("PQ, weight objective", "PQ, output objective"))
    show = score_formatter(study)
    return (
        f"Where the weight objective misleads, at {bits} bits: on the {len(pairs)} layers, PQ with the output objective lands "
        f"{min(weight_ratios):.2f}–{max(weight_ratios):.2f}× as far from W as with the weight objective, yet its outputs are "
        f"{min(output_ratios):.2f}–{max(output_ratios):.2f}× as far from the float layer's; the whole model's {study['score_name']} "
        f"is {show(by_outputs)} against {show(by_weights)} (float32: {show(study['float_score'])})."
    )


def effect_sentences(study: dict) -> list[str]:
    """What the whole-model chart shows, in words, at each bit width."""
    higher_is_better = study["score_name"] == "held-out accuracy"
    show = score_formatter(study)
    said = []
    for index, bits in enumerate(BIT_WIDTHS):
        scores = {method: curve["score"][index] for method, curve in study["effect"].items()}
        best = (max if higher_is_better else min)(scores, key=scores.get)
        said.append(
            f"{bits} bit{'s' if bits > 1 else ''}: best **{best}** {show(scores[best])}; round to nearest per row "
            f"{show(scores[NEAREST])}; PQ weight / output objective {show(scores['PQ, weight objective'])} / "
            f"{show(scores['PQ, output objective'])}; 1-D k-means {show(scores['1-D k-means (the article)'])}."
        )
    return said


st.title("Output-aware quantization")
st.write(
    "The article ends on this: taking into account *what the weights are used for* is as important as the error of "
    "each weight. A layer is only ever used to compute its output on the inputs it really sees. *And the Bit Goes Down* "
    "(Stock et al. 2019) chooses product-quantization codewords to keep the output X Wᵀ right rather than W itself; GPTQ "
    "(Frantar et al. 2022) rounds one column at a time and moves each rounding error onto the columns still to come, "
    "where the inputs can cancel it. Here every method gets the same bits per weight on the shipped models' real layers."
)
if not STUDY_PATH.exists():
    st.info(f"The precomputed study ({STUDY_PATH.name}) is not there yet: run `python -m core.models.output_aware`.")
    st.stop()
all_studies = studies()
models = [model for model in MODEL_LABELS if model in all_studies]
left, middle, right = st.columns([3, 2, 2])
model = left.selectbox("Model", models, format_func=MODEL_LABELS.get)
study = all_studies[model]
layers = study["layers"]
layer = middle.selectbox(
    "Layer", list(layers), format_func=lambda name: f"{name} ({layers[name]['shape'][0]}×{layers[name]['shape'][1]}, out × in)"
)
bits = right.select_slider("Bits per code", BIT_WIDTHS, value=2)
rows = layers[layer]["rows"][str(bits)]

plotly_chart(scatter(rows), key="output_aware_scatter")
st.caption(
    "One point per method. Each layer is calibrated on the activations entering it when the float model reads the "
    "4,500 training digits, and measured on the 500 held-out digits. A dotted line rises from each point to the "
    "article's bound on its output error, ‖W − Ŵ‖₂/‖W‖₂ × cond₂(W) (open triangle); it holds for every input."
)
for sentence in layer_sentences(layer, bits, rows, layers[layer]["condition"]):
    st.markdown(sentence)
st.dataframe(
    {
        "method": [row["method"] for row in rows],
        "bits per weight": [round(row["bits_per_weight"], 3) for row in rows],
        "weight error": [row["weight_error"] for row in rows],
        "output error, training digits": [row["output_error_fit"] for row in rows],
        "output error, held-out digits": [row["output_error"] for row in rows],
        "bound": [row["bound"] for row in rows],
    },
    hide_index=True,
    column_config={  # short headers and fixed digits, so the table fits its column at 1024 px
        "bits per weight": st.column_config.NumberColumn("bits/wt", format="%.3f"),
        "weight error": st.column_config.NumberColumn("weight err.", format="%.4f", help="‖W − Ŵ‖_F / ‖W‖_F"),
        "output error, training digits": st.column_config.NumberColumn(
            "out. err., train", format="%.4f", help="‖X(W − Ŵ)ᵀ‖_F / ‖XWᵀ‖_F on the 4,500 training digits it was fitted on"
        ),
        "output error, held-out digits": st.column_config.NumberColumn(
            "out. err., held out", format="%.4f", help="‖X(W − Ŵ)ᵀ‖_F / ‖XWᵀ‖_F on the 500 held-out digits"
        ),
        "bound": st.column_config.NumberColumn("bound", format="%.3g", help="‖W − Ŵ‖₂/‖W‖₂ × cond₂(W), the article's bound"),
    },
)
st.caption(
    f"Bits per weight count everything stored: codes, float16 scales and b-bit zero points (round to nearest, GPTQ), "
    f"float16 codebooks (k-means, PQ). PQ cuts rows into sub-vectors of 8, 4 or 2 inputs sharing 2^(bits × block) ≤ 256 "
    f"codewords; on a small layer the codebook is a large share, which is why its bits per weight can sit above the others."
)

st.subheader("The whole model")
st.write(
    f"Every fully connected layer of the {MODEL_LABELS[model]} quantized by one method at 1–4 bits per code, then the "
    f"whole model scored on the held-out digits ({study['score_name']}; biases stay float32)."
)
plotly_chart(effect_chart(study), key="output_aware_effect")
for sentence in effect_sentences(study):
    st.markdown("- " + sentence)
st.markdown(misleading_sentence(study, bits))

st.subheader("Your own product quantization")
st.write(
    f"Pick the sub-vector length and codebook size for {layer} and fit both objectives on its real inputs "
    "(20 steps each; a few seconds on a large layer)."
)
in_features = layers[layer]["shape"][1]
sub_vectors = layers[layer]["shape"][0] * in_features
left, right = st.columns(2)
block = left.select_slider("Sub-vector length (block)", [size for size in (1, 2, 4, 8, 16) if in_features % size == 0], value=4)
k = right.select_slider("Codewords (k)", [2**power for power in range(1, 9)], value=64)
st.metric(
    "Bits per weight at this setting", f"{pq_bits_per_weight(tuple(layers[layer]['shape']), block, k):.3f}",
    help=f"log2(k) bits per sub-vector of {block}, plus the layer's {k} float16 codewords of {block} values",
)
if st.button("Fit both objectives"):
    if k > sub_vectors // block:
        st.error(f"k must be at most the number of sub-vectors, {sub_vectors // block:,} for block {block}; got {k}.")
    else:
        try:
            weight_row, output_row = trial(model, layer, block, k)
        except ValueError as error:
            st.error(f"Could not quantize this layer: {error}")
            st.stop()
        b, c = st.columns(2)
        b.metric("Output error, weight objective", percent(weight_row["output_error"]))
        c.metric(
            "Output error, output objective", percent(output_row["output_error"]),
            delta=f"{output_row['output_error'] / weight_row['output_error'] - 1:+.0%}", delta_color="inverse",
        )
        st.markdown(
            f"The output objective's weights are {output_row['weight_error'] / weight_row['weight_error']:.2f}× as far from W "
            f"(weight error {output_row['weight_error']:.3f} against {weight_row['weight_error']:.3f}); its output on the "
            f"held-out digits is {output_row['output_error'] / weight_row['output_error']:.2f}× as far from the float layer's."
        )
