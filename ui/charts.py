"""Every plotly chart a page draws goes through `plotly_chart`, so how charts reach the browser
(and how they look in presentation mode) is decided in one place.

`st.plotly_chart` builds a new plot for every changed figure (a full Plotly.newPlot plus Streamlit's
theming, ~100 ms of browser CPU per chart per slider move). Here a small project component keeps one
div per chart across reruns and calls `Plotly.react` on it, which updates the plot in place; plotly.js
comes from the installed plotly package, served by this app (`server.enableStaticServing`), never
from another host.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import plotly
import plotly.io
import streamlit as st
import streamlit.components.v2

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = Path(__file__).resolve().parent / "components"
STATIC = ROOT / "static"  # what Streamlit serves at <base URL>/app/static/
PRESENTATION_KEY = "presentation"  # the session-wide flag the presentation-mode toggle sets
PRESENTATION_FONT_PX = 18  # the classroom needs chart text of 16 px or more
# In place of plotly's default template (~10 kB a chart): what of it the pages' charts rely on, as layout
# defaults. Not as a template: plotly.js computes and draws the whole plot again whenever a layout has one.
LAYOUT_DEFAULTS = {"xaxis": {"automargin": True}, "yaxis": {"automargin": True}, "hoverlabel": {"align": "left"}}

# Plotly's RdBu reversed: blue for negative, near-white for 0, red for positive.
BLUE_WHITE_RED = [
    [i / 10, color]
    for i, color in enumerate(
        ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f"]
    )
]


def canvas_component(name: str, script: str) -> Any:
    """A project component drawing on canvases: ui/components/<script> after the shared colour-scale code."""
    return streamlit.components.v2.component(
        f"quantization_explorer.{name}",
        js=(COMPONENTS / "color_scale.js").read_text() + (COMPONENTS / script).read_text(),
        css=(COMPONENTS / "canvas_views.css").read_text(),
        isolate_styles=False,  # the theme's CSS variables and fonts apply as to the rest of the page
    )


_matrix = canvas_component("matrix_view", "matrix_view.js")
_chart = streamlit.components.v2.component(
    "quantization_explorer.plotly_chart",
    js=(COMPONENTS / "plotly_chart.js").read_text(),
    isolate_styles=False,  # plotly's own stylesheet (hover labels, mode bar) must reach the chart
)


def publish_static(source: Path, name: str) -> str:
    """Copy source to static/name unless an identical copy is there; return its URL path on this server."""
    target = STATIC / name
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        STATIC.mkdir(exist_ok=True)
        partial = target.with_name(f".{name}.{os.getpid()}")
        shutil.copyfile(source, partial)
        partial.replace(target)  # atomic: a browser never reads half a file
    base = st.get_option("server.baseUrlPath").strip("/")
    return f"{'/' + base if base else ''}/app/static/{name}"


PLOTLY_URL = publish_static(
    Path(plotly.__file__).parent / "package_data" / "plotly.min.js", f"plotly-{plotly.__version__}.min.js"
)


def presentation_on() -> bool:
    return bool(st.session_state.get(PRESENTATION_KEY, False))


def figure_json(figure: Any, presentation: bool) -> str:
    """The figure (a go.Figure or its dict) as plotly JSON, with presentation-sized fonts when asked.

    Plotly's default template is replaced by LAYOUT_DEFAULTS: the browser gives the chart the app's font,
    text colour and a transparent background, as st.plotly_chart's theme did.
    """
    as_dict = figure.to_plotly_json() if hasattr(figure, "to_plotly_json") else dict(figure)
    layout = {key: value for key, value in (as_dict.get("layout") or {}).items() if key != "template"}
    for key, defaults in LAYOUT_DEFAULTS.items():
        layout[key] = {**defaults, **(layout.get(key) or {})}
    if presentation:
        layout["font"] = {**(layout.get("font") or {}), "size": PRESENTATION_FONT_PX}
        layout["hoverlabel"] = {**(layout.get("hoverlabel") or {}), "font": {"size": PRESENTATION_FONT_PX}}
        layout["title"] = scaled_title(layout.get("title"))
    return plotly.io.to_json({"data": as_dict.get("data", []), "layout": layout}, validate=False)


def scaled_title(title: Any) -> Any:
    """A layout title with a font above the presentation size (a plain string title becomes a dict)."""
    if title is None:
        return None
    as_dict = {"text": title} if isinstance(title, str) else dict(title)
    return {**as_dict, "font": {**(as_dict.get("font") or {}), "size": PRESENTATION_FONT_PX + 4}}


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 up to at most top, about count of them (1, 2 or 5 times a power of ten apart)."""
    if not top > 0 or not math.isfinite(top):
        return [0]
    raw = top / (count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(multiple * power for multiple in (1, 2, 5, 10) if multiple * power >= raw)
    return [float(f"{step * i:.12g}") for i in range(int(top / step + 1e-9) + 1)]


def revision(data: dict) -> str:
    """A short digest of a component's data: its JavaScript marks what it drew with it, for tests to wait on."""
    return hashlib.blake2b(repr(sorted(data.items())).encode(), digest_size=8).hexdigest()


def mount(component: Any, key: str, data: dict, where: Any, **callbacks: Any) -> None:
    """Mount a project component in where (a column or container; default the page)."""
    if where is None:
        component(key=key, data=data, **callbacks)
    else:
        with where:
            component(key=key, data=data, **callbacks)


def matrix_heatmap(
    values: np.ndarray,
    limit: float,
    title: str,
    *,
    key: str,
    where: Any = None,
    step: int = 1,
    colorbar_title: str = "value",
    height_px: int = 320,
) -> None:
    """Draw a matrix on a canvas, blue (−limit) to white (0) to red (+limit), each entry hoverable.

    values holds every step-th row and column of the matrix (hover shows the true row and column).
    """
    rows, columns = values.shape
    ticks = nice_ticks(limit, 3)
    data = {
        "values": base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode(),
        "rows": rows,
        "columns": columns,
        "step": step,
        "limit": float(limit),
        "ticks": [-tick for tick in reversed(ticks[1:])] + ticks,
        "title": title,
        "colorbar_title": colorbar_title,
        "colorscale": BLUE_WHITE_RED,
        "height_px": height_px,
        "presentation": presentation_on(),
    }
    data["revision"] = revision(data)
    mount(_matrix, key, data, where)


def preload_plotly() -> None:
    """Start loading plotly.js in this tab now (an invisible element), so the first chart a reader opens is drawn at once."""
    _chart(key="plotly_preload", data={"plotly_url": PLOTLY_URL, "preload": True})


def call_site_key() -> str:
    """A key for a chart drawn without one: the page file and line of the plotly_chart call, the same on every run."""
    caller = sys._getframe(2)
    return f"chart:{Path(caller.f_code.co_filename).name}:{caller.f_lineno}"


def plotly_chart(figure: Any, *, key: str | None = None, where: Any = None) -> None:
    """Draw a plotly figure (a go.Figure or its dict) in `where` (a column or container; default the page).

    The key keeps the chart's div across reruns (a call site is its own key when none is given).
    """
    encoded = figure_json(figure, presentation_on())
    data = {"figure": encoded, "plotly_url": PLOTLY_URL}
    data["revision"] = revision(data)
    mount(_chart, key or call_site_key(), data, where)
