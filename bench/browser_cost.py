"""What one slider move costs, page by page: CPU of chromium's renderer, of the rest of the client
(chromium's other processes, playwright's driver, this script) and of the server, one tab at a time.

    .venv/bin/python bench/browser_cost.py [--moves 10]

Each page is opened in one headless chromium tab, moved twice to warm its caches, then moved --moves
times as bench/load.py's readers move (a random slider, one key press, wait for the text to change).
N tabs moving about once a second ask N times a row's total of the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The repository root is on the path only now.
from bench.load import BrowserReader, Results, client_processes, cpu_seconds, percentile, total_cpu_seconds  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, registered_pages, start_streamlit, stop_streamlit  # noqa: E402

WARM_UP_MOVES = 2


def renderers(pids: list[int]) -> list[int]:
    """The chromium renderer processes (where pages run their JavaScript, lay out and paint) among pids."""
    found = []
    for pid in pids:
        try:
            if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


async def cost_of_moves(reader: BrowserReader, title: str, moves: int, server_pid: int) -> tuple[dict[str, float], Results]:
    """CPU ms per move of the renderer, the rest of the client and the server over `moves` slider moves."""
    rng, results = random.Random(0), Results()
    for _ in range(WARM_UP_MOVES):
        await reader.move(rng, Results(), title)
    client = client_processes(server_pid)
    rendering = renderers(client)
    before = (total_cpu_seconds(rendering), total_cpu_seconds(client), cpu_seconds(server_pid))
    done = 0
    while done < moves and await reader.move(rng, results, title):
        done += 1
    after = (total_cpu_seconds(rendering), total_cpu_seconds(client), cpu_seconds(server_pid))
    renderer, client_total, server = (1000 * (b - a) / max(done, 1) for a, b in zip(before, after))
    return {"moves": done, "renderer": renderer, "rest of client": client_total - renderer, "server": server}, results


async def main(moves: int) -> None:
    from playwright.async_api import async_playwright

    log_path = Path(tempfile.mkdtemp(prefix="browser_cost_")) / "server.log"
    process, url = start_streamlit(log_path)
    rows = []
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for title in registered_pages():
                reader = BrowserReader(browser, url)
                await reader.open(title)
                cost, results = await cost_of_moves(reader, title, moves, process.pid)
                await reader.close()
                rows.append((title, cost, results))
            await browser.close()
    finally:
        stop_streamlit(process)
    print(f"CPU ms per slider move, one chromium tab at a time, {moves} moves per page after {WARM_UP_MOVES} to warm up.")
    print()
    print("| page | moves | renderer | rest of client | server | total | update p50 (s) | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for title, cost, results in rows:
        if not cost["moves"]:
            print(f"| {title} | 0 | - | - | - | - | - | {len(results.errors)} |")
            continue
        total = cost["renderer"] + cost["rest of client"] + cost["server"]
        print(
            f"| {title} | {cost['moves']} | {cost['renderer']:.0f} | {cost['rest of client']:.0f} | {cost['server']:.0f} "
            f"| {total:.0f} | {percentile(results.latencies, 50):.2f} | {len(results.errors)} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=10, help="timed slider moves per page")
    asyncio.run(main(parser.parse_args().moves))
