"""Speed and error of palette_kmeans: python -m bench.palette [--quick] (prints a markdown table).

china.jpg upscaled (PIL bicubic) to 880x602 and to 12 MP; every power-of-two k at 880x602, the
per-image preparation timed on its own, scikit-learn's full KMeans(n_init=1) at two k, and the
floor: one numpy pass over the pixels and one lookup-table gather. ms is wall time (median of
repeated runs); cpu ms is this process's CPU time (median and best), steadier when other processes
share the cores. palette_kmeans runs with BLAS on one thread, as in the app.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from PIL import Image
from sklearn.cluster import KMeans
from sklearn.datasets import load_sample_image
from threadpoolctl import threadpool_limits

from core.images import palette as palette_module
from core.images.palette import palette_kmeans
from core.measure.image_error import average_error

REPEATS = 5


def timed(function, repeats: int = REPEATS) -> tuple[float, float, float, object]:
    """(median wall ms, median cpu ms, best cpu ms, last result) of calling function() `repeats` times."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append((time.perf_counter() - wall) * 1e3)
        cpus.append((time.process_time() - cpu) * 1e3)
    return float(np.median(walls)), float(np.median(cpus)), min(cpus), result


def upscaled_china(width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(load_sample_image("china.jpg")).resize((width, height), Image.BICUBIC))


def row(method: str, image: np.ndarray, k: object, wall: float, cpu: float, best: float, error: object = "") -> None:
    size = f"{image.shape[1]}x{image.shape[0]}"
    error_text = f"{error:.3f}" if isinstance(error, float) else error
    print(f"| {method} | {size} | {k} | {wall:.1f} | {cpu:.1f} | {best:.1f} | {error_text} |", flush=True)


def bench_palette(image: np.ndarray, ks: list[int], repeats: int) -> dict[int, float]:
    """Rows for the preparation, palette_kmeans at each k (cached preparation) and the floor."""
    wall, cpu, best, table = timed(lambda: palette_module._build_color_table(image), max(1, repeats // 2))
    row("preparation (distinct colors, histograms), once per image", image, "-", wall, cpu, best)
    palette_kmeans(image, 1)  # caches the preparation, as the pages' first call does
    times = {}
    for k in ks:
        wall, cpu, best, (palette, labels) = timed(lambda: palette_kmeans(image, k), repeats)
        row("palette_kmeans", image, k, wall, cpu, best, average_error(image, palette[labels]))
        times[k] = wall
    pixels = image.reshape(-1, 3)
    wall, cpu, best, _ = timed(
        lambda: (pixels[:, 0].astype(np.uint32) << 16) | (pixels[:, 1] << 8) | pixels[:, 2], repeats
    )
    row("floor: one numpy pass over the pixels (24-bit codes)", image, "-", wall, cpu, best)
    lookup = np.arange(len(table.colors.weights), dtype=np.uint32).astype(np.uint8)
    wall, cpu, best, _ = timed(lambda: lookup[table.pixel_color], repeats)
    row("floor: one lookup-table gather (label per pixel)", image, "-", wall, cpu, best)
    return times


def bench_sklearn(image: np.ndarray, ks: list[int], ours: dict[int, float]) -> None:
    pixels = image.reshape(-1, 3).astype(np.float64)
    for k in ks:
        wall, cpu, best, fitted = timed(lambda: KMeans(n_clusters=k, n_init=1, random_state=0).fit(pixels), 1)
        palette = np.clip(np.rint(fitted.cluster_centers_), 0, 255).astype(np.uint8)
        error = average_error(image, palette[fitted.labels_.reshape(image.shape[:2])])
        method = f"scikit-learn KMeans(n_init=1), all pixels: {wall / ours[k]:.0f}x palette_kmeans"
        row(method, image, k, wall, cpu, best, error)


def main() -> None:
    quick = "--quick" in sys.argv
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print("| method | size | k | ms (median) | cpu ms | cpu ms (best) | average error |")
    print("|---|---|---:|---:|---:|---:|---:|")
    photo = upscaled_china(880, 602)
    with threadpool_limits(limits=1, user_api="blas"):  # as the app runs
        ours = bench_palette(photo, [2**b for b in range(1, 9)], 3 if quick else REPEATS)
    bench_sklearn(photo, [32] if quick else [32, 128], ours)
    if not quick:
        with threadpool_limits(limits=1, user_api="blas"):
            bench_palette(upscaled_china(4240, 2830), [256], 3)


if __name__ == "__main__":
    main()
