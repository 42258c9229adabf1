"""Time every number format on a 1024×1024 N(0, 1) tensor (target: encode + decode ≤ 100 ms each) and the
Number formats page's scatter for one tensor (target ≤ 1 s).

Medians over --repeats runs, as wall time and as this process's CPU time: on a shared machine the wall time
includes waiting for other processes, the CPU time does not. The load average is printed with the table.

    .venv/bin/python -m bench.formats [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from core.models.autoencoder import load_state_dict, weights_of
from core.quantize import format_comparison, formats

SIDE = 1024


def wall_and_cpu_ms(action: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of `repeats` runs of `action`."""
    wall, cpu = [], []
    for _ in range(repeats):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        action()
        wall.append((time.perf_counter() - wall_start) * 1000)
        cpu.append((time.process_time() - cpu_start) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    x = np.random.default_rng(0).standard_normal((SIDE, SIDE)).astype(np.float32)
    print(f"load average before: {' / '.join(f'{v:.1f}' for v in os.getloadavg())} (2 cores)\n")
    print(f"| format | bits / weight | encode + decode wall ms | CPU ms | relative error on N(0, 1) {SIDE}×{SIDE} |")
    print("|---|---:|---:|---:|---:|")
    wall, cpu = wall_and_cpu_ms(lambda: np.abs(x), args.repeats)
    print(f"| floor: np.abs of the tensor | - | {wall:.1f} | {cpu:.1f} | - |")
    for name in formats.FORMATS:
        wall, cpu = wall_and_cpu_ms(lambda: formats.quantize_dequantize(x, name), args.repeats)
        decoded = formats.quantize_dequantize(x, name)
        error = np.linalg.norm(decoded - x) / np.linalg.norm(x)
        print(f"| {name} | {formats.bits_per_weight(name, x.size):.4f} | {wall:.0f} | {cpu:.0f} | {error:.4f} |")
    wall, cpu = wall_and_cpu_ms(lambda: formats.quantize_dequantize(x, "mxfp4", rotation_seed=0), args.repeats)
    print(f"| mxfp4 + Hadamard rotation (R = 1024) | 4.2500 | {wall:.0f} | {cpu:.0f} | - |")

    print("\n| the page's scatter for one tensor | values | wall ms | CPU ms |")
    print("|---|---:|---:|---:|")
    layers = weights_of(load_state_dict())
    for label, tensor in (("fc1 (1000×784)", layers["fc1"]), (f"N(0, 1) {SIDE}×{SIDE}", x)):
        wall, cpu = wall_and_cpu_ms(lambda: format_comparison.compare_formats(tensor), max(1, args.repeats // 2))
        print(f"| {len(formats.FORMATS)} formats, {label} | {tensor.size:,} | {wall:.0f} | {cpu:.0f} |")
        wall, cpu = wall_and_cpu_ms(lambda: format_comparison.kmeans_reference(tensor), max(1, args.repeats // 2))
        print(f"| k-means reference, 1…8 bits, {label} | {tensor.size:,} | {wall:.0f} | {cpu:.0f} |")
    print(f"\nload average after: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
