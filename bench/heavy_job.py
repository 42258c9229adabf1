"""Heavy work beside light readers: N protocol readers move sliders while one more session starts a heavy job
on the same server; the readers' update times before, during and after it. Prints a table.

    .venv/bin/python bench/heavy_job.py                                              # the default job (below)
    .venv/bin/python bench/heavy_job.py --page "Deep Compression" --widget "Run"    # press a button
    .venv/bin/python bench/heavy_job.py --page "Quantization error" --widget Image --choices flower.jpg

A heavy job shares its server's interpreter with every session of that server; a balancer in front changes
nothing on that server, so this runs one `streamlit run serve.py` directly. Each repeat (--repeats) starts a
fresh server, so the job's result is never cached yet:
1. the readers open their pages (--reader-pages: by default every registered page that starts no background
   job itself, but --page), the heavy session opens --page,
   and the readers move sliders for --warm-up s to fill their pages' caches (not counted);
2. the readers move sliders for --seconds: "before";
3. the heavy session sets --widget to each of --choices in turn (a radio or selectbox; with no --choices it
   presses the button called --widget); its reruns last as long as the jobs; a reader's update whose time
   overlaps them is "during";
4. the readers go on for --seconds: "after".
The default job is the slowest one on main today: the Quantization error page's curve of the average error
against k for an image not seen yet (flower.jpg, 427 × 640): 22 k-means palettes, ~1.5 s of CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import functools
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The repository root is on the path only now.
from bench.load import (  # noqa: E402
    OPEN_TIMEOUT_MS,
    ProtocolReader,
    Results,
    cpu_count,
    cpu_model,
    cpu_seconds,
    open_reader,
    percentile,
    process_tree,
    read,
    rss_mb,
    total_cpu_seconds,
)
from bench.protocol_session import ProtocolSession  # noqa: E402
from tests.conftest import TRACEBACK, registered_pages, start_streamlit, stop_streamlit  # noqa: E402

JOB_TIMEOUT_S = 600
PHASES = ("before", "during", "after")
TARGET_RATIO = 1.25  # the readers' p95 during a heavy job may be at most 25% above before it


@dataclass
class Repeat:
    """One server's run: the readers' updates, the job's seconds, CPU seconds per phase, the job page's errors."""

    results: Results
    job_start: float
    job_end: float
    phase_ends: list[float]  # monotonic times at which before, during and after ended
    server_cpu: list[float]  # the server process's CPU seconds in each phase (its one interpreter)
    workers_cpu: list[float]  # its child processes' (the background pool) in each phase
    load_average: float
    rss_mb: float  # the server's and its workers' resident memory as the job ended
    job_errors: list[str] = field(default_factory=list)
    tracebacks: int = 0


def phase_of(finished: float, seconds: float, job_start: float, job_end: float) -> str:
    """Which phase an update belongs to: during if [finished - seconds, finished] overlaps the job."""
    if finished < job_start:
        return "before"
    if finished - seconds >= job_end:
        return "after"
    return "during"


def cpu_snapshot(pid: int) -> tuple[float, float]:
    """(the server process's CPU seconds, those of its descendants)."""
    own = cpu_seconds(pid)
    return own, max(0.0, total_cpu_seconds(process_tree(pid)) - own)


async def one_repeat(index: int, args: argparse.Namespace, titles: list[str], directory: Path) -> Repeat:
    log_path = directory / f"server{index}.log"
    process, url = start_streamlit(log_path)
    try:
        results = Results()
        new_reader = functools.partial(ProtocolReader, url)
        heavy = await ProtocolSession.connect(url, OPEN_TIMEOUT_MS / 1000)
        opened = await asyncio.gather(
            heavy.open(args.page, JOB_TIMEOUT_S),
            *(open_reader(new_reader, titles[i % len(titles)], 0, results) for i in range(args.readers)),
        )
        readers = [reader for reader in opened[1:] if reader is not None]
        moving = [
            asyncio.create_task(read(reader, titles[i % len(titles)], i, math.inf, results))
            for i, reader in enumerate(readers)
        ]
        await asyncio.sleep(args.warm_up)  # each reader's first moves fill its page's caches: not counted
        results.latencies.clear()
        results.finished.clear()
        snapshots, moments = [cpu_snapshot(process.pid)], []
        await asyncio.sleep(args.seconds)
        job_start = time.monotonic()
        snapshots.append(cpu_snapshot(process.pid))
        moments.append(job_start)
        for choice in args.choices or [None]:
            await heavy.set_widget(args.widget, choice, JOB_TIMEOUT_S)
        job_end = time.monotonic()
        snapshots.append(cpu_snapshot(process.pid))
        memory = sum(rss_mb(pid) for pid in process_tree(process.pid))
        moments.append(job_end)
        await asyncio.sleep(args.seconds)
        for task in moving:
            task.cancel()
        await asyncio.gather(*moving, return_exceptions=True)
        snapshots.append(cpu_snapshot(process.pid))
        moments.append(time.monotonic())
        load_average = os.getloadavg()[0]
        job_errors = heavy.errors()
        await asyncio.gather(heavy.close(), *(reader.close() for reader in readers))
    finally:
        stop_streamlit(process)
    return Repeat(
        results, job_start, job_end, moments,
        [after[0] - before[0] for before, after in zip(snapshots, snapshots[1:])],
        [max(0.0, after[1] - before[1]) for before, after in zip(snapshots, snapshots[1:])],
        load_average, memory, job_errors, log_path.read_text(errors="replace").count(TRACEBACK),
    )  # fmt: skip


def light_pages() -> list[str]:
    """The registered pages that start no background job themselves: where the readers move sliders."""
    return [title for title, path in registered_pages().items() if "run_in_background" not in (ROOT / path).read_text()]


def by_phase(repeats: list[Repeat]) -> dict[str, list[float]]:
    """The readers' update seconds of every repeat, by phase."""
    found = {phase: [] for phase in PHASES}
    for repeat in repeats:
        for seconds, finished in zip(repeat.results.latencies, repeat.results.finished):
            found[phase_of(finished, seconds, repeat.job_start, repeat.job_end)].append(seconds)
    return found


def print_table(args: argparse.Namespace, titles: list[str], repeats: list[Repeat], load_start, load_end) -> None:
    job = f"{args.widget} → {', '.join(args.choices)}" if args.choices else f"press {args.widget!r}"
    print(f"Heavy job on {datetime.date.today()}, {platform.node()}: {cpu_model()}, {cpu_count()} cores shared by the "
          f"server, its workers and the client. {args.readers} protocol readers on {', '.join(titles)} move sliders "
          f"(0.5-1.5 s between moves); one more session on {args.page!r}: {job}. {len(repeats)} repeats, a fresh "
          f"server each. Load average (1, 5, 15 min) {', '.join(f'{x:.1f}' for x in load_start)} at the start, "
          f"{', '.join(f'{x:.1f}' for x in load_end)} at the end.")
    print()
    print("| repeat | job (s) | phase | seconds | updates | p50 (s) | p95 (s) | max (s) | server CPU (cores) | workers CPU (cores) | load average | RSS at job end (MB) |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for number, repeat in enumerate(repeats, 1):
        phases = by_phase([repeat])
        starts = [repeat.phase_ends[0] - args.seconds, *repeat.phase_ends[:-1]]
        for i, phase in enumerate(PHASES):
            span = repeat.phase_ends[i] - starts[i]
            latencies = phases[phase]
            print(f"| {number} | {repeat.job_end - repeat.job_start:.1f} | {phase} | {span:.1f} | {len(latencies)} | "
                  f"{percentile(latencies, 50):.2f} | {percentile(latencies, 95):.2f} | {max(latencies, default=math.nan):.2f} | "
                  f"{repeat.server_cpu[i] / span:.2f} | {repeat.workers_cpu[i] / span:.2f} | {repeat.load_average:.1f} | "
                  f"{repeat.rss_mb:.0f} |")
    phases = by_phase(repeats)
    before, during = percentile(phases["before"], 95), percentile(phases["during"], 95)
    errors = sum(len(repeat.results.errors) for repeat in repeats)
    print()
    print(f"All repeats: p95 before {before:.2f} s ({len(phases['before'])} updates), during {during:.2f} s "
          f"({len(phases['during'])}), after {percentile(phases['after'], 95):.2f} s ({len(phases['after'])}); "
          f"during / before = {during / before:.2f} (target ≤ {TARGET_RATIO}). Reader errors: {errors}; "
          f"job page errors: {sum(len(repeat.job_errors) for repeat in repeats)}; "
          f"server tracebacks: {sum(repeat.tracebacks for repeat in repeats)}.")
    for repeat in repeats:
        for error in [*repeat.results.errors, *repeat.job_errors][:5]:
            print(f"  error: {error}", file=sys.stderr)


async def main(args: argparse.Namespace) -> None:
    titles = args.reader_pages or [title for title in light_pages() if title != args.page]
    directory = Path(tempfile.mkdtemp(prefix="heavy_job_"))
    load_start = os.getloadavg()
    repeats = [await one_repeat(index, args, titles, directory) for index in range(args.repeats)]
    print_table(args, titles, repeats, load_start, os.getloadavg())
    print(f"Server logs: {directory}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", default="Quantization error", help="title of the page that runs the heavy job")
    parser.add_argument("--widget", default="Image", help="label of the radio, selectbox or button that starts it")
    parser.add_argument("--choices", nargs="*", default=["flower.jpg"], help="options to choose in turn; none: press the button")
    parser.add_argument("--readers", type=int, default=10, help="sessions moving sliders")
    parser.add_argument("--reader-pages", nargs="+", default=None, help="their pages (default: those that start no background job)")
    parser.add_argument("--seconds", type=float, default=20, help="length of the before and after phases")
    parser.add_argument("--warm-up", type=float, default=15, help="seconds the readers move before 'before' (not counted)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh servers, one job run each")
    args = parser.parse_args()
    pages = registered_pages()
    unknown = [title for title in [args.page, *(args.reader_pages or [])] if title not in pages]
    if unknown:
        parser.error(f"{unknown} are not registered pages; registered: {list(pages)}")
    if args.page in (args.reader_pages or []):
        parser.error(f"the readers must not be on the heavy job's page {args.page!r}: pass --reader-pages")
    if not 1 <= args.readers <= 100 or not 1 <= args.repeats <= 20 or not 1 <= args.seconds <= 600:
        parser.error("--readers 1-100, --repeats 1-20, --seconds 1-600")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
