"""Data types: the bits of one number in FP32, FP16, BF16, FP8 E4M3/E5M2 and INT8, and what each format keeps."""

from __future__ import annotations

import math
from decimal import Decimal

import streamlit as st

from core.quantize import dtypes
from ui.shipped_model import layer_weights
from ui.story import chapter_link
from ui.your_turn import your_turn

SIGN, EXPONENT, MANTISSA = "#d62728", "#2ca02c", "#1f77b4"
MAX_EXACT_DIGITS = 30
BREAK_ANYWHERE = " style='overflow-wrap: anywhere; word-break: break-word'"  # word-break reaches into <code> too
SOURCES = ("Type a number", "A weight of the autoencoder")


def parse_number(text: str) -> float:
    """A typed number; accepts 0.1, -3e-5, inf, -inf, nan."""
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError(f"type one number such as 0.1, -3e-5, 70000, inf or nan; got {text!r}") from None


def colored_bits(encoding: dtypes.Encoding) -> str:
    sign, exponent, mantissa = encoding.bits.split(" ")
    return (  # plain spaces between the fields: a narrow column may wrap there
        f"<code><span style='color:{SIGN}'>{sign}</span> <span style='color:{EXPONENT}'>{exponent}</span> "
        f"<span style='color:{MANTISSA}'>{mantissa}</span></code>"
    )


def power_of_two(exponent: int) -> str:
    return f"2<sup>{exponent}</sup>".replace("-", "−")


def decomposition(encoding: dtypes.Encoding, fmt: dtypes.FloatFormat) -> str:
    """The stored value as (−1)^s · 2^(e − bias) · significand, in HTML."""
    if encoding.kind in ("nan", "infinity"):
        return "exponent all ones: " + ("NaN" if encoding.kind == "nan" else "±∞")
    sign = "−" if encoding.sign else "+"
    if encoding.kind == "zero":
        return f"{sign}0: exponent and mantissa all zeros"
    if encoding.exponent == 0:
        significand = encoding.mantissa / 2**fmt.mantissa_bits
        return f"{sign}{power_of_two(1 - fmt.bias)} × {shown(significand)} (subnormal: no hidden 1)"
    significand = 1 + encoding.mantissa / 2**fmt.mantissa_bits
    return f"{sign}{power_of_two(encoding.exponent - fmt.bias)} × {shown(significand)}"


def shown(value: float) -> str:
    """Non-finite values by name; finite ones exactly when that takes at most 30 digits, else to 17."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else "∞" if value > 0 else "−∞"
    exact = Decimal(value)
    return format(exact, "f") if len(exact.as_tuple().digits) <= MAX_EXACT_DIGITS else repr(value)


def error_text(encoding: dtypes.Encoding) -> str:
    if math.isnan(encoding.error):
        return "—"
    if encoding.value == 0 or encoding.error == 0:
        return shown(encoding.error)
    return f"{encoding.error:.3g} (relative {abs(encoding.error / encoding.value):.2g})"


def fitted_table(header: list[str], rows: list[list[str]], breakable: tuple[int, ...]) -> str:
    """An HTML table as wide as its column and never wider: in the `breakable` columns (long digit strings, bit
    fields) a line may break anywhere; words elsewhere stay whole."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td{BREAK_ANYWHERE if i in breakable else ''}>{cell}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table style='width: 100%'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


KIND_NOTES = {
    "infinity": "overflow → ∞",
    "saturated": "overflow → clamped to ±448 (E4M3 has no ∞)",
    "subnormal": "subnormal",
    "zero": "zero",
    "nan": "NaN",
    "normal": "normal",
}

st.title("Data types")
st.write(
    "Every float format spends its bits on a sign, an exponent (the range) and a mantissa (the precision). "
    "Type a number, or pick a real weight, and see which bits each format stores, the value it actually "
    "keeps and the rounding error (round to nearest, ties to even; torch's dtypes are the reference)."
)

weights = layer_weights()
source = st.radio("Value", SOURCES if weights else SOURCES[:1], horizontal=True)
if source == SOURCES[0]:
    text = st.text_input("Number", "0.1", help="Also try 70000, 1e-8, 500, inf, nan.")
    try:
        value = parse_number(text)
    except ValueError as error:
        st.error(f"Could not read the number: {error}")
        st.stop()
else:
    left, middle, right = st.columns(3)
    layer = left.selectbox("Layer", list(weights))
    rows_in_layer, columns_in_layer = weights[layer].shape
    row = middle.number_input(f"Row (0…{rows_in_layer - 1}: output)", 0, rows_in_layer - 1, 0)
    column = right.number_input(f"Column (0…{columns_in_layer - 1}: input)", 0, columns_in_layer - 1, 0)
    value = float(weights[layer][row, column])
    st.caption(f"{layer}[{row}, {column}] = {value!r} (stored in FP32)")

header = ["Format", "Bits: sign exponent mantissa", "Stored value", "As 2<sup>e</sup> × significand", "Error (relative)", ""]
rows = []
for name, fmt in dtypes.FORMATS.items():
    encoding = dtypes.encode(value, name)
    rows.append(
        [name, colored_bits(encoding), shown(encoding.stored), decomposition(encoding, fmt), error_text(encoding), KIND_NOTES[encoding.kind]]
    )
st.markdown(fitted_table(header, rows, breakable=(1, 2, 3, 4)), unsafe_allow_html=True)
st.caption(
    f"<span style='color:{SIGN}'>sign</span> · <span style='color:{EXPONENT}'>exponent</span> · "
    f"<span style='color:{MANTISSA}'>mantissa</span>. Normal values are (−1)<sup>s</sup> · 2<sup>e − bias</sup> · 1.m; "
    "with the exponent field 0 they are subnormal, 2<sup>1 − bias</sup> · 0.m, filling the gap down to 0 evenly. FP8 E4M3 "
    "(torch's float8_e4m3fn) has no infinity: it keeps its top exponent for numbers up to 448 and one NaN "
    "pattern, and torch saturates overflow (and ±∞) to ±448; the OCP FP8 spec allows saturating or NaN.",
    unsafe_allow_html=True,
)

your_turn(
    "Type 0.1: which of FP16 and BF16 keeps more correct digits, and why? Now type 70000: which 16-bit format "
    "still holds it? Finally find, by trying, a positive number that FP8 E4M3 rounds to 0."
)

st.subheader("What each format can hold")
# One column per format and one row per property: five formats fit a narrow column, eight properties did not.
st.dataframe(
    {
        "": ["bits (s + e + m)", "exponent bias", "max", "smallest normal", "smallest subnormal", "epsilon (gap above 1)", "overflow"],
        **{
            name: [
                f"1 + {f.exponent_bits} + {f.mantissa_bits} = {f.total_bits}",
                str(f.bias),
                *(f"{limit:.6g}" for limit in (f.max_finite, f.smallest_normal, f.smallest_subnormal, f.epsilon)),
                "±∞" if f.has_infinity else "±448 (saturates)",
            ]
            for name, f in dtypes.FORMATS.items()
        },
    },
    hide_index=True,
)
st.caption("BF16 keeps FP32's 8-bit exponent (the same range) with 7 mantissa bits; FP16 trades range for 3 more mantissa bits.")
chapter_link("chapters/number_formats.py", "Below 8 bits: FP6, FP4, NF4 and the block formats models ship in (MX, NVFP4, llama.cpp) on the Number formats page")

st.subheader("INT8 with a scale")
st.write(
    "An integer format has no exponent: one scale s, shared by a whole tensor, sets the range. "
    "The value is stored as q = round(x / s), clamped to −127…127, and read back as s·q."
)
scale = st.number_input("Scale s", min_value=1e-12, max_value=1e12, value=0.01, format="%.6g")
if not math.isfinite(value):
    st.info("INT8 has no code for ∞ or NaN: a scaled integer can only hold finite values.")
else:
    try:
        int8 = dtypes.int8_encode(value, scale)
    except ValueError as error:
        st.error(f"Could not encode in INT8: {error}")
        st.stop()
    a, b, c, d = st.columns(4)
    a.metric("Code q", int8.mantissa)
    b.markdown(f"**Bits (two's complement)**\n\n`{int8.bits}`")
    c.metric("Stored s·q", f"{int8.stored:.6g}")
    d.metric("Error", f"{int8.error:.3g}")
    if int8.kind == "saturated":
        st.warning(f"{value:.6g} is beyond 127·s = {127 * scale:.6g}: it is clipped to the largest code.")
    st.caption(f"INT8 steps are all s = {scale:.6g} apart, from {-127 * scale:.6g} to {127 * scale:.6g}; a float's steps grow with its exponent.")
