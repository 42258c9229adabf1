"""The chapters of the explorable, in reading order: app.py's navigation, the landing page and each
page's link to the next all come from this one list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PICTURES = ASSETS / "chapters"
"""One small picture per chapter, <page file's stem>.png, made by `python -m assets.chapter_pictures`."""


@dataclass(frozen=True)
class Chapter:
    path: str
    """The page's file, relative to the app's folder."""
    title: str
    icon: str
    section: str
    hook: str = ""
    """One line that makes a reader want to open the chapter (the landing page and the link to it)."""

    @property
    def url_path(self) -> str:
        """The page's address under the app (app.py's navigation and the start-up warm-up): the file's name."""
        return Path(self.path).stem

    @property
    def picture(self) -> Path | None:
        """The chapter's picture on the landing page, or None when it has none."""
        path = PICTURES / f"{Path(self.path).stem}.png"
        return path if path.exists() else None


CHAPTERS = (
    Chapter("chapters/shared_colors.py", "Shared colors", ":material/palette:", "Images",
            "A photo painted with only k colors: how few before you notice?"),
    Chapter("chapters/quantization_error.py", "Quantization error", ":material/local_fire_department:", "Images",
            "A map of where those shared colors went wrong, pixel by pixel."),
    Chapter("chapters/weights.py", "Weights", ":material/grid_on:", "Weights",
            "The same sharing on a weight matrix, and a bound on how far its output can move."),
    Chapter("chapters/autoencoder.py", "Autoencoder", ":material/draw:", "Weights",
            "Draw a digit; a network redraws it with 8, 4, 2, then 1 bit per weight."),
    Chapter("chapters/data_types.py", "Data types", ":material/memory:", "Linear quantization",
            "Sign, exponent, mantissa: what FP32, FP16, BF16, FP8 and INT8 keep of one number."),
    Chapter("chapters/mapping.py", "Scale and affine mapping", ":material/straighten:", "Linear quantization",
            "Floats onto a ruler of small integers: one scale, and sometimes a zero point."),
    Chapter("chapters/granularity.py", "Granularity", ":material/view_module:", "Linear quantization",
            "One scale per tensor, per row or per group: the error bought with each scale stored."),
    Chapter("chapters/calibration.py", "Calibration", ":material/tune:", "Linear quantization",
            "Activations arrive at run time: pick where to clip them from a few samples."),
    Chapter("chapters/integer_layer.py", "Integer layer", ":material/calculate:", "Linear quantization",
            "A layer computed in int8 and int32 only, followed stage by stage."),
    Chapter("chapters/deep_compression.py", "Deep Compression", ":material/compress:", "Compression in practice",
            "Prune, share, fine-tune, Huffman-code: a real classifier about 50× smaller, scored on digits it never saw."),
    Chapter("chapters/output_aware.py", "Output-aware quantization", ":material/output:", "Compression in practice",
            "Quantize for what a layer computes, not for its weights: product quantization and GPTQ."),
    Chapter("chapters/number_formats.py", "Number formats", ":material/data_array:", "Compression in practice",
            "The 4-bit formats models ship in (NF4, MXFP4, NVFP4, llama.cpp's blocks) on the same weights."),
    Chapter("chapters/your_weights.py", "Your weights", ":material/upload_file:", "Compression in practice",
            "Bring a weight file: the bits each tensor needs, and the best file under a size budget."),
)  # fmt: skip


def sections() -> dict[str, list[Chapter]]:
    """The chapters grouped by section, both in reading order."""
    grouped: dict[str, list[Chapter]] = {}
    for chapter in CHAPTERS:
        grouped.setdefault(chapter.section, []).append(chapter)
    return grouped


def next_chapter(path: str) -> Chapter | None:
    """The chapter after the one in `path` ("chapters/....py"), or None after the last."""
    paths = [chapter.path for chapter in CHAPTERS]
    position = paths.index(path)
    return CHAPTERS[position + 1] if position + 1 < len(CHAPTERS) else None


def chapter_link(path: str, label: str) -> None:
    """A link to the chapter in `path` ("chapters/....py"); its label as plain text when the page runs without the
    app's navigation (a page tested on its own), where Streamlit knows no other page."""
    chapter = next(chapter for chapter in CHAPTERS if chapter.path == path)
    try:
        st.page_link(chapter.path, label=label, icon=chapter.icon)
    except StreamlitPageNotFoundError:
        st.caption(label)
