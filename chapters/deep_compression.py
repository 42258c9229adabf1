"""Deep Compression: prune, share weights, fine-tune the codebooks, Huffman-code; real bytes and held-out
accuracy at every stage, beside the paper's numbers."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.compress import pipeline, shipped
from core.compress.networks import NETWORKS
from core.compress.sharing import INITIALISATIONS
from ui.background import run_in_background
from ui.charts import plotly_chart
from ui.memory import kept

MODEL_LABELS = {"lenet_300_100": "LeNet-300-100", "lenet5": "LeNet-5", "autoencoder": "Autoencoder (MSE)"}
PAPER = {
    # Han, Mao, Dally (ICLR 2016), Table 1 and §6: float size, ratio after each stage, top-1 error before/after.
    "lenet_300_100": {"float KB": 1070, "ratios": {"pruned": 12, "+ weight sharing": 32, "+ fine-tuned": 32, "+ Huffman": 40}, "error": (1.64, 1.58)},
    "lenet5": {"float KB": 1720, "ratios": {"pruned": 12, "+ Huffman": 39}, "error": (0.80, 0.74)},
}
INIT_LABELS = {"linear": "linear", "density": "density (CDF)", "random": "random (Forgy)", "kmeans": "our optimal 1-D k-means"}
INIT_COLORS = {"linear": "#1f77b4", "density": "#2ca02c", "random": "#d62728", "kmeans": "#7f7f7f"}


@kept()
def shipped_record(model: str) -> dict:
    return shipped.load_results(model)


@kept()
def shipped_file(model: str) -> bytes:
    return shipped.dc_path(model).read_bytes()


@kept()
def shipped_layers(model: str) -> list[dict]:
    """The shipped file's per-layer table, measured on the file itself (~0.1 s: it decodes the file)."""
    return pipeline.layer_table(shipped_file(model), shipped_record(model)["stages"][0]["bytes"])


@kept()
def custom_run(model: str, settings_json: str) -> dict:
    """The pipeline at the reader's settings, run off the server's GIL; the stages, table and file."""
    settings = pipeline.Settings(**json.loads(settings_json))
    result = run_in_background(pipeline.compress, model, settings, label="Compressing")
    return {
        "stages": [{"name": s.name, "bytes": s.bytes, "score": s.score} for s in result.stages],
        "layers": result.layers,
        "file": result.file,
        "settings": result.settings,
    }


def score_text(score: float, name: str) -> str:
    return f"{score:.1%}" if name == "accuracy" else f"MSE {score:.5f}"


def waterfall(stages: list[dict], score_name: str, model: str) -> go.Figure:
    names = [s["name"] for s in stages]
    figure = go.Figure()
    figure.add_bar(
        x=names,
        y=[s["bytes"] for s in stages],
        name="our file (bytes)",
        text=[f"{s['bytes']:,} B<br>{stages[0]['bytes'] / s['bytes']:.1f}×<br>{score_text(s['score'], score_name)}" for s in stages],
        textposition="outside",
        marker_color=["#7f7f7f", "#9467bd", "#1f77b4", "#17becf", "#2ca02c"],
    )
    paper = PAPER.get(model)
    if paper:
        ratios = paper["ratios"]
        figure.add_scatter(
            x=[n for n in names if n in ratios],
            y=[stages[0]["bytes"] / ratios[n] for n in names if n in ratios],
            mode="markers+text",
            text=[f"paper {ratios[n]}×" for n in names if n in ratios],
            textposition="middle right",
            marker=dict(symbol="line-ew-open", size=40, line=dict(width=3, color="black")),
            name="paper's ratio (same float size)",
        )
    figure.update_layout(
        yaxis=dict(type="log", title="bytes (log scale)"), height=430, margin=dict(t=30, b=40), legend=dict(orientation="h", y=-0.15)
    )
    return figure


def layer_table(layers: list[dict]) -> pd.DataFrame:
    """The paper's Table 2 turned sideways: one column per layer, one row per measure, so it fits the page."""
    columns = {}
    for row in layers:
        if "weights" not in row:
            continue
        columns[row["layer"]] = {
            "weights": f"{row['weights']:,}",
            "kept": f"{row['kept'] / row['weights']:.1%}",
            "weight bits": str(row["weight_bits"]),
            "weight bits after Huffman": f"{row['weight_bits_huffman']:.2f}" if row["weight_bits_huffman"] is not None else "",
            "index bits": str(row["index_bits"]),
            "index bits after Huffman": f"{row['index_bits_huffman']:.2f}",
            "bytes (with bias)": f"{row['bytes']:,}",
            "share of file": f"{row['share']:.1%}",
            "of float32": f"{row['of_float']:.2%}",
        }
    return pd.DataFrame(columns)


def settings_form(model: str, defaults: pipeline.Settings) -> pipeline.Settings | None:
    """Per-layer widgets (defaults: the shipped file's settings); the Settings when the reader presses Run."""
    layers = tuple(NETWORKS[model].layer_shapes)
    with st.form(f"settings_{model}"):
        columns = st.columns(len(layers))
        kept, weight_bits, index_bits = {}, {}, {}
        for column, layer in zip(columns, layers):
            with column:
                st.markdown(f"**{layer}** {NETWORKS[model].layer_shapes[layer]}")
                kept[layer] = st.slider("kept %", 0, 100, round(100 * defaults.kept[layer]), key=f"kept_{model}_{layer}") / 100
                weight_bits[layer] = st.slider("weight bits", 1, 8, defaults.weight_bits[layer], key=f"wb_{model}_{layer}")
                index_bits[layer] = st.slider("index bits", 1, 12, defaults.index_bits[layer], key=f"ib_{model}_{layer}")
        left, right = st.columns(2)
        init = left.selectbox("Centroid initialisation", INITIALISATIONS, index=INITIALISATIONS.index(defaults.init), format_func=INIT_LABELS.get)
        finetune = right.toggle("Fine-tune the codebooks", value=defaults.finetune)
        if not st.form_submit_button("Run the pipeline"):
            return None
    return replace(defaults, kept=kept, weight_bits=weight_bits, index_bits=index_bits, init=init, finetune=finetune)


def wins_sentence(sweep: dict[str, list[float]], widths: list[int], higher_better: bool, title: str) -> str:
    """What the measured sweep says about the paper's three starts: who is best alone, where they tie."""
    starts = [init for init in ("linear", "density", "random") if init in sweep]
    sign = 1 if higher_better else -1
    sole, ties = {init: [] for init in starts}, []
    for i, width in enumerate(widths):
        best = max(sign * sweep[init][i] for init in starts)
        winners = [init for init in starts if sign * sweep[init][i] == best]
        (sole[winners[0]] if len(winners) == 1 else ties).append(width)
    spread = max(max(sweep[init][i] for init in starts) - min(sweep[init][i] for init in starts) for i in range(len(widths)))
    parts = [f"{INIT_LABELS[init]} alone at {', '.join(map(str, w))} bits" for init, w in sole.items() if w]
    if ties:
        parts.append(f"a tie at {', '.join(map(str, ties))} bits")
    unit = f"{100 * spread:.1f} points ({round(spread * 500)} of 500 digits)" if higher_better else f"{spread:.5f} MSE"
    return f"On our {title} the best start is: {'; '.join(parts)}. The widest gap between the three is {unit}."


st.title("Deep Compression")
st.write(
    "Han, Mao and Dally (ICLR 2016) shrank LeNet-300-100 40× with no loss of accuracy by three stages together: "
    "**prune** the small weights and retrain, **share** the survivors among a few values per layer (k-means) and "
    "fine-tune those values, then **Huffman-code** the indices. Here every stage writes a real file, and the model "
    "the file decodes to is scored on 500 held-out digits it never trained on."
)

model = st.radio("Model", list(MODEL_LABELS), format_func=MODEL_LABELS.get, horizontal=True)
net = NETWORKS[model]
has_shipped = model in shipped.SHIPPED_MODELS and shipped.results_path(model).exists()
record = shipped_record(model) if has_shipped else None
defaults = (
    pipeline.Settings(**record["settings"])
    if record
    else pipeline.Settings({layer: 0.1 for layer in net.layer_shapes}, {layer: 4 for layer in net.layer_shapes}, {layer: 5 for layer in net.layer_shapes})
)

presentation = st.session_state.get("presentation", False)
run = None
if not presentation:
    with st.expander("Your own settings (on an idle machine LeNet-300-100 takes ~10 s; LeNet-5 and the autoencoder about a minute)", expanded=record is None):
        chosen = settings_form(model, defaults)
    if chosen is not None:
        st.session_state[f"deep_compression_run_{model}"] = json.dumps(asdict(chosen))
    settings_json = st.session_state.get(f"deep_compression_run_{model}")
    if settings_json:
        try:
            run = custom_run(model, settings_json)
        except ValueError as error:
            st.error(f"These settings cannot run: {error}")

if run is None and record is None:
    st.info("No shipped file for this model: choose settings above and press **Run the pipeline**.")
    st.stop()

shown = run if run is not None else {"stages": record["stages"], "layers": shipped_layers(model), "file": shipped_file(model), "settings": record["settings"]}
stages = shown["stages"]
score_name = net.score_name
source = "your settings" if run is not None else f"the shipped file models/{shipped.dc_path(model).name}"
st.subheader("The model shrinks, stage by stage")
st.caption(f"Showing {source}. Every bar is the length of a real .dc file; the score is that file decoded and run on the held-out digits.")
columns = st.columns(4)
columns[0].metric("float32 file", f"{stages[0]['bytes'] / 1e6:.2f} MB", help=f"{stages[0]['bytes']:,} bytes")
columns[1].metric("compressed file", f"{stages[-1]['bytes']:,} B", f"{stages[0]['bytes'] / stages[-1]['bytes']:.1f}× smaller", delta_color="off")
columns[2].metric(f"float {score_name}", score_text(stages[0]["score"], score_name))
difference = stages[-1]["score"] - stages[0]["score"]
columns[3].metric(
    f"decoded {score_name}",
    score_text(stages[-1]["score"], score_name),
    f"{difference * 100:+.1f} points" if score_name == "accuracy" else f"{difference:+.5f}",
    delta_color="normal" if score_name == "accuracy" else "inverse",
)
plotly_chart(waterfall(stages, score_name, model), key=f"waterfall_{model}")
if model in PAPER:
    paper = PAPER[model]
    st.caption(
        f"Paper ({MODEL_LABELS[model]}, Caffe, 60,000 training digits): {paper['float KB']:,} KB float, top-1 error "
        f"{paper['error'][0]}% → {paper['error'][1]}% after compression. Ours trains on 4,500 digits and scores on 500, "
        "so one digit is 0.2 points."
    )

st.subheader("Per layer (the paper's Table 2)")
st.dataframe(layer_table(shown["layers"]), width="stretch")
st.caption(
    "Kept: kept weights over all weights. Bits after Huffman are per stored entry (kept weights plus filler zeros), from "
    "the real lengths of the coded blocks. Bytes include the layer's codebook, Huffman tables and float32 biases."
)

st.download_button(
    f"Download the .dc file ({len(shown['file']):,} bytes)",
    data=shown["file"],
    file_name=f"{model}.dc",
    mime="application/octet-stream",
)
st.markdown(
    "Read it back with this project's library (`pip install -r requirements.txt`):\n"
    "```python\n"
    "from core.compress.dcfile import load_compressed, read_header\n"
    f"data = open('{model}.dc', 'rb').read()\n"
    f"state = load_compressed(data)   # {{'{next(iter(net.tensor_shapes))}': float32 array, ...}}, exactly the compressed weights\n"
    "header, _ = read_header(data)   # the JSON header: every tensor's shape, bits and blocks\n"
    "```\n"
    "The file is `QEDC`, a version byte, a 4-byte header length, a JSON header, then raw blocks: per layer the gaps "
    "between kept weights (relative index), the codebook (float32), the codes, and the Huffman code lengths."
)

if record is None:
    st.stop()

st.subheader("How much can each layer lose?")
fractions = record["sensitivity_fractions"]
figure = go.Figure()
for layer, scores in record["sensitivity"].items():
    figure.add_scatter(x=[f"{f:.0%}" for f in fractions], y=[100 * s if score_name == "accuracy" else s for s in scores], mode="lines+markers", name=layer)
figure.update_layout(
    xaxis=dict(title="kept % of the layer (others untouched, no retraining)", type="category"),
    yaxis=dict(title="held-out accuracy %" if score_name == "accuracy" else "held-out MSE"),
    height=360,
    margin=dict(t=20),
)
plotly_chart(figure, key=f"sensitivity_{model}")
if 0.1 in fractions:
    at_tenth = fractions.index(0.1)
    st.markdown(
        "Each layer pruned alone to 10% of its weights, before any retraining: "
        + ", ".join(f"{layer} {score_text(scores[at_tenth], score_name)}" for layer, scores in record["sensitivity"].items())
        + f" (float {score_text(stages[0]['score'], score_name)}). Retraining after each pruning step wins most of it back, "
        "which is why the pipeline prunes in steps."
    )

st.subheader("Where to start k-means: the paper's three initialisations")
widths = record["bit_widths"]
sweep = record["initialisations"]
epochs = record["sweep_finetune_epochs"]
stage = st.radio("Codebooks", ["after", "before"], format_func=lambda key: f"{key} fine-tuning ({epochs} epoch{'s' * (epochs > 1)})" if key == "after" else "before fine-tuning", horizontal=True)
figure = go.Figure()
for init, scores in sweep[stage].items():
    figure.add_scatter(
        x=widths,
        y=[100 * s if score_name == "accuracy" else s for s in scores],
        mode="lines+markers",
        name=INIT_LABELS[init],
        line=dict(color=INIT_COLORS[init], dash="dot" if init == "kmeans" else "solid"),
    )
figure.update_layout(
    xaxis_title="weight bits (every layer, on the pruned model)",
    yaxis_title="held-out accuracy %" if score_name == "accuracy" else "held-out MSE",
    height=360,
    margin=dict(t=20),
)
plotly_chart(figure, key=f"inits_{model}_{stage}")
st.markdown(
    "The paper found linear initialisation best at every width but 3 bits, because it keeps the rare large "
    "weights that density and random starts leave without a centroid. Lloyd's iterations then move every start "
    "to a local optimum, and after pruning only the large weights remain, so the starts differ less. "
    + wins_sentence(sweep[stage], widths, score_name == "accuracy", net.title)
)

if "bits_by_layer_kind" in record:
    st.subheader("Conv layers against FC layers: how many bits?")
    kinds = record["bits_by_layer_kind"]
    kind_widths = record["kind_bit_widths"]
    figure = go.Figure()
    for kind, label in (("conv", "only conv layers quantized"), ("fc", "only FC layers quantized")):
        figure.add_scatter(x=kind_widths, y=[100 * s for s in kinds[kind]], mode="lines+markers", name=label)
    figure.add_hline(y=100 * stages[0]["score"], line_dash="dot", annotation_text="float")
    figure.update_layout(xaxis_title="bits per weight (k-means, no pruning, no retraining)", yaxis_title="held-out accuracy %", height=360, margin=dict(t=20))
    plotly_chart(figure, key="conv_vs_fc")
    float_score = record["stages"][0]["score"]
    needed = {
        kind: next((w for w, s in zip(kind_widths, kinds[kind]) if s >= float_score - 0.005), None) for kind in ("conv", "fc")
    }
    st.markdown(
        "Within 0.5 points of float, LeNet-5 needs "
        + " and ".join(f"**{needed[kind]} bits** in its {kind.upper()} layers" if needed[kind] else f"more than 8 bits in its {kind.upper()} layers" for kind in ("conv", "fc"))
        + ". The paper (AlexNet) found conv layers need more bits than FC layers (accuracy fell below 4 bits for conv, "
        "below 2 for FC). "
        + (
            "Our LeNet-5 agrees."
            if needed["conv"] and needed["fc"] and needed["conv"] > needed["fc"]
            else "Our LeNet-5 does not show that: its two small conv layers (25,500 weights) share a few values as well as "
            "its FC layers (405,000) do, or better."
        )
    )
