"""Server time of the weights page per control change, and of the core calls behind it.

Run from the repository root: .venv/bin/python bench/weights_page.py [--repeats 3]
Page times are AppTest reruns (the script, its core calls and chart building, in this process);
"first" changes miss the page's caches, "again" returns to a setting seen before.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from bench.timing import median_ms  # noqa: E402
from core.content_cache import PROCESS_BUDGET  # noqa: E402
from core.distributions import weight_matrix  # noqa: E402
from core.measure import norms  # noqa: E402
from core.quantize import weight_sharing

PAGE = str(ROOT / "chapters" / "weights.py")
SIZES = (20, 128, 256, 512)


def timed_run(app: AppTest) -> float:
    """Milliseconds of one rerun of the page; raises if the page raised."""
    milliseconds = median_ms(app.run, 1)
    if app.exception:
        raise RuntimeError(app.exception)
    return milliseconds


def page_rows(n: int, repeats: int) -> dict[str, float]:
    """Median ms of a rerun after each control change on an n x n normal matrix."""
    changes = {
        "bits 4→5": ("weights_bits", 4, 5),
        "method k-means→min–max": ("weights_method", "kmeans", "minmax"),
        "norm 1→2": ("weights_norm", 1, 2),
        "new seed": ("weights_seed", 0, 1),
        "distribution normal→laplace": ("weights_choice", "normal", "laplace"),
    }
    rows: dict[str, float] = {}
    for name, (key, before, after) in changes.items():
        first, again = [], []
        for _ in range(repeats):
            PROCESS_BUDGET.clear()
            app = AppTest.from_file(PAGE, default_timeout=300)
            app.session_state["weights_n"] = n
            app.session_state[key] = before
            timed_run(app)
            app.session_state[key] = after
            first.append(timed_run(app))
            app.session_state[key] = before
            timed_run(app)
            app.session_state[key] = after
            again.append(timed_run(app))
        rows[f"{name} (first)"] = statistics.median(first)
        rows[f"{name} (again)"] = statistics.median(again)
    return rows


def core_rows(repeats: int) -> dict[str, float]:
    """Median ms of the core calls at n = 512."""
    weights = weight_matrix("normal", 512, 0)
    inputs = weight_sharing.random_inputs(512)
    rows = {}
    for method in weight_sharing.METHODS:
        rows[f"quantize_weights {method}, 4 bits"] = median_ms(
            lambda: weight_sharing.quantize_weights(weights, 4, method), repeats
        )
    for p in (1, 2):
        rows[f"weight_report k-means 4 bits, p={p}"] = median_ms(
            lambda: weight_sharing.weight_report(weights, 4, "kmeans", p, inputs), repeats
        )
        rows[f"condition_number p={p} (cached per matrix)"] = median_ms(lambda: norms.condition_number(weights, p), repeats)
        rows[f"rate_distortion p={p} (cached per matrix)"] = median_ms(lambda: weight_sharing.rate_distortion(weights, p), 1)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()

    tables = {n: page_rows(n, arguments.repeats) for n in SIZES}
    print("Page rerun after a control change, median ms (AppTest, normal matrix, 4 bits, k-means, 1-norm)")
    print("| change | " + " | ".join(f"n={n}" for n in SIZES) + " |")
    print("|---|" + "---:|" * len(SIZES))
    for name in tables[SIZES[0]]:
        print(f"| {name} | " + " | ".join(f"{tables[n][name]:.0f}" for n in SIZES) + " |")

    print("\nCore calls at n = 512, median ms")
    print("| call | ms |\n|---|---:|")
    for name, value in core_rows(arguments.repeats).items():
        print(f"| {name} | {value:.0f} |")
    print("\nload average (1, 5, 15 min): " + ", ".join(f"{load:.1f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main()
