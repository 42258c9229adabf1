"""Speed of the output-aware quantizers on the autoencoder's 1000×784 layer, and of the page's first view:
python -m bench.output_aware (prints a markdown table; targets: GPTQ ≤ 1 s, PQ output-objective EM ≤ 5 s,
first view ≤ 2 s). The machine's load average is printed with it: other work skews every time."""

from __future__ import annotations

import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from bench.timing import timed
from core.models import autoencoder
from core.models.mnist import load_split
from core.quantize.gptq import gptq_quantize
from core.quantize.layer_methods import output_error
from core.quantize.pq import product_quantize

PAGE = str(Path(__file__).resolve().parents[1] / "chapters" / "output_aware.py")


def main() -> None:
    train_images, _, heldout_images, _ = load_split()
    state = autoencoder.load_state_dict()
    W = state["fc1.weight"]
    fit = autoencoder.layer_inputs(state, train_images)["fc1"]
    test = autoencoder.layer_inputs(state, heldout_images)["fc1"]
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores)\n")
    print("| what | size | target | median ms | held-out output error |")
    print("|---|---|---:|---:|---:|")
    floor_ms, _ = timed(lambda: fit.T @ fit, repeats=3)
    print(f"| floor: XᵀX | {fit.shape[0]:,} × {fit.shape[1]} | - | {floor_ms:.0f} | - |")
    for bits in (2, 3, 4):
        ms, result = timed(lambda: gptq_quantize(W, fit, bits), repeats=3)
        print(f"| GPTQ, {bits} bits, per-row scales | {W.shape[0]}×{W.shape[1]}, {fit.shape[0]:,} inputs | 1,000 | {ms:.0f} | {output_error(W, result.weights, test):.4f} |")
    weights_ms, by_weights = timed(lambda: product_quantize(W, 4, 256, "weights", iterations=20), repeats=1)
    print(f"| PQ weight objective (k-means++, ≤ 20 Lloyd steps), block 4, k 256 | {W.size // 4:,} sub-vectors | - | {weights_ms:.0f} | {output_error(W, by_weights.weights, test):.4f} |")
    outputs_ms, by_outputs = timed(lambda: product_quantize(W, 4, 256, "outputs", fit, iterations=20), repeats=1)
    print(f"| PQ output objective, all (the k-means start + 20 EM steps) | {W.size // 4:,} sub-vectors | - | {outputs_ms:.0f} | {output_error(W, by_outputs.weights, test):.4f} |")
    print(f"| PQ output objective, its 20 EM steps (difference) | | 5,000 | {outputs_ms - weights_ms:.0f} | |")
    cold_ms, app = timed(lambda: AppTest.from_file(PAGE, default_timeout=60).run(), repeats=1)
    assert not app.exception
    warm_ms, _ = timed(lambda: AppTest.from_file(PAGE, default_timeout=60).run(), repeats=3)
    print(f"| page first view at its defaults (AppTest, server side): first session / later sessions | | 2,000 | {cold_ms:.0f} / {warm_ms:.0f} | |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
