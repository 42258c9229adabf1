"""Time quantize_model on the shipped autoencoder at 1-8 bits (target: <= 100 ms for the whole model).

Wall-clock medians; the histogram of each large tensor is built on the first call and reused.

    .venv/bin/python -m bench.autoencoder [--repeats 3]
"""

from __future__ import annotations

import argparse

import torch

from bench.timing import median_ms
from core.measure.reconstruction import mse
from core.models.autoencoder import METHODS, load_state_dict, quantize_model, reconstruct
from core.models.mnist import load_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    state = load_state_dict()
    heldout = load_split()[2]
    first = median_ms(lambda: quantize_model(state, 8), 1)
    print(f"first k-means call, 8 bits (hashes each tensor and builds its histogram, kept for later calls): {first:.0f} ms")
    print(f"reconstruct 500 held-out digits: {median_ms(lambda: reconstruct(state, heldout), args.repeats):.0f} ms\n")
    print("| bits | " + " | ".join(f"{method} ms | {method} held-out MSE" for method in METHODS) + " |")
    print("|---|" + "---|---|" * len(METHODS))
    for bits in range(1, 9):
        cells = []
        for method in METHODS:
            milliseconds = median_ms(lambda: quantize_model(state, bits, method), args.repeats)
            error = mse(heldout, reconstruct(quantize_model(state, bits, method).state_dict, heldout))
            cells += [f"{milliseconds:.0f}", f"{error:.5f}"]
        print(f"| {bits} | " + " | ".join(cells) + " |")
    float_mse = f"{mse(heldout, reconstruct(state, heldout)):.5f}"
    print(f"| float | – | {float_mse} | – | {float_mse} |")


if __name__ == "__main__":
    main()
