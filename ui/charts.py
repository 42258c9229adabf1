"""Every plotly chart a page draws goes through `plotly_chart`, so how charts reach the browser
(and how they look in presentation mode) is decided in one place."""

from __future__ import annotations

from typing import Any

import streamlit as st


def plotly_chart(figure: Any, *, key: str | None = None, where: Any = None) -> None:
    """Draw a plotly figure (a go.Figure or its dict) in `where` (a column or container; default the page)."""
    (where or st).plotly_chart(figure, key=key)
