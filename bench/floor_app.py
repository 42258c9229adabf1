"""The cheapest app bench/load.py can drive (`--floor`): one slider and one number, so the browsers'
and the client's own cost per update can be told apart from Quantization Explorer's."""

import gc

import streamlit as st


@st.cache_resource
def freeze_heap() -> None:
    """As app.py does: without it a full collection after every run scanned Streamlit's own heap (~60 ms of
    server CPU per update at 30 sessions: 64 ms against 4 ms with it)."""
    gc.collect()
    gc.freeze()


def home() -> None:
    st.title("Floor")


def one_slider() -> None:
    st.title("One slider")
    value = st.slider("Value", 0, 100, 50)
    st.metric("Its square", value * value)


freeze_heap()
st.navigation([st.Page(home, title="Home", default=True), st.Page(one_slider, title="One slider")]).run()
