"""Server time per slider move on the two image pages (default image), and the work behind it.

Run from the repository root: .venv/bin/python bench/image_pages.py [--repeats 3]
Page times are AppTest reruns after moving the k slider: the script, its core calls, PNG
encoding, st.image's checks and plotly's JSON, in this process (no network). "first" is the
first visit of that k (the k-means fit runs); "again" returns to a k seen before (cached).
Each time is wall ms with this process's CPU ms in brackets, steadier when other processes share
the cores; BLAS runs on one thread, as in the app. "sent" is the error page's heatmap figure.
Target: <= 250 ms at every k.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from core.images.io import palette_png, sample_image  # noqa: E402
from core.images.palette import palette_kmeans  # noqa: E402
from core.measure.image_error import pixel_error  # noqa: E402
from ui.image_choice import error_map, shared_colors  # noqa: E402

KS = (2, 8, 32, 128, 256)
PAGES = {"Shared colors": ("shared_colors.py", "shared_colors_k"), "Quantization error": ("quantization_error.py", "quantization_error_k")}


def wall_and_cpu_ms(action: Callable[[], object]) -> tuple[float, float]:
    """(wall ms, this process's CPU ms) of one run of `action`."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def page_rows(repeats: int) -> tuple[list[str], list[float]]:
    """Table rows per page and k, and the heatmap megabytes sent at each k."""
    rows, sizes = [], []
    for title, (file, key) in PAGES.items():
        app = AppTest.from_file(str(ROOT / "chapters" / file), default_timeout=600).run()
        for k in KS:
            shared_colors.clear()  # the k-means fit of every k runs again
            error_map.clear()
            first = wall_and_cpu_ms(lambda: app.select_slider(key=key).set_value(k).run())
            again = []
            for _ in range(repeats):
                app.select_slider(key=key).set_value(1).run()
                again.append(wall_and_cpu_ms(lambda: app.select_slider(key=key).set_value(k).run()))
            assert not app.exception, app.exception
            sent = "–"
            if title == "Quantization error":
                sizes.append(len(app.get("plotly_chart")[0].proto.spec) / 1e6)
                sent = f"{sizes[-1]:.2f}"
            wall, cpu = statistics.median(a[0] for a in again), statistics.median(a[1] for a in again)
            rows.append(f"| {title} | {k} | {first[0]:.0f} ({first[1]:.0f}) | {wall:.0f} ({cpu:.0f}) | {sent} |")
    return rows, sizes


def core_rows(repeats: int) -> list[str]:
    """Table rows per k: CPU ms of the work behind a first move."""
    image = sample_image("china.jpg")
    palette_kmeans(image, 2)  # build the per-image color table once, as the page does
    rows = []
    for k in KS:
        palette, labels = palette_kmeans(image, k)
        actions = (
            lambda: palette_kmeans(image, k),
            lambda: palette_png(palette, labels),
            lambda: pixel_error(image, palette[labels]),
        )
        cpu = [statistics.median(wall_and_cpu_ms(action)[1] for _ in range(repeats)) for action in actions]
        rows.append(f"| {k} | " + " | ".join(f"{ms:.0f}" for ms in cpu) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    image = sample_image("china.jpg")
    print(f"Default image china.jpg, {image.shape[1]}×{image.shape[0]}; medians of {repeats}\n")
    with threadpool_limits(limits=1, user_api="blas"):
        rows, sizes = page_rows(repeats)
        print("| page | k | first move ms (cpu) | again ms (cpu) | heatmap sent (MB) |\n|---|---|---|---|---|")
        print("\n".join(rows))
        print("\n| k | palette_kmeans (cpu ms) | palette PNG (cpu ms) | pixel_error (cpu ms) |\n|---|---|---|---|")
        print("\n".join(core_rows(repeats)))
    print(f"\nHeatmap figure sent per move on the error page: {min(sizes):.1f}–{max(sizes):.1f} MB of JSON")


if __name__ == "__main__":
    main()
