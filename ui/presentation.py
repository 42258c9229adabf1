"""Presentation mode: one switch, kept for the whole session, that makes every page legible on a projector
(wide layout, larger text and numbers; charts read the same flag for their fonts)."""

from __future__ import annotations

import streamlit as st

from ui.story import ASSETS

KEY = "presentation"
"""st.session_state[KEY] is True while presentation mode is on; pages read it with .get(KEY, False)."""
SWITCH_KEY = "presentation_switch"
"""The toggle's own state. Streamlit may drop a widget's state when the page changes, so the flag lives in KEY,
a plain session-state entry, and the toggle is set from it on every run."""
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
    st.session_state[SWITCH_KEY] = is_on()
    st.sidebar.toggle(
        "Presentation mode",
        key=SWITCH_KEY,
        on_change=remember,
        help="For projecting to a room: wide layout, larger text, numbers and chart labels. Stays on across pages.",
    )


def remember() -> None:
    st.session_state[KEY] = st.session_state[SWITCH_KEY]
