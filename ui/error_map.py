"""The error map of the Quantization error page: original, shared colors and per-pixel error E on
canvases, drawn in the browser by a project component (ui/components/error_map.js).

Only the shared image (a palette PNG) travels on a move of k; E, its colours and the hover are
computed in the browser from the two images. The original travels once per image: the component
reports the digest it holds (its state "held"), and a run sends the original only when it differs.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import streamlit as st

from ui.charts import canvas_component, mount, nice_ticks, presentation_on, revision
from ui.image_choice import color_count

MAX_ERROR = 765  # 3 channels × 255
# White for no error, then yellow to deep red: lightness falls steadily, so more error reads as darker.
WHITE_TO_DEEP_RED = [[0.0, "#ffffff"], [0.2, "#ffeda0"], [0.4, "#feb24c"], [0.6, "#fc4e2a"], [0.8, "#bd0026"], [1.0, "#4d0013"]]
COLORBAR_TITLE = "Error E of a pixel = |ΔR| + |ΔG| + |ΔB|"
KEY = "quantization_error_map"

_error_map = canvas_component("error_map", "error_map.js")


def held_digest() -> str | None:
    """The digest of the original the browser reported holding, if any."""
    state = st.session_state.get(KEY)
    return state.get("held") if isinstance(state, Mapping) else None


def error_map_view(
    *, digest: str, original_png: bytes, shared_png: bytes, colors: int, step: int, scale_max: int
) -> None:
    """Draw the original, its k shared colors and the error map side by side, E coloured 0…scale_max.

    original_png and shared_png hold the drawn pixels (every step-th row and column) as PNG files.
    """
    data = {
        "digest": digest,
        "original_png": None if held_digest() == digest else base64.b64encode(original_png).decode(),
        "shared_png": base64.b64encode(shared_png).decode(),
        "step": step,
        "scale_max": scale_max,
        "ticks": nice_ticks(scale_max),
        "colorscale": WHITE_TO_DEEP_RED,
        "colorbar_title": COLORBAR_TITLE,
        "titles": ["Original", color_count(colors), "Error E per pixel"],
        "presentation": presentation_on(),
    }
    data["revision"] = revision(data)
    mount(_error_map, KEY, data, None, on_held_change=lambda: None)
