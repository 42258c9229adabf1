"""The chapters of the explorable, in reading order: app.py's navigation, the landing page and each
page's link to the next all come from this one list."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError


@dataclass(frozen=True)
class Chapter:
    path: str
    """The page's file, relative to the app's folder."""
    title: str
    icon: str
    section: str


CHAPTERS = (
    Chapter("pages/shared_colors.py", "Shared colors", ":material/palette:", "Images"),
    Chapter("pages/quantization_error.py", "Quantization error", ":material/local_fire_department:", "Images"),
    Chapter("pages/weights.py", "Weights", ":material/grid_on:", "Weights"),
    Chapter("pages/autoencoder.py", "Autoencoder", ":material/draw:", "Weights"),
    Chapter("pages/data_types.py", "Data types", ":material/memory:", "Linear quantization"),
    Chapter("pages/mapping.py", "Scale and affine mapping", ":material/straighten:", "Linear quantization"),
    Chapter("pages/granularity.py", "Granularity", ":material/view_module:", "Linear quantization"),
    Chapter("pages/calibration.py", "Calibration", ":material/tune:", "Linear quantization"),
    Chapter("pages/integer_layer.py", "Integer layer", ":material/calculate:", "Linear quantization"),
    Chapter("pages/deep_compression.py", "Deep Compression", ":material/compress:", "Compression in practice"),
    Chapter("pages/output_aware.py", "Output-aware quantization", ":material/output:", "Compression in practice"),
    Chapter("pages/number_formats.py", "Number formats", ":material/data_array:", "Compression in practice"),
    Chapter("pages/your_weights.py", "Your weights", ":material/upload_file:", "Compression in practice"),
)


def sections() -> dict[str, list[Chapter]]:
    """The chapters grouped by section, both in reading order."""
    grouped: dict[str, list[Chapter]] = {}
    for chapter in CHAPTERS:
        grouped.setdefault(chapter.section, []).append(chapter)
    return grouped


def next_chapter(path: str) -> Chapter | None:
    """The chapter after the one in `path` ("pages/....py"), or None after the last."""
    paths = [chapter.path for chapter in CHAPTERS]
    position = paths.index(path)
    return CHAPTERS[position + 1] if position + 1 < len(CHAPTERS) else None


def chapter_link(path: str, label: str) -> None:
    """A link to the chapter in `path` ("pages/....py"); its label as plain text when the page runs without the
    app's navigation (a page tested on its own), where Streamlit knows no other page."""
    chapter = next(chapter for chapter in CHAPTERS if chapter.path == path)
    try:
        st.page_link(chapter.path, label=label, icon=chapter.icon)
    except StreamlitPageNotFoundError:
        st.caption(label)
