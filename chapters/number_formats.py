"""Number formats: INT per group, NF4, MX, NVFP4 and llama.cpp's blocks side by side on the same weights, with
exact bits per weight, a block taken apart, and what a rotation does to an outlier."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import distributions
from core.quantize import format_comparison, formats
from core.weightfile.read import TensorInfo, open_weights
from ui.background import run_in_background
from ui.charts import plotly_chart
from ui.literal_text import literal_text
from ui.memory import kept
from ui.shipped_model import layer_weights

DISTRIBUTION_LABELS = {
    "normal": "Normal N(0, 1)",
    "laplace": "Laplacian (variance 1)",
    "outlier": "Normal with one outlier (one entry = 25)",
    "uniform": "Uniform U(−2, 2)",
    "bimodal": "Bimodal: N(−2, 0.5²) and N(2, 0.5²)",
}
SIZES = (256, 512, 1024)
FAMILY_COLORS = {
    "INT per group": "#1f77b4",
    "per tensor": "#7f7f7f",
    "NF4 (QLoRA)": "#9467bd",
    "OCP MX": "#d62728",
    "NVFP4": "#2ca02c",
    "llama.cpp": "#ff7f0e",
}
KMEANS_COLOR = "#17becf"
OUTLIER_PAIRS = {"INT4": ("int4_tensor", "int4_g32"), "FP4 (E2M1)": ("fp4_e2m1", "mxfp4")}
ROTATION_SEED = 0
UPLOAD = "upload"
MAX_UPLOAD_MB = 25  # as the Your weights page (the transfer cap, server.maxUploadSize, is 26 MiB)
MAX_FILE_VALUES = 4 * 1024 * 1024  # the scatter costs ~0.9 s of CPU per million values
ZOOM_BITS = [3.9, 4.8]
HISTOGRAM_BINS = 81


@kept()
def weights_for(choice: str, n: int, seed: int) -> np.ndarray:
    if choice in distributions.DISTRIBUTIONS:
        return distributions.weight_matrix(choice, n, seed)
    return layer_weights()[choice]


@kept(spinner="Reading the file's tensors…")
def file_tensors(file_id: str, _data: bytes, name: str) -> list[TensorInfo]:
    """The tensors an uploaded file lists (cached per upload; raises ValueError for a file that cannot be read)."""
    return open_weights(_data, name).tensors


@kept(spinner="Reading the tensor…")
def file_tensor(file_id: str, _data: bytes, name: str, index: int) -> np.ndarray:
    return open_weights(_data, name).read(index).astype(np.float32)


@kept()
def comparison(key: str, _weights: np.ndarray, rotated: bool) -> dict[str, list]:
    """Every format on the weights `key` names (cached by key)."""
    return run_in_background(
        format_comparison.compare_formats,
        _weights,
        rotation_seed=ROTATION_SEED if rotated else None,
        label="Storing the weights in every format" + (" after a rotation" if rotated else ""),
    )


@kept(spinner="Fitting 1-D k-means codebooks of 2 to 256 values…")
def kmeans_curve(key: str, _weights: np.ndarray) -> dict[str, list]:
    return format_comparison.kmeans_reference(_weights)


@kept()
def block_view(key: str, _weights: np.ndarray, fmt: str, index: int) -> format_comparison.BlockView:
    return format_comparison.inspect_block(_weights, fmt, index)


@kept(spinner="Storing the outlier three ways…")
def story(n: int, seed: int, per_tensor: str, per_block: str) -> format_comparison.OutlierStory:
    return format_comparison.outlier_story(distributions.weight_matrix("outlier", n, seed), per_tensor, per_block, ROTATION_SEED)


def percent(value: float) -> str:
    return f"{100 * value:.3g}%"


def scatter(results: dict[str, list], kmeans: dict[str, list], rotated: dict[str, list] | None, axis: str, zoom: bool) -> go.Figure:
    """Bits per weight against relative error (log) or SQNR, one colour per family, k-means as a dashed curve;
    `zoom` shows only the formats near 4 bits."""
    figure = go.Figure()
    key = "relative_error" if axis == "relative" else "sqnr_db"
    kmeans_y = kmeans["relative_error"] if axis == "relative" else [format_comparison.sqnr_db(e) for e in kmeans["relative_error"]]
    figure.add_trace(
        go.Scatter(
            x=kmeans["bits_per_weight"], y=kmeans_y, mode="lines+markers", name="1-D k-means, one codebook per tensor",
            line=dict(color=KMEANS_COLOR, dash="dash"), text=[f"k = {2**b}" for b in kmeans["bits"]],
            hovertemplate="%{text}: %{x:.3f} bits/weight, %{y:.4g}<extra></extra>",
        )
    )
    positions = label_positions(results["bits_per_weight"], results[key])
    for family, color in FAMILY_COLORS.items():
        rows = [i for i, f in enumerate(results["family"]) if f == family]
        figure.add_trace(
            go.Scatter(
                x=[results["bits_per_weight"][i] for i in rows], y=[results[key][i] for i in rows],
                mode="markers+text", name=family, marker=dict(color=color, size=10),
                text=[results["format"][i] for i in rows], textfont=dict(size=11),
                textposition=[positions[i] for i in rows],
                hovertemplate="%{text}: %{x:.4f} bits/weight, %{y:.4g}<extra></extra>",
            )
        )
        if rotated:
            figure.add_trace(
                go.Scatter(
                    x=[rotated["bits_per_weight"][i] for i in rows], y=[rotated[key][i] for i in rows], mode="markers",
                    name=f"{family}, rotated", marker=dict(color=color, size=10, symbol="circle-open", line=dict(width=2)),
                    text=[f"{results['format'][i]} rotated" for i in rows], hovertemplate="%{text}: %{x:.4f} bits/weight, %{y:.4g}<extra></extra>",
                )
            )
    figure.update_layout(
        height=520 if st.session_state.get("presentation", False) else 460, margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=-0.18),
    )
    figure.update_xaxes(title="bits per weight (codes + every scale)", range=ZOOM_BITS if zoom else [0.5, 9.6])
    shown = [y for x, y in zip(results["bits_per_weight"], results[key]) if not zoom or ZOOM_BITS[0] <= x <= ZOOM_BITS[1]]
    if rotated:
        shown += [y for x, y in zip(rotated["bits_per_weight"], rotated[key]) if not zoom or ZOOM_BITS[0] <= x <= ZOOM_BITS[1]]
    if axis == "relative":
        low, high = np.log10(min(shown)), np.log10(max(shown))
        range_y = [low - 0.08, high + 0.08] if zoom else None
        figure.update_yaxes(title="relative error ‖W − Q‖ / ‖W‖ (log)", type="log", range=range_y)
    else:
        figure.update_yaxes(title="SQNR (dB, higher is better)", range=[min(shown) - 1, max(shown) + 1] if zoom else None)
    return figure


def label_positions(xs: list[float], ys: list[float]) -> list[str]:
    """Where each point's label goes: above a point alone at its bits per weight; points sharing one alternate
    right and left, from the lowest error up, so their labels do not sit on each other."""
    positions = ["top center"] * len(xs)
    for x in set(round(v, 2) for v in xs):
        same = sorted((i for i, v in enumerate(xs) if round(v, 2) == x), key=lambda i: ys[i])
        if len(same) > 1:
            for rank, i in enumerate(same):
                positions[i] = "middle right" if rank % 2 == 0 else "middle left"
    return positions


def describe(results: dict[str, list], kmeans: dict[str, list]) -> str:
    """What the scatter shows on these weights, from the measured numbers."""
    error = dict(zip(results["format"], results["relative_error"]))
    bits = dict(zip(results["format"], results["bits_per_weight"]))
    four_bit = [name for name in error if bits[name] <= 4.75]
    best = min(four_bit, key=error.get)
    worst = max(four_bit, key=error.get)
    kmeans_4 = kmeans["relative_error"][kmeans["bits"].index(4)]
    kmeans_text = (
        f"k-means with 16 shared values per tensor ({kmeans['bits_per_weight'][kmeans['bits'].index(4)]:.3f} bits) reaches "
        f"{percent(kmeans_4)}: "
        + ("better than every 4-bit block format here, since one codebook fits this distribution well." if kmeans_4 < error[best]
           else f"{kmeans_4 / error[best]:.2g}× {best}'s error, because one codebook per tensor cannot follow blocks whose ranges differ.")
    )
    finer_scales = (
        "a finer FP8 scale per 16 beats a power of two per 32" if error["nvfp4"] < error["mxfp4"]
        else "its finer FP8 scale per 16 does not beat a power of two per 32 here"
    )
    return (
        f"Among the formats at about 4 bits (≤ 4.75 bits per weight), **{best}** has the lowest error on these weights, "
        f"{percent(error[best])} at {bits[best]:.4g} bits; **{worst}** the highest, {percent(error[worst])}. "
        f"MXFP4 ({bits['mxfp4']:.4g} bits) gets {percent(error['mxfp4'])} and NVFP4 ({bits['nvfp4']:.4g} bits) "
        f"{percent(error['nvfp4'])}: {finer_scales}. With more bits: MXFP6 E2M3 ({bits['mxfp6_e2m3']:.4g} bits) "
        f"{percent(error['mxfp6_e2m3'])}, MXFP8 E4M3 ({bits['mxfp8_e4m3']:.4g}) {percent(error['mxfp8_e4m3'])}, "
        f"Q8_0 ({bits['q8_0']:.4g}) {percent(error['q8_0'])}. "
        + kmeans_text
    )


def describe_rotation(results: dict[str, list], rotated: dict[str, list]) -> str:
    """What rotating first did to each format's error on these weights."""
    ratios = {name: after / before for name, before, after in zip(results["format"], results["relative_error"], rotated["relative_error"])}
    best, worst = min(ratios, key=ratios.get), max(ratios, key=ratios.get)
    return (
        f"Rotated first (hollow markers), **{best}** changes most for the better: its error × {ratios[best]:.2f}; "
        f"**{worst}** × {ratios[worst]:.2f}. "
        + ("A rotation pays off where one scale covers values of very different sizes; blocks that already fit their values gain little."
           if ratios[best] < 0.9 else "On these weights no format gains 10% or more: there is no outlier for the rotation to spread.")
    )


def histogram(values: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(-limit, limit))
    return (edges[:-1] + edges[1:]) / 2, counts


st.title("Number formats")
st.write(
    "The 4-bit weights people download come in block formats: integers per group of 128 (GPTQ, AWQ), NF4 (QLoRA), "
    "the OCP microscaling formats MXFP4/6/8, NVIDIA's NVFP4, and llama.cpp's Q4_0, Q8_0 and Q4_K. Each stores small "
    "codes plus scales shared by a block; here they all store the same weights, and every bit of every scale is counted."
)

def uploaded_weights() -> tuple[str, np.ndarray] | None:
    """(cache key, float32 tensor) chosen from an uploaded weight file, or None with a message saying why not."""
    upload = st.file_uploader(
        f"A .safetensors, .npz or .npy file, up to {MAX_UPLOAD_MB} MB (read without unpickling: tensors only)",
        type=["safetensors", "npz", "npy"], max_upload_size=MAX_UPLOAD_MB, key="formats_upload",
    )
    if upload is None:
        st.info("Upload a weight file to put one of its tensors through every format.")
        return None
    try:
        tensors = file_tensors(upload.file_id, upload.getvalue(), upload.name)
    except ValueError as error:
        st.error(f"{literal_text(upload.name)} cannot be read: {literal_text(str(error))}")
        return None
    usable = [i for i, info in enumerate(tensors) if info.is_float and info.shape and 1 <= info.parameters <= MAX_FILE_VALUES]
    if not usable:
        st.error(
            f"{literal_text(upload.name)} has no floating-point tensor of 1 to {MAX_FILE_VALUES:,} values "
            "(larger ones: `python -m core.weightfile`)."
        )
        return None
    largest = max(usable, key=lambda i: tensors[i].parameters)
    index = st.selectbox(
        "Tensor", usable, index=usable.index(largest), key="formats_tensor",
        format_func=lambda i: f"{tensors[i].name} {'×'.join(map(str, tensors[i].shape))} ({tensors[i].dtype})",
    )
    tensor = file_tensor(upload.file_id, upload.getvalue(), upload.name, index)
    if not np.isfinite(tensor).all() or not tensor.any():
        st.error(f"{literal_text(tensors[index].name)} holds NaN/Inf or only zeros: no error to measure. Choose another tensor.")
        return None
    return f"{upload.file_id}:{index}", tensor


layers = layer_weights()
choices = [*(f"layer:{name}" for name in layers), *DISTRIBUTION_LABELS, UPLOAD]
labels = {
    **DISTRIBUTION_LABELS,
    **{f"layer:{name}": f"A real layer: autoencoder {name} {w.shape[0]}×{w.shape[1]}" for name, w in layers.items()},
    UPLOAD: "A tensor of your own weight file",
}
default = choices.index("layer:fc4") if "layer:fc4" in choices else 0
left, middle, right = st.columns([3, 1, 1])
choice = left.selectbox("Weights", choices, index=default, format_func=labels.get, key="formats_weights")
if choice == UPLOAD:
    chosen = uploaded_weights()
elif choice.startswith("layer:"):
    middle.caption("Trained weights of the shipped MNIST autoencoder (out × in); blocks run along the input axis.")
    chosen = choice, weights_for(choice.removeprefix("layer:"), 0, 0)
else:
    n = middle.selectbox("Size n × n", SIZES, key="formats_n")
    seed = right.number_input("Seed", 0, 2**32 - 1, 0, key="formats_seed")
    chosen = f"{choice}:{n}:{seed}", weights_for(choice, n, seed)

if chosen is not None:
    key, weights = chosen
    st.subheader("Bits per weight against error")
    controls = st.columns(3)
    axis = controls[0].radio("Error axis", ["relative", "sqnr"], horizontal=True, format_func={"relative": "Relative error", "sqnr": "SQNR (dB)"}.get)
    zoom = controls[1].radio("Show", [True, False], horizontal=True, format_func={True: "the ~4-bit formats", False: "all formats"}.get, key="formats_zoom")
    show_rotated = controls[2].toggle("Rotate first too", key="formats_rotated", help="Also store every format after a random-sign Hadamard rotation (hollow markers).")
    results = comparison(key, weights, False)
    rotated = comparison(key, weights, True) if show_rotated else None
    kmeans = kmeans_curve(key, weights)
    plotly_chart(scatter(results, kmeans, rotated, axis, zoom), key="formats_scatter")
    st.markdown(describe(results, kmeans))
    if rotated:
        st.markdown(describe_rotation(results, rotated))

    table = {
        "format": results["format"],
        "family": results["family"],
        "bits per weight": results["bits_per_weight"],
        "relative error": results["relative_error"],
        "SQNR (dB)": results["sqnr_db"],
        "max |error|": results["max_abs_error"],
    }
    if rotated:
        table["relative error, rotated"] = rotated["relative_error"]
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "bits per weight": st.column_config.NumberColumn("bits / weight", format="%.4f"),
            "relative error": st.column_config.NumberColumn(format="%.4f"),
            "relative error, rotated": st.column_config.NumberColumn(
                "rotated", format="%.4f", help="Relative error when the weights are rotated first (random-sign Hadamard)"
            ),
            "SQNR (dB)": st.column_config.NumberColumn(format="%.1f"),
            "max |error|": st.column_config.NumberColumn(format="%.4g"),
        },
    )
    with st.expander("What each format stores"):
        st.markdown("\n".join(f"- **{name}**: {formats.FORMATS[name].description}" for name in results["format"]))
    st.caption(
        f"{weights.size:,} weights. Bits per weight = (codes + every scale, zero point and min + padding to whole blocks) / "
        "weights, from each format's block layout; per-tensor FP32 scales add 32 / n. Blocks are consecutive values in "
        "row-major order. Relative error is the Frobenius norm; SQNR = −20 log10(relative error)."
    )

    st.subheader("Inspect a block")
    columns = st.columns([2, 1])
    fmt = columns[0].selectbox("Format", list(formats.FORMATS), index=list(formats.FORMATS).index("mxfp4"), key="formats_inspect")
    count = format_comparison.block_count(fmt, weights.size)
    index = int(columns[1].number_input(f"Block (0 – {count - 1})", 0, count - 1, 0, key=f"formats_block_{fmt}"))
    view = block_view(key, weights, fmt, index)
    st.caption(formats.FORMATS[fmt].description + f". Values {view.start:,} – {view.start + len(view.values) - 1:,} of the tensor.")
    st.table({"field": [s[0] for s in view.scales], "what it is": [s[1] for s in view.scales], "stored": [s[2] for s in view.scales], "value": [s[3] for s in view.scales]})
    figure = go.Figure(
        [
            go.Scatter(y=view.values, mode="markers", name="original", marker=dict(color="#7f7f7f", size=8)),
            go.Scatter(y=view.decoded, mode="markers", name="decoded", marker=dict(color="#d62728", size=8, symbol="x")),
        ]
    )
    figure.update_layout(height=300, margin=dict(l=10, r=10, t=20, b=10), xaxis_title="element in the block", yaxis_title="value")
    plotly_chart(figure, key="formats_block_chart")
    st.dataframe(
        {"value": view.values, "code": view.codes, "bits": view.code_bits, "decoded": view.decoded, "error": view.errors},
        column_config={name: st.column_config.NumberColumn(format="%.6g") for name in ("value", "decoded", "error")},
        height=260,
    )
    worst = int(np.argmax(np.abs(view.errors)))
    st.write(
        f"This block's largest error is {abs(view.errors[worst]):.3g} at element {worst} ({view.values[worst]:.4g} stored as "
        f"{view.decoded[worst]:.4g}); its root-mean-square error is {np.sqrt(np.mean(view.errors ** 2)):.3g}."
    )

st.subheader("One outlier: per tensor, per block, rotated")
st.write(
    "One large weight sets the scale of everything it shares a scale with. Here N(0, 1) weights with one entry of 25 "
    "(the Weights page's outlier distribution) are stored with one scale for the tensor, with one per block of 32, "
    "and with either after multiplying each row by a random-sign Hadamard matrix (QuaRot, QuIP#), which spreads the "
    "outlier over many weights and is undone after decoding."
)
pair_columns = st.columns([1, 1, 1])
element = pair_columns[0].radio("Codes", list(OUTLIER_PAIRS), horizontal=True, key="formats_outlier_element")
outlier_n = pair_columns[1].selectbox("Size n × n", SIZES, key="formats_outlier_n")
outlier_seed = int(pair_columns[2].number_input("Seed", 0, 2**32 - 1, 0, key="formats_outlier_seed"))
per_tensor, per_block = OUTLIER_PAIRS[element]
told = story(outlier_n, outlier_seed, per_tensor, per_block)
errors, zeros = told.relative_errors, told.zero_fractions
bars = go.Figure(go.Bar(x=list(told.names), y=errors, text=[percent(e) for e in errors], textposition="outside", marker_color=["#7f7f7f", "#2ca02c", "#1f77b4", "#2ca02c"]))
bars.update_layout(height=320, margin=dict(l=10, r=10, t=20, b=10), yaxis_title="relative error")
original = weights_for("outlier", outlier_n, outlier_seed)
limit = float(np.abs(original).max()) * 1.05
before_x, before_counts = histogram(original, limit)
after_x, after_counts = histogram(told.rotated, limit)
histograms = go.Figure(
    [
        go.Bar(x=before_x, y=before_counts, name="the weights", marker_color="#7f7f7f"),
        go.Bar(x=after_x, y=after_counts, name="after the rotation", marker_color="#2ca02c"),
    ]
)
histograms.add_annotation(x=float(original.reshape(-1)[np.abs(original).argmax()]), y=0, yref="y", text="the outlier", showarrow=True, ay=-40)
histograms.update_layout(
    barmode="group", bargap=0, height=320, margin=dict(l=10, r=10, t=20, b=10), xaxis_title="value",
    yaxis=dict(type="log", title="count (log)"), legend=dict(orientation="h", y=1.12),
)
chart_left, chart_right = st.columns(2)
plotly_chart(bars, key="formats_outlier_errors", where=chart_left)
plotly_chart(histograms, key="formats_outlier_histograms", where=chart_right)
st.markdown(
    f"With one scale for the tensor, the step is set by the 25: {percent(zeros[0])} of the weights decode to 0 and the "
    f"error is {percent(errors[0])}. Rotated first (in chunks of {told.rotation_size} along each row), the largest |weight| "
    f"drops from {np.abs(original).max():.3g} to {np.abs(told.rotated).max():.3g} and the same per-tensor format gets "
    f"{percent(errors[1])}. Per block of 32 only the outlier's own block suffers: {percent(errors[2])} "
    f"({told.bits_per_weight[2]:.4g} bits per weight instead of {told.bits_per_weight[0]:.4g}), and a rotation "
    + (
        f"on top still helps: {percent(errors[3])}." if errors[3] < 0.9 * errors[2]
        else f"on top gives {percent(errors[3])}: the blocks had already confined the damage."
    )
)
