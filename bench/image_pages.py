"""Server time per slider move on the two image pages (default image), and the work behind it.

Run from the repository root: .venv/bin/python bench/image_pages.py [--repeats 3]
Page times are AppTest reruns after moving the k slider: the script, its core calls, PNG
encoding, st.image's checks and plotly's JSON, in this process (no network). "first" is the
first visit of that k (the k-means fit runs); "again" returns to a k seen before (cached).
Target: <= 250 ms at every k.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from bench.timing import median_ms  # noqa: E402
from core.image_error import pixel_error  # noqa: E402
from core.images import palette_png, sample_image  # noqa: E402
from core.kmeans import palette_kmeans  # noqa: E402
from pages.image_choice import shared_colors  # noqa: E402

KS = (2, 8, 32, 128, 256)
PAGES = {"Shared colors": ("shared_colors.py", "shared_colors_k"), "Quantization error": ("quantization_error.py", "quantization_error_k")}


def page_rows(repeats: int) -> list[str]:
    rows = []
    for title, (file, key) in PAGES.items():
        app = AppTest.from_file(str(ROOT / "pages" / file), default_timeout=600).run()
        for k in KS:
            shared_colors.clear()  # the k-means fit of every k runs again
            first = median_ms(lambda: app.slider(key=key).set_value(k).run(), 1)
            again = []
            for _ in range(repeats):
                app.slider(key=key).set_value(1).run()
                again.append(median_ms(lambda: app.slider(key=key).set_value(k).run(), 1))
            assert not app.exception, app.exception
            rows.append(f"| {title} | {k} | {first:.0f} | {statistics.median(again):.0f} |")
    return rows


def core_rows(repeats: int) -> list[str]:
    image = sample_image("china.jpg")
    palette_kmeans(image, 2)  # build the per-image color table once, as the page does
    rows = []
    for k in KS:
        palette, labels = palette_kmeans(image, k)
        fit = median_ms(lambda: palette_kmeans(image, k), repeats)
        encode = median_ms(lambda: palette_png(palette, labels), repeats)
        error = median_ms(lambda: pixel_error(image, palette[labels]), repeats)
        rows.append(f"| {k} | {fit:.0f} | {encode:.0f} | {error:.0f} |")
    return rows


def heatmap_megabytes() -> float:
    """Size of the heatmap figure the error page sends per slider move (z plus hover colors)."""
    app = AppTest.from_file(str(ROOT / "pages" / "quantization_error.py"), default_timeout=600).run()
    return len(app.get("plotly_chart")[0].proto.spec) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    image = sample_image("china.jpg")
    print(f"Default image china.jpg, {image.shape[1]}×{image.shape[0]}; medians of {repeats}\n")
    print("| page | k | first move (ms) | again (ms) |\n|---|---|---|---|")
    print("\n".join(page_rows(repeats)))
    print("\n| k | palette_kmeans (ms) | palette PNG (ms) | pixel_error (ms) |\n|---|---|---|---|")
    print("\n".join(core_rows(repeats)))
    print(f"\nHeatmap figure sent per move on the error page: {heatmap_megabytes():.1f} MB of JSON")


if __name__ == "__main__":
    main()
