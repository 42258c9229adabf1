"""Capacity: the server CPU one slider move costs on each page, and from it the cores and replicas that
100 active readers need. Prints a table (the README's capacity table).

    .venv/bin/python bench/capacity.py [--moves 20]

One protocol reader at a time (bench/protocol_session.py: the server's work without a browser) opens a
page, moves a random slider twice to warm its caches, then --moves times, pausing between moves so that
moves never overlap; the server's CPU (its process and any worker processes) is read before and after.
An active reader moves about once per THINK_SECONDS on average plus the update's own time, as in bench/load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The repository root is on the path only now.
from bench.load import THINK_SECONDS, ProtocolReader, Results, percentile, process_tree, total_cpu_seconds  # noqa: E402
from tests.conftest import registered_pages, start_streamlit, stop_streamlit  # noqa: E402

WARM_UP_MOVES = 2
PAUSE_SECONDS = 0.2
READERS = 100


async def cost_of_moves(url: str, title: str, moves: int, server_pid: int) -> tuple[int, float, Results]:
    """(moves made, server CPU ms per move, the timed updates) for `moves` slider moves on one page."""
    reader, rng = ProtocolReader(url), random.Random(0)
    await reader.open(title)
    try:
        for _ in range(WARM_UP_MOVES):
            await reader.move(rng, Results(), title)
        results, done = Results(), 0
        before = total_cpu_seconds(process_tree(server_pid))
        while done < moves and await reader.move(rng, results, title):
            done += 1
            await asyncio.sleep(PAUSE_SECONDS)
        spent = total_cpu_seconds(process_tree(server_pid)) - before
    finally:
        await reader.close()
    return done, 1000 * spent / max(done, 1), results


async def main(moves: int) -> None:
    log_path = Path(tempfile.mkdtemp(prefix="capacity_")) / "server.log"
    process, url = start_streamlit(log_path)
    rows = []
    try:
        for title in registered_pages():
            rows.append((title, *await cost_of_moves(url, title, moves, process.pid)))
    finally:
        stop_streamlit(process)
    think = sum(THINK_SECONDS) / 2
    print(f"Server CPU per slider move, one protocol reader at a time, {moves} moves per page after {WARM_UP_MOVES} "
          f"to warm up; an active reader moves every {think:g} s + the update's time.")
    print()
    print(f"| page | moves | server CPU ms per move | update p50 (s) | cores per {READERS} active readers | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    cores = []
    for title, done, milliseconds, results in rows:
        if not done:  # a page without sliders (Data types): readers there cost nothing between page loads
            print(f"| {title} | 0 | – | – | – | {len(results.errors)} |")
            continue
        period = think + percentile(results.latencies, 50)
        cores.append(READERS * milliseconds / 1000 / period)
        print(f"| {title} | {done} | {milliseconds:.0f} | {percentile(results.latencies, 50):.2f} | {cores[-1]:.2f} | "
              f"{len(results.errors)} |")
    print(f"| readers spread evenly over these pages | | | | {statistics.fmean(cores):.2f} | |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=20, help="timed moves per page")
    arguments = parser.parse_args()
    if not 1 <= arguments.moves <= 500:
        parser.error(f"--moves must be between 1 and 500; got {arguments.moves}")
    asyncio.run(main(arguments.moves))
