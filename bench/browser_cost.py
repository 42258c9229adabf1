"""What one slider move costs, page by page: CPU of chromium's renderer, of the rest of the client
(chromium's other processes, playwright's driver, this script) and of the server, one tab at a time.

    .venv/bin/python bench/browser_cost.py [--moves 10] [--before REF]

Two servers run side by side: this tree ("after") and REF's tree ("before", by default the merge base of
HEAD and main: main without this branch's changes), checked out in a temporary `git worktree` that is removed at the end. Each page
is measured on both, one after the other, so the load of the machine falls alike on both tables.
Each page is opened in one headless chromium tab, moved twice to warm its caches, then moved --moves
times as bench/load.py's readers move (a random slider, one key press, wait for the text to change).
N tabs moving about once a second ask N times a row's total of the machine's cores.

Charts far outside the window are drawn when they scroll near, not on every move: --window-height 5000
puts every chart of a page in view, to measure what a move costs a reader who sees them all.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import TimeoutError as PlaywrightTimeoutError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The repository root is on the path only now.
from bench.load import (  # noqa: E402
    UPDATE_TIMEOUT_MS,
    BrowserReader,
    Results,
    client_processes,
    cpu_seconds,
    percentile,
    total_cpu_seconds,
)
from tests.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    IDLE_JS,
    PLOTS_DRAWN_JS,
    VIEWPORT,
    registered_pages,
    start_streamlit,
    stop_streamlit,
)
from ui.warm_up import DONE_MESSAGE  # noqa: E402

WARM_UP_MOVES = 2
WARM_UP_TIMEOUT_SECONDS = 600


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


async def settle(reader: BrowserReader) -> None:
    """Wait until the last move's charts are drawn, so their work is counted with the moves."""
    await reader.page.wait_for_function(IDLE_JS, timeout=UPDATE_TIMEOUT_MS, polling=100)
    try:
        await reader.page.wait_for_function(PLOTS_DRAWN_JS, timeout=UPDATE_TIMEOUT_MS, polling=100)
    except PlaywrightTimeoutError:
        print(f"a chart was still not drawn after {UPDATE_TIMEOUT_MS / 1000:g} s", file=sys.stderr)


def base_commit() -> str:
    """The merge base of HEAD and main: main without this branch's changes (main itself when on main)."""
    return git("merge-base", "HEAD", "main")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):  # ended while we looked
        return None


def without_servers(pids: list[int], server_pids: set[int]) -> list[int]:
    """pids less the servers and their descendants (the workers of run_in_background)."""
    found = []
    for pid in pids:
        ancestor: int | None = pid
        while ancestor not in (None, 0, 1) and ancestor not in server_pids:
            ancestor = parent_of(ancestor)
        if ancestor not in server_pids:
            found.append(pid)
    return found


async def wait_for_warm_up(browser, url: str, root: Path, log_path: Path) -> None:
    """Open the app once, and if this tree warms its pages at start (ui/warm_up.py), wait until it has:
    a warm-up running beside the moves would be measured with them."""
    reader = BrowserReader(browser, url)
    await reader.open_app()
    await reader.close()
    if not (root / "ui" / "warm_up.py").exists():
        return
    deadline = time.monotonic() + WARM_UP_TIMEOUT_SECONDS
    while DONE_MESSAGE not in log_path.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no warm-up line in {log_path} after {WARM_UP_TIMEOUT_SECONDS} s")
        await asyncio.sleep(0.5)


async def measure(
    browser, url: str, server_pids: set[int], server_pid: int, title: str, moves: int, window_height: int
) -> tuple[dict[str, float], Results]:
    reader = BrowserReader(browser, url)
    try:
        await reader.open(title)
        await reader.page.set_viewport_size({**VIEWPORT, "height": window_height})
        rng, results = random.Random(0), Results()
        for _ in range(WARM_UP_MOVES):
            await reader.move(rng, Results(), title)
        await settle(reader)
        client = without_servers(client_processes(server_pid), server_pids)
        rendering = renderers(client)
        before = (total_cpu_seconds(rendering), total_cpu_seconds(client), cpu_seconds(server_pid))
        done = 0
        while done < moves and await reader.move(rng, results, title):
            done += 1
        await settle(reader)
        after = (total_cpu_seconds(rendering), total_cpu_seconds(client), cpu_seconds(server_pid))
    finally:
        await reader.close()
    renderer, client_total, server = (1000 * (b - a) / max(done, 1) for a, b in zip(before, after))
    return {"moves": done, "renderer": renderer, "rest of client": client_total - renderer, "server": server}, results


def print_table(name: str, rows: list[tuple[str, dict[str, float], Results]], baseline: dict[str, float] | None) -> None:
    print(f"### {name}")
    print()
    ratio = " | browser vs before" if baseline else ""
    print(f"| page | moves | renderer | rest of client | server | total | browser CPU | update p50 (s) | errors{ratio} |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if baseline else ""))
    for title, cost, results in rows:
        if not cost["moves"]:
            print(f"| {title} | 0 | - | - | - | - | - | - | {len(results.errors)}{' | -' if baseline else ''} |")
            continue
        browser = cost["renderer"] + cost["rest of client"]
        total = browser + cost["server"]
        compared = f" | {browser / baseline[title]:.2f}×" if baseline and baseline.get(title) else (" | -" if baseline else "")
        print(
            f"| {title} | {cost['moves']} | {cost['renderer']:.0f} | {cost['rest of client']:.0f} | {cost['server']:.0f} "
            f"| {total:.0f} | {browser:.0f} | {percentile(results.latencies, 50):.2f} | {len(results.errors)}{compared} |"
        )
    print()


def chapter_titles(root: Path) -> set[str]:
    """The page titles of the tree at root (its ui/story.py's chapters, read as text: it may be an older tree)."""
    return set(re.findall(r'Chapter\(\s*"[^"]+",\s*"([^"]+)"', (root / "ui" / "story.py").read_text()))


async def main(moves: int, before_ref: str, only: list[str], window_height: int) -> None:
    from playwright.async_api import async_playwright

    work = Path(tempfile.mkdtemp(prefix="browser_cost_"))
    before_tree = work / "before"
    git("worktree", "add", "--detach", str(before_tree), before_ref)
    servers = {}
    rows: dict[str, list] = {"before": [], "after": []}
    try:
        for name, root in (("before", before_tree), ("after", ROOT)):
            servers[name] = start_streamlit(work / f"{name}.log", root=root)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for name, (process, url) in servers.items():
                await wait_for_warm_up(browser, url, before_tree if name == "before" else ROOT, work / f"{name}.log")
            for title in [title for title in registered_pages() if not only or title in only]:
                for name, (process, url) in servers.items():
                    if name == "before" and title not in chapter_titles(before_tree):
                        continue  # a page the older tree does not have
                    server_pids = {process.pid for process, _ in servers.values()}
                    cost, results = await measure(browser, url, server_pids, process.pid, title, moves, window_height)
                    rows[name].append((title, cost, results))
            await browser.close()
    finally:
        for process, _ in servers.values():
            stop_streamlit(process)
        git("worktree", "remove", "--force", str(before_tree))
    print(
        f"CPU ms per slider move, one chromium tab ({VIEWPORT['width']}×{window_height}) at a time, {moves} moves per page "
        f"after {WARM_UP_MOVES} to warm up;"
    )
    print("browser CPU = renderer + rest of client (chromium's other processes, playwright, this script).")
    print()
    print_table(f"before: {git('rev-parse', '--short', before_ref)}", rows["before"], None)
    baseline = {title: cost["renderer"] + cost["rest of client"] for title, cost, _ in rows["before"] if cost["moves"]}
    print_table(f"after: this tree ({git('rev-parse', '--short', 'HEAD')} + uncommitted changes)", rows["after"], baseline)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=10, help="timed slider moves per page")
    parser.add_argument("--before", default=None, help="git ref of the tree to compare with (default: where this branch left main)")
    parser.add_argument("--page", action="append", default=[], help="measure only this page (repeatable)")
    parser.add_argument("--window-height", type=int, default=VIEWPORT["height"], help="the tab's height in px (default %(default)s)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.moves, arguments.before or base_commit(), arguments.page, arguments.window_height))
