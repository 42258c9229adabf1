"""Presentation mode: one switch, kept for the whole session, that makes every page legible on a projector
(wide layout, larger text and numbers; charts read the same flag for their fonts)."""

from __future__ import annotations

import streamlit as st

from ui.story import ASSETS

KEY = "presentation"
"""st.session_state[KEY] is True while presentation mode is on; pages read it with .get(KEY, False)."""
TAB_ICON = ASSETS / "icon.png"
STYLE = ASSETS / "presentation.css"


def is_on() -> bool:
    return bool(st.session_state.get(KEY, False))


def set_up_page() -> None:
    """Tab icon and layout of this run, and in presentation mode the larger type; before any page draws."""
    st.set_page_config(page_icon=str(TAB_ICON), layout="wide" if is_on() else "centered")
    if is_on():
        st.html(STYLE)


def switch() -> None:
    """The presentation-mode toggle, in the sidebar of every page."""
    st.sidebar.toggle(
        "Presentation mode",
        key=KEY,
        help="For projecting to a room: wide layout, larger text, numbers and chart labels. Stays on across pages.",
    )
