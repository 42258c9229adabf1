"""Speed and memory of the weight-file report (core.weightfile), printed as a table.

1. A generated GPT-2-small-shaped F16 safetensors file (124,439,808 parameters, 249 MB, written to a
   temporary folder and deleted after): the full report from the command line (every method at 2…8
   bits, a 4.5-bit budget, JSON and CSV written), wall time and the child's peak RSS (getrusage).
   Targets: <= 60 s, <= 1.5 GB.
2. The app's path: report_weights on the file's bytes in a spawned worker process (as
   ui.background.run_in_background runs it), for a 25 MB file (the page's upload cap) and a 50 MB one.
   Target: 50 MB <= 10 s.

Run: .venv/bin/python -m bench.weightfile [--skip-cli]
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from core.weightfile.export import write_safetensors
from core.weightfile.report import report_weights

ROOT = Path(__file__).resolve().parent.parent
LAYERS, WIDTH, VOCABULARY, POSITIONS = 12, 768, 50257, 1024


def gpt2_small_shapes() -> dict[str, tuple[int, ...]]:
    """The tensors of GPT-2 small (Hugging Face names and shapes): 124,439,808 parameters."""
    shapes = {"wte.weight": (VOCABULARY, WIDTH), "wpe.weight": (POSITIONS, WIDTH)}
    for layer in range(LAYERS):
        block = f"h.{layer}."
        shapes |= {
            block + "ln_1.weight": (WIDTH,), block + "ln_1.bias": (WIDTH,),
            block + "attn.c_attn.weight": (WIDTH, 3 * WIDTH), block + "attn.c_attn.bias": (3 * WIDTH,),
            block + "attn.c_proj.weight": (WIDTH, WIDTH), block + "attn.c_proj.bias": (WIDTH,),
            block + "ln_2.weight": (WIDTH,), block + "ln_2.bias": (WIDTH,),
            block + "mlp.c_fc.weight": (WIDTH, 4 * WIDTH), block + "mlp.c_fc.bias": (4 * WIDTH,),
            block + "mlp.c_proj.weight": (4 * WIDTH, WIDTH), block + "mlp.c_proj.bias": (WIDTH,),
        }  # fmt: skip
    return shapes | {"ln_f.weight": (WIDTH,), "ln_f.bias": (WIDTH,)}


def weights_like_a_transformer(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, tuple[str, np.ndarray]]:
    """F16 tensors: N(0, 0.02) with one value in 10,000 an outlier of 10-40 std, as trained transformers have."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape in shapes.items():
        values = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
        flat = values.reshape(-1)
        outliers = rng.integers(0, flat.size, max(1, flat.size // 10_000))
        flat[outliers] *= rng.uniform(10, 40, outliers.size).astype(np.float32)
        tensors[name] = ("F16", values.astype(np.float16))
    return tensors


def write_file(path: Path, shapes: dict[str, tuple[int, ...]], seed: int = 0) -> int:
    with open(path, "wb") as file:
        return write_safetensors(weights_like_a_transformer(shapes, seed), {}, file)


def shapes_of_size(megabytes: float) -> dict[str, tuple[int, ...]]:
    """GPT-2-like blocks of width 512 up to about `megabytes` of F16."""
    shapes, total, layer = {}, 0, 0
    while total + 2 * 4 * 512 * 512 * 2 <= megabytes * 1e6:
        shapes |= {f"h.{layer}.attn.weight": (512, 4 * 512), f"h.{layer}.mlp.weight": (4 * 512, 512), f"h.{layer}.bias": (512,)}
        total += 2 * (2 * 4 * 512 * 512 + 512)
        layer += 1
    return shapes


def run_cli(path: Path, folder: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of the command line's full report on path."""
    command = [sys.executable, "-m", "core.weightfile", str(path), "--budget-bits", "4.5", "--json", str(folder / "r.json"), "--csv", str(folder / "r.csv")]
    started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu, after.ru_maxrss / 1024


def worker_report(data: bytes, name: str) -> tuple[float, int]:
    """(CPU seconds, peak RSS MB) of the report in this worker."""
    started = time.process_time()
    report_weights(data, name, progress=lambda fraction, text: None)
    return time.process_time() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def run_in_worker(data: bytes, name: str) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, worker peak RSS MB) of the app's path: bytes sent to a spawned worker, reported there."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(os.getpid).result()  # the worker is up, as the app's pool is
        started = time.perf_counter()
        cpu, peak = pool.submit(worker_report, data, name).result()
        return time.perf_counter() - started, cpu, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-cli", action="store_true")
    arguments = parser.parse_args()
    print(f"load before: {os.getloadavg()}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        if not arguments.skip_cli:
            shapes = gpt2_small_shapes()
            parameters = sum(int(np.prod(shape)) for shape in shapes.values())
            size = write_file(folder / "gpt2.safetensors", shapes)
            seconds, cpu, peak = run_cli(folder / "gpt2.safetensors", folder)
            rows.append(("command line, GPT-2 small shapes", parameters, size, seconds, cpu, peak, "<= 60 s, <= 1.5 GB"))
        for megabytes in (25, 50):
            shapes = shapes_of_size(megabytes)
            buffer = io.BytesIO()
            size = write_safetensors(weights_like_a_transformer(shapes, seed=1), {}, buffer)
            seconds, cpu, peak = run_in_worker(buffer.getvalue(), f"{megabytes}mb.safetensors")
            rows.append((f"app worker, {megabytes} MB", sum(int(np.prod(s)) for s in shapes.values()), size, seconds, cpu, peak, "50 MB <= 10 s"))
    print(f"load after: {os.getloadavg()}\n")
    print("| path | parameters | file bytes | wall s | CPU s | peak RSS (MB) | target |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, parameters, size, seconds, cpu, peak, target in rows:
        print(f"| {name} | {parameters:,} | {size:,} | {seconds:.1f} | {cpu:.1f} | {peak:,.0f} | {target} |")


if __name__ == "__main__":
    main()
