"""Integer layer: one Linear layer of the autoencoder computed in int8/int32, stage by stage, then the whole model."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.measure.reconstruction import mse
from core.models import autoencoder, mnist
from core.quantize import qlinear
from ui.memory import kept
from ui.shipped_model import mnist_split, state_dict, stop_unless_shipped
from ui.your_turn import your_turn

N_CALIBRATION = 500
SHOWN_OUTPUTS = 8
SHOWN_WEIGHTS = (4, 8)
IMAGE_PIXELS = 168
GRANULARITY = {True: "per output channel (one scale per row of W)", False: "per tensor (one scale for W)"}


@st.cache_resource(show_spinner="Loading the autoencoder and the digits…")
def setup():
    """(state dict, layer names, calibration inputs per layer, held-out digits) of the shipped model."""
    state = state_dict()
    train_images, _, heldout_images, _ = mnist_split()
    return state, autoencoder.LAYER_NAMES, autoencoder.layer_inputs(state, train_images[:N_CALIBRATION]), heldout_images


@kept(spinner="Quantizing the layers to int8…")
def integer_layers(per_channel: bool) -> list[qlinear.Int8Linear]:
    state, names, calibration_inputs, _ = setup()
    return qlinear.quantize_autoencoder(state, names, calibration_inputs, per_channel)


@kept(spinner="Running the 500 held-out digits in integers and in float…")
def heldout_mse(per_channel: bool) -> tuple[float, float]:
    """(W8A8 MSE, float MSE) of the reconstructions of all held-out digits."""
    state, _, _, heldout_images = setup()
    integer = qlinear.reconstruct_w8a8(integer_layers(per_channel), heldout_images)
    return mse(heldout_images, integer), mse(heldout_images, autoencoder.reconstruct(state, heldout_images))


st.title("Integer layer")
st.write(
    "Deployed int8 models never multiply floats: inputs and weights are stored as 8-bit integers, products "
    "are summed in 32-bit integers, and one multiplication by a precomputed scale brings the sum back to "
    "8 bits for the next layer. Follow one held-out digit through the first layer, stage by stage."
)
stop_unless_shipped()
state, names, _, heldout_images = setup()

left, right = st.columns(2)
index = left.slider("Held-out digit", 0, len(heldout_images) - 1, 0)
per_channel = right.radio("Weight scales", list(GRANULARITY), format_func=GRANULARITY.get)
layers = integer_layers(per_channel)
fc1 = layers[0]
digit = heldout_images[index : index + 1]

st.subheader(f"1. Input: uint8, affine (s_x = {fc1.input_scale:.6g}, z_x = {fc1.input_zero_point})")
x_codes = qlinear.quantize_input(fc1, digit)
left, right = st.columns([1, 3])
left.image(mnist.digit_png(x_codes[0] / 255, IMAGE_PIXELS), caption="the codes x_q as an image")
right.latex(r"x_q = \operatorname{clamp}\big(\operatorname{round}(x / s_x) + z_x,\ 0,\ 255\big)")
right.markdown(
    "The pixels of these digits are k/255 and span [0, 1], so $s_x = 1/255$ and the codes are the original bytes: "
    f"{np.count_nonzero(x_codes)} of 784 pixels are nonzero, the largest code is {x_codes.max()}."
)

st.subheader("2. Weights: int8, symmetric")
rows, cols = SHOWN_WEIGHTS
scales = fc1.weight_scale[:, 0]
st.latex(r"W_q = \operatorname{clamp}\big(\operatorname{round}(W / s_w),\ -127,\ 127\big)")
st.markdown(
    f"One $s_w$ per row, from {scales.min():.3g} to {scales.max():.3g}." if per_channel else f"One $s_w$ = {scales[0]:.3g} for all of W."
)
# One above the other: side by side, eight columns of floats did not fit half a column.
st.caption(f"W (float), top-left {rows}×{cols}")
st.dataframe(state["fc1.weight"][:rows, :cols], hide_index=True)
st.caption(f"W_q (int8), top-left {rows}×{cols}: each is round(W / s_w) of the entry above")
st.dataframe(fc1.weight[:rows, :cols], hide_index=True)

st.subheader("3. Bias: int32 at the accumulator's scale s_x·s_w")
accumulator_scale = fc1.accumulator_scale
st.latex(r"b_q = \operatorname{round}\big(b / (s_x s_w)\big)")
st.markdown(
    "The bias is added straight into the integer sum, so it needs the sum's scale $s_x s_w$, "
    + (f"here from {accumulator_scale.min():.3g} to {accumulator_scale.max():.3g} (one per output)." if per_channel
       else f"here {accumulator_scale[0]:.3g} for every output.")
)

st.subheader("4. Accumulate in int32")
accumulator = qlinear.accumulate(fc1, x_codes)
st.latex(r"\mathrm{acc} = \sum_{i=1}^{784} (x_{q,i} - z_x)\, W_{q,i} + b_q")
st.markdown(
    "Exact in 32 bits: each product is at most 255 · 127 = 32,385, and 784 of them sum to at most 25.4 million, "
    "far below $2^{31}$ ≈ 2.1 billion."
)

st.subheader(f"5. Requantize to uint8 (s_y = {fc1.output_scale:.6g}, z_y = {fc1.output_zero_point})")
y_codes = qlinear.requantize(fc1, accumulator)
st.latex(r"y_q = \operatorname{clamp}\big(\operatorname{round}(\mathrm{acc} \cdot s_x s_w / s_y) + z_y,\ 0,\ 255\big)")
st.markdown(
    "The output range starts at 0, so $z_y = 0$ and the clamp at 0 *is* the ReLU: negative sums become code 0. "
    "These codes go straight into fc2."
)
pre_activation = digit @ state["fc1.weight"].T + state["fc1.bias"]
shown = np.argsort(-pre_activation[0])[:SHOWN_OUTPUTS]
restored = qlinear.dequantize_output(fc1, y_codes)[0]
st.dataframe(
    {
        "output": shown,
        "b": state["fc1.bias"][shown],
        "b_q": fc1.bias[shown],
        "acc": accumulator[0, shown],
        "acc·s_x·s_w": accumulator[0, shown] * accumulator_scale[shown],
        "W x + b": pre_activation[0, shown],
        "y_q": y_codes[0, shown],
        "s_y·y_q": restored[shown],
        "ReLU(W x + b)": np.maximum(pre_activation[0, shown], 0),
    },
    hide_index=True,
    column_config={
        name: st.column_config.NumberColumn(format="%.4g") for name in ("b", "acc·s_x·s_w", "W x + b", "s_y·y_q", "ReLU(W x + b)")
    },
)
error = np.abs(restored - np.maximum(pre_activation[0], 0))
inside = np.maximum(pre_activation[0], 0) <= 255 * fc1.output_scale
a, b, c = st.columns(3)
a.metric("Outputs of fc1", f"{y_codes.size:,}")
b.metric("Largest error, in steps s_y", f"{error[inside].max() / fc1.output_scale:.2f}", help="over outputs inside the output range")
c.metric("Outputs clipped at the top", int(np.count_nonzero(~inside)))
st.caption(
    f"The {SHOWN_OUTPUTS} outputs with the largest float values on this digit. Integers: b_q and acc (int32), "
    "y_q (uint8); the rest are floats, the last two columns side by side to compare the integer path with float."
)

your_turn(
    "Switch the weight scales to per tensor. How much does the largest error in steps s_y grow, and what does "
    "that do to the held-out MSE below? Which of the five stages can lose information, and which are exact?"
)

st.header("The whole autoencoder in integers (W8A8)")
st.write(
    "All five layers chained this way: uint8 codes in, int8 weights, int32 sums, uint8 codes out; only the "
    f"final sigmoid runs on floats. Ranges come from {N_CALIBRATION} training digits."
)
integer = qlinear.reconstruct_w8a8(layers, digit)
floating = autoencoder.reconstruct(state, digit)
left, middle, right = st.columns(3)
left.image(mnist.digit_png(digit[0], IMAGE_PIXELS), caption="held-out digit")
middle.image(mnist.digit_png(floating[0], IMAGE_PIXELS), caption=f"float32: MSE {mse(digit, floating):.4f}")
right.image(mnist.digit_png(integer[0], IMAGE_PIXELS), caption=f"W8A8 integers: MSE {mse(digit, integer):.4f}")
integer_mse, float_mse = heldout_mse(per_channel)
a, b = st.columns(2)
a.metric("Held-out MSE, float32", f"{float_mse:.5f}")
b.metric("Held-out MSE, W8A8", f"{integer_mse:.5f}", delta=f"{integer_mse / float_mse - 1:+.2%}", delta_color="inverse")
st.caption(
    "The integer layer equals torch.ao.nn.quantized.Linear code for code on the QNNPACK engine; on the x86 "
    "engine (FBGEMM) a few codes differ by 1 because it adds the bias in float after scaling instead of "
    "rounding it to int32 first."
)
