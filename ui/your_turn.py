"""The "Your turn" prompt: a question or a small task for the reader, in a box of its own."""

from __future__ import annotations

import streamlit as st


def your_turn(prompt: str) -> None:
    """Draw the prompt (markdown) after a bold "Your turn.", boxed so a reader sees it is addressed to them."""
    with st.container(border=True):
        st.markdown(f"**Your turn.** {prompt}")
