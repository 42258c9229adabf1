"""Deep Compression's speed targets and results: python -m bench.deep_compression (prints markdown tables).

1. Huffman encode + decode of the two streams (codes and gaps) of every layer of the shipped
   models/lenet_300_100.dc (target: <= 200 ms), beside the full load_compressed of the file.
2. The whole pipeline on LeNet-300-100 from the float model at the shipped settings (prune + retrain,
   share, fine-tune, encode; target: <= 20 s), with one torch thread as the app's worker uses.
3. The shipped files: bytes, ratio to float32, held-out accuracy float vs decoded (targets: >= 40x for
   LeNet-300-100, >= 39x for LeNet-5, decoded accuracy >= float - 0.5 points).
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from bench.timing import timed
from core.compress import huffman
from core.compress.dcfile import load_compressed, read_header, save_compressed
from core.compress.networks import network
from core.compress.pipeline import compress
from core.compress.shipped import SETTINGS, SHIPPED_MODELS, dc_path

REPEATS = 5


def _streams(data: bytes) -> list[tuple[np.ndarray, int]]:
    """(symbols, alphabet bits) of every Huffman-coded stream in a .dc file, decoded once to feed the timing."""
    header, payload = read_header(data)
    streams = []
    for entry in header["tensors"]:
        for key, lengths_key, width in (("codes", "code_lengths", entry.get("weight_bits")), ("gaps", "gap_lengths", entry.get("index_bits"))):
            if key in entry and entry.get("coding") == "huffman":
                offset, size = entry[lengths_key]
                lengths = np.frombuffer(payload[offset : offset + size], dtype=np.uint8)
                offset, size = entry[key]
                streams.append((huffman.decode(payload[offset : offset + size], lengths, entry["entries"]), width))
    return streams


def _encode_decode(streams: list[tuple[np.ndarray, int]]) -> int:
    total = 0
    for symbols, width in streams:
        lengths = huffman.code_lengths(np.bincount(symbols, minlength=1 << width))
        data = huffman.encode(symbols, lengths)
        assert np.array_equal(huffman.decode(data, lengths, symbols.size), symbols)
        total += symbols.size
    return total


def main() -> None:
    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()[0]:.1f} / {os.getloadavg()[1]:.1f} / {os.getloadavg()[2]:.1f} (1, 5, 15 min) on {os.cpu_count()} cores\n")
    data = dc_path("lenet_300_100").read_bytes()
    streams = _streams(data)
    huffman_ms, symbols = timed(lambda: _encode_decode(streams), REPEATS)
    load_ms, _ = timed(lambda: load_compressed(data), REPEATS)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = compress("lenet_300_100", SETTINGS["lenet_300_100"])
    pipeline_s, pipeline_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    print("| what | measured | target |")
    print("|---|---:|---:|")
    print(f"| Huffman encode + decode, LeNet-300-100's {len(streams)} streams ({symbols:,} symbols), median of {REPEATS} | {huffman_ms:.0f} ms | ≤ 200 ms |")
    print(f"| load_compressed(models/lenet_300_100.dc), median of {REPEATS} | {load_ms:.0f} ms | - |")
    print(f"| whole pipeline, LeNet-300-100 from float (shipped settings, 1 torch thread): wall | {pipeline_s:.1f} s | ≤ 20 s |")
    print(f"| the same run: CPU time of this process (what an idle core would take) | {pipeline_cpu_s:.1f} s | - |")
    print(f"|   (that run: {result.stages[-1].bytes:,} B, {result.ratio():.1f}x, accuracy {result.stages[-1].score:.1%}) | | |")
    print()
    print("| model | float32 file | .dc file | ratio | float accuracy | decoded accuracy | difference | target |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for model in SHIPPED_MODELS:
        net = network(model)
        state = net.load_state_dict()
        _, _, inputs, targets = net.data()
        float_bytes = len(save_compressed(model, state))
        compressed = dc_path(model).read_bytes()
        float_score = net.score(state, inputs, targets)
        decoded = net.score(load_compressed(compressed), inputs, targets)
        target = "≥ 40x" if model == "lenet_300_100" else "≥ 39x"
        print(
            f"| {net.title} | {float_bytes:,} B | {len(compressed):,} B | {float_bytes / len(compressed):.1f}x | {float_score:.1%} | "
            f"{decoded:.1%} | {100 * (decoded - float_score):+.1f} pts | {target}, ≥ -0.5 pts |"
        )
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
