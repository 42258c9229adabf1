"""Your weights: a per-tensor report of a weight file (how many bits each tensor takes), the best bits per
tensor under a size budget, and the quantized file."""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.weightfile import budget
from core.weightfile.export import quantized_file, report_to_csv, report_to_json
from core.weightfile.report import METHODS, WeightReport, report_weights
from ui.background import run_in_background
from ui.charts import plotly_chart
from ui.literal_text import literal_text
from ui.memory import kept

# The page's upload cap (the transfer cap, server.maxUploadSize, is 26 MiB, just above), checked in chosen_file, not only by
# the browser: an upload and its report live in a worker's memory while several sessions share the replica.
MAX_UPLOAD_MB = 25
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1_000_000  # 25 MB as every browser counts it (Windows counts MiB)
MAX_TENSORS = 10_000
MAX_FLOAT_BYTES = 200_000_000  # an .npz can unpack to more than it uploads: bound the worker's memory
HEATMAP_ROWS = 60
MODELS = Path(__file__).resolve().parent.parent / "models"
UPLOAD = "Upload your own"
SOURCE_KEY = "your_weights_source"
QUANTIZED_KEY = "your_weights_quantized"
BUDGET_KEY = "your_weights_budget"
BUDGET_RANGE_KEY = "your_weights_budget_range"  # (low, high) the budget slider last had


@kept()
def analysed(digest: str, name: str, _source: str | bytes) -> WeightReport:
    """The report of a file (cached by its digest; _source, not hashed, is its path or bytes)."""
    return run_in_background(
        report_weights, _source, name, label="Measuring every tensor at 2–8 bits", max_tensors=MAX_TENSORS, max_float_bytes=MAX_FLOAT_BYTES
    )


@kept(spinner="Finding the best bits for every size…")
def tradeoff(digest: str, method: str, _report: WeightReport) -> budget.Frontier | budget.HullPath:
    """The report's size–error trade-off for a method, shared by every slider move (up to 16 MB of back-pointers)."""
    return budget.report_tradeoff(_report, method)


def examples() -> dict[str, Path]:
    """The shipped models, offered before anything is uploaded."""
    return {f"{path.stem} (shipped)": path for path in sorted(MODELS.glob("*.safetensors"))}


def upload_digest(upload) -> str:
    """The upload's SHA-256, hashed once per uploaded file."""
    remembered = st.session_state.get("your_weights_digest")
    if remembered is None or remembered[0] != upload.file_id:
        remembered = (upload.file_id, hashlib.sha256(upload.getvalue()).hexdigest())
        st.session_state["your_weights_digest"] = remembered
    return remembered[1]


def chosen_file() -> tuple[str, str, str | bytes] | None:
    """(digest, name, path or bytes) of the file to report, or None (with a message) when there is none."""
    shipped = examples()
    source = st.radio("Weights", [*shipped, UPLOAD], horizontal=True, key=SOURCE_KEY)
    if source != UPLOAD:
        path = shipped[source]
        stat = path.stat()
        return f"{path}:{stat.st_size}:{stat.st_mtime_ns}", path.name, str(path)
    upload = st.file_uploader(
        f"A .safetensors, .npz or .npy file, up to {MAX_UPLOAD_MB} MB (the command line `python -m core.weightfile` takes any size)",
        type=["safetensors", "npz", "npy"],
        max_upload_size=MAX_UPLOAD_MB,
    )
    if upload is None:
        st.info("Choose a file. It is read without unpickling anything: tensors only.")
        return None
    if upload.size > MAX_UPLOAD_BYTES:
        st.error(
            f"“{literal_text(upload.name)}” is {upload.size / 1e6:,.1f} MB, over this page's {MAX_UPLOAD_MB} MB cap. "
            "Report it from the command line: `python -m core.weightfile PATH`."
        )
        return None
    return upload_digest(upload), upload.name, upload.getvalue()


def allocation_table(report: WeightReport, method: str, allocation: budget.BitAllocation) -> pd.DataFrame:
    """One row per tensor: its size, the bits the budget gave it and the SQNR they reach, or why it was kept."""
    rows = []
    for tensor in report.tensors:
        bits = allocation.bits.get(tensor.name)
        rows.append(
            {
                "tensor": tensor.name,  # dataframe cells are literal text: a name with HTML shows as typed
                "shape": " × ".join(map(str, tensor.shape)) or "scalar",
                "parameters": tensor.parameters,
                "chosen bits": bits,
                "SQNR dB at chosen bits": float(tensor.sqnr_db(method)[report.bit_widths.index(bits)]) if bits else None,
                "status": tensor.status,
            }
        )
    return pd.DataFrame(rows)


ALLOCATION_COLUMNS = {
    "tensor": st.column_config.TextColumn(pinned=True),  # long names (LLM checkpoints) scroll sideways: keep the name in view
    "parameters": st.column_config.NumberColumn(format="localized"),
    "chosen bits": st.column_config.NumberColumn("bits", help="The bits per weight the budget chose for this tensor"),
    "SQNR dB at chosen bits": st.column_config.NumberColumn("SQNR (dB)", format="%.1f", help="At the chosen bits"),
}


def spread_table(report: WeightReport) -> pd.DataFrame:
    """One row per tensor: how it is stored and how its values spread (the statistics that predict trouble)."""
    rows = []
    for tensor in report.tensors:
        statistics = tensor.statistics
        rows.append(
            {
                "tensor": tensor.name,
                "dtype": tensor.dtype,
                "stored bytes": tensor.stored_bytes,
                "std": statistics.std if statistics else None,
                "max|w| / std": statistics.max_abs_over_std if statistics else None,
                "excess kurtosis": statistics.excess_kurtosis if statistics else None,
                "share beyond 6σ": statistics.beyond_6_sigma if statistics else None,
            }
        )
    return pd.DataFrame(rows)


SPREAD_COLUMNS = {
    "tensor": st.column_config.TextColumn(pinned=True),
    "stored bytes": st.column_config.NumberColumn("bytes", format="localized", help="Bytes of tensor data in the file, as stored"),
    "std": st.column_config.NumberColumn(format="%.4g"),
    "max|w| / std": st.column_config.NumberColumn("max|w|/std", format="%.1f"),
    "excess kurtosis": st.column_config.NumberColumn("kurtosis", format="%.2f", help="Excess kurtosis: 0 for a Gaussian"),
    "share beyond 6σ": st.column_config.NumberColumn("beyond 6σ", format="%.2g", help="Share of the weights beyond 6 standard deviations"),
}


def heatmap(report: WeightReport, method: str) -> go.Figure:
    tensors = sorted(report.quantized_tensors, key=lambda tensor: tensor.parameters, reverse=True)[:HEATMAP_ROWS]
    with np.errstate(divide="ignore"):
        sqnr = np.array([[*tensor.sqnr_db(method), *(-20 * np.log10([tensor.format_errors[fmt] for fmt in report.formats]))] for tensor in tensors])
    exact = np.isinf(sqnr)  # a tensor with at most 2^b distinct values comes back unchanged
    finite = sqnr[~exact]
    top = float(finite.max()) if finite.size else 1.0
    names = [html.escape(tensor.name) for tensor in tensors]  # plotly draws a little HTML in labels: show it as text
    figure = go.Figure(
        go.Heatmap(
            z=np.where(exact, top, sqnr),
            x=[f"{bits} bits" for bits in report.bit_widths] + list(report.formats),
            y=names,
            colorscale="Viridis",
            colorbar_title="SQNR dB",
            text=np.where(exact, "exact", np.char.mod("%.1f", np.where(exact, 0, sqnr))),
            texttemplate="%{text}",
            hovertemplate="%{y}<br>%{x}: SQNR %{text} dB<extra></extra>",
        )
    )
    figure.update_layout(height=min(140 + 22 * len(tensors), 1400), margin={"t": 30, "b": 40}, yaxis_autorange="reversed")
    return figure


def curve_figure(
    sizes: np.ndarray,
    errors: np.ndarray,
    bit_widths: tuple[int, ...],
    uniform: list[budget.BitAllocation],
    formats: dict[str, tuple[int, float]],
    chosen: budget.BitAllocation,
) -> go.Figure:
    keep = np.unique(np.linspace(0, sizes.size - 1, min(sizes.size, 2000)).astype(int))  # enough points to draw the curve
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=sizes[keep] / 1e6, y=errors[keep], mode="lines", name="best bits per tensor"))
    figure.add_trace(
        go.Scatter(
            x=[allocation.total_bytes / 1e6 for allocation in uniform],
            y=[allocation.relative_error for allocation in uniform],
            mode="markers+text",
            text=[f"{bits}" for bits in bit_widths],
            textposition="top right",
            name="every tensor at the same bits",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=[size / 1e6 for size, _ in formats.values()],
            y=[error for _, error in formats.values()],
            mode="markers",
            text=list(formats),
            hovertemplate="%{text}: %{x:.3f} MB, relative error %{y:.4f}<extra></extra>",
            marker_symbol="diamond",
            marker_size=9,
            name="every tensor in a shipped 4-bit format",
        )
    )
    figure.add_trace(go.Scatter(x=[chosen.total_bytes / 1e6], y=[chosen.relative_error], mode="markers", marker_size=14, marker_symbol="star", name="your budget"))
    figure.update_layout(
        xaxis_title="file size (MB, scales and codebooks included)",
        yaxis_title="relative error (log)",
        yaxis_type="log",
        height=440,
        margin={"t": 30, "b": 40},
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
    )
    return figure


def download_name(name: str, suffix: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).stem)[:80] + suffix


st.title("Your weights")
st.write(
    "Which layers of a model tolerate few bits, and which need more? Bring a weight file and every tensor is "
    "quantized at 2 to 8 bits by k-means weight sharing and by linear quantization per tensor, per output "
    "channel and per group of 128. Then give a size budget: the page chooses the bits of each tensor that "
    "lose the least, and writes the quantized file."
)

picked = chosen_file()
if picked is None:
    st.stop()
digest, name, source = picked
try:
    report = analysed(digest, name, source)
except (ValueError, MemoryError) as error:  # every message of core.weightfile starts with the file's name
    st.error(f"{literal_text(str(error) or type(error).__name__)}. Nothing was read from it; choose another file.")
    st.stop()

quantized = report.quantized_tensors
kept = [tensor for tensor in report.tensors if not tensor.quantized]
parameters = sum(tensor.parameters for tensor in quantized)
st.caption(
    f"“{literal_text(name)}”: {len(report.tensors):,} tensors, {sum(t.parameters for t in report.tensors):,} parameters, "
    f"{sum(t.stored_bytes for t in report.tensors):,} bytes of tensor data; {len(quantized):,} float tensors quantized"
    + (f", {len(kept):,} kept as stored (see their status)." if kept else ".")
)
if not quantized:
    st.warning("This file has no float tensor with values to quantize; its tensors are listed below.")
    st.dataframe(pd.DataFrame([{"tensor": t.name, "dtype": t.dtype, "status": t.status} for t in report.tensors]), hide_index=True)
    st.stop()

method = st.radio("Method", METHODS, horizontal=True, index=0)
path = tradeoff(digest, method, report)
sizes, errors = budget.size_error_curve(report, method, path)
smallest, largest = 8 * (sizes[0] - budget.kept_bytes(report)) / parameters, 8 * (sizes[-1] - budget.kept_bytes(report)) / parameters
low, high = float(np.ceil(smallest * 20) / 20), float(np.floor(largest * 20) / 20)
high = max(high, low)
if high > low:
    # The budget stays where the reader put it when the method (and so the reachable range) changes.
    # Written only then (or when the reader comes back to the page): a value written on every run is sent back to the slider, which then jumps
    # back to an older value while the reader holds an arrow key.
    if BUDGET_KEY not in st.session_state or st.session_state.get(BUDGET_RANGE_KEY) != (low, high):
        st.session_state[BUDGET_RANGE_KEY] = (low, high)
        st.session_state[BUDGET_KEY] = float(np.clip(st.session_state.get(BUDGET_KEY, 4.0), low, high))
    bits_per_weight = st.slider("Budget: average bits per weight (codes plus scales or codebooks)", low, high, step=0.05, key=BUDGET_KEY)
else:
    bits_per_weight = float(8 * (sizes[-1] - budget.kept_bytes(report)) / parameters)
    st.caption(
        f"Every choice of bits gives this file the same size with {method} ({bits_per_weight:.2f} bits per weight): "
        "its tensors have so few values that the codebooks or scales outweigh the codes."
    )
allocation = budget.allocate_bits(report, method, bits_per_weight=bits_per_weight, path=path)
uniform = [budget.uniform_bits(report, method, bits) for bits in report.bit_widths]
same_size = [u for u in uniform if u.quantized_bytes <= allocation.quantized_bytes]

size_column, bits_column, error_column = st.columns(3)
size_column.metric("Quantized file", f"{allocation.total_bytes / 1e6:.3f} MB", help=f"{allocation.total_bytes:,} bytes of tensor data")
bits_column.metric("Bits per weight", f"{allocation.bits_per_weight:.3f}")
error_column.metric(
    "Relative error",
    f"{allocation.relative_error:.4f}",
    delta=f"{allocation.relative_error - same_size[-1].relative_error:+.4f} vs {report.bit_widths[len(same_size) - 1]} bits everywhere" if same_size else None,
    delta_color="inverse",
    help="√(Σ n·e² / Σ n): each tensor's ‖W − Q‖/‖W‖ weighted by its parameters",
)
if allocation.exact:
    st.caption("Exact: no choice of bits per tensor within this budget has less error (the whole size–error frontier was searched).")
else:
    st.caption(
        f"Optimal for its own size (the convex-hull method); no allocation within the budget can go below "
        f"{allocation.relative_error_bound:.4f}, so at most {allocation.relative_error - allocation.relative_error_bound:.2g} is left on the table."
    )

st.subheader("Size against error")
formats = {fmt: budget.in_format(report, fmt) for fmt in report.formats}
plotly_chart(curve_figure(sizes, errors, report.bit_widths, uniform, formats, allocation))
st.caption(
    f"Each point of the line is the least error reachable at that size with {method}; the dots put every tensor at "
    "the same bits; the diamonds store every tensor in a 4-bit format models ship in "
    f"({', '.join(report.formats)}; hover for which), scales and padding included."
)

st.subheader("Every tensor")
st.dataframe(allocation_table(report, method, allocation), hide_index=True, width="stretch", column_config=ALLOCATION_COLUMNS)
if kept:  # their reasons are too long for the status column to show whole
    with st.expander(f"Why {len(kept):,} tensor{'s were' if len(kept) != 1 else ' was'} kept as stored"):
        st.markdown("\n".join(f"- **{literal_text(tensor.name)}**: {literal_text(tensor.status)}" for tensor in kept))
st.markdown("**How each tensor is stored, and how its values spread**")
st.dataframe(spread_table(report), hide_index=True, width="stretch", column_config=SPREAD_COLUMNS)
st.caption(
    "Large max|w|/std, excess kurtosis (0 for a Gaussian) and a share beyond 6σ (a Gaussian has 2·10⁻⁹) predict "
    "trouble: one outlier stretches a linear scale and leaves the other weights few levels."
)

st.subheader(f"SQNR by bits: {method}, and in each 4-bit format")
plotly_chart(heatmap(report, method))
if len(quantized) > HEATMAP_ROWS:
    st.caption(f"The {HEATMAP_ROWS} largest of {len(quantized):,} quantized tensors; the table and the downloads hold them all.")

st.subheader("Downloads")
json_column, csv_column, file_column = st.columns(3)
json_column.download_button("Report (JSON)", lambda: report_to_json(report), file_name=download_name(name, "_report.json"), mime="application/json")
csv_column.download_button("Report (CSV)", lambda: report_to_csv(report), file_name=download_name(name, "_report.csv"), mime="text/csv")
wanted = (digest, method, tuple(sorted(allocation.bits.items())))
prepared = st.session_state.get(QUANTIZED_KEY)
if (prepared is None or prepared[0] != wanted) and file_column.button("Make the quantized file"):
    data = run_in_background(quantized_file, source, name, report, allocation, label="Quantizing every tensor")
    st.session_state[QUANTIZED_KEY] = prepared = (wanted, data)
if prepared is not None and prepared[0] == wanted:
    file_column.download_button(
        f"Quantized file ({len(prepared[1]) / 1e6:.3f} MB)",
        prepared[1],
        file_name=download_name(name, f"_{method.replace(' ', '_')}_{bits_per_weight:.2f}bpw.safetensors"),
        mime="application/octet-stream",
    )
st.caption(
    "The quantized file is safetensors: per tensor, packed codes with their float32 scales and zero points, or packed "
    "k-means indices with a float32 codebook; integer and NaN tensors as stored. Read it back with "
    "`core.weightfile.export.load_quantized(path)`; the layout is in that module's docstring."
)
