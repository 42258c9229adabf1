"""The server's memory under image uploads (issue #20's soak), against the process's cache budget.

One server (the cache budget set through QUANTIZATION_EXPLORER_CACHE_MB); one session uploads N distinct
4 MP JPEGs to Shared colors one after another, then M sessions each open the page, upload one more
and close. The server's RSS is printed after each step, with the peak (sampled every 0.25 s) and the
RSS once the closed sessions have expired (server.disconnectedSessionTTL) and the trimming thread
(ui.memory, every 30 s) has run. Sessions speak Streamlit's websocket protocol (bench.protocol_session):
no browser shares the two cores.

Two baselines: cold (the server just started) and warm, once the server's warm-up (ui/warm_up.py) has logged
that it is done; a server that warms up at start-up is measured then, with no session; one that warms up on
the first visit, after that visit; one that never logs the line, after the first visit alone. Where the RSS
sits is split by /proc/PID/smaps: the main heap, anonymous mappings (glibc's other arenas, large arrays,
Python's object arenas, thread stacks) and files (code and libraries).

With --probe, the server also says what holds its memory (bench/memory_probe: the budget's bytes, uploads
still alive, Streamlit's sessions and caches) when warm, once the sessions have expired, and at the end.

    .venv/bin/python -m bench.memory --uploads 20 --sessions 10 --budget-mb 600
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.load import Target, rss_mb, session_ttl, settled_rss  # noqa: E402
from bench.memory_probe.sitecustomize import PROBE_VARIABLE  # noqa: E402
from bench.protocol_session import ProtocolSession  # noqa: E402
from core.content_cache import BUDGET_VARIABLE  # noqa: E402
from core.images.io import sample_image  # noqa: E402
from tests.conftest import start_streamlit, stop_streamlit  # noqa: E402
from ui.memory import TRIM_SECONDS  # noqa: E402
from ui.warm_up import DONE_MESSAGE  # noqa: E402

PAGE = "Shared colors"
SOURCE_LABEL = "Image"
OWN_IMAGE = "your own image"
PHOTO_SIZE = (2440, 1640)  # 4.0 MP
TIMEOUT = 300
PEAK_INTERVAL = 0.25
HEADROOM_MB = 300  # the allowance for one upload in flight
WARM_UP_PREFIX = "Warm-up"  # every line ui/warm_up.py logs starts so
WARM_UP_START_SECONDS = 60  # a warm-up that logs nothing this long after its start is taken as not running
WARM_UP_TIMEOUT = 900
PROBE_FOLDER = ROOT / "bench" / "memory_probe"


def photo(seed: int) -> bytes:
    """A distinct 4 MP photo as JPEG (quality 90): a sample photo upscaled, shifted, tinted and grained by seed."""
    rng = np.random.default_rng(seed)
    source = sample_image(("china.jpg", "flower.jpg")[seed % 2])
    pixels = np.asarray(Image.fromarray(source).resize(PHOTO_SIZE, Image.Resampling.BICUBIC), dtype=np.int16)
    pixels = np.roll(pixels, rng.integers(0, PHOTO_SIZE[0]), axis=1) + rng.integers(-40, 41, 3)
    pixels = pixels + rng.normal(0, 3, pixels.shape).round().astype(np.int16)
    buffer = io.BytesIO()
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


async def sample_peak(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb(pid))
        await asyncio.sleep(PEAK_INTERVAL)


async def session_on_own_image(url: str) -> ProtocolSession:
    session = await ProtocolSession.connect(url, TIMEOUT)
    await session.open(PAGE, TIMEOUT)
    await session.set_widget(SOURCE_LABEL, OWN_IMAGE, TIMEOUT)
    return session


async def upload(session: ProtocolSession, seed: int) -> float:
    seconds = await session.upload(f"photo_{seed}.jpg", photo(seed), TIMEOUT)
    if session.errors() or f"photo\\_{seed}" not in session.shown_text():
        raise RuntimeError(f"upload {seed} was not shown: {session.errors() or session.shown_text()[:300]}")
    return seconds


async def soak(
    server: Target, uploads: int, sessions: int, settle: float, look: Callable[[str], Awaitable[None]]
) -> tuple[list[tuple[str, float, str]], float, dict]:
    url, (pid,) = server.url, server.servers.values()
    rows: list[tuple[str, float, str]] = []
    peak, stop = [rss_mb(pid)], asyncio.Event()
    sampler = asyncio.create_task(sample_peak(pid, peak, stop))
    first = await session_on_own_image(url)
    rows.append(("session 1 opened Shared colors (sample image)", rss_mb(pid), ""))
    for seed in range(uploads):
        seconds = await upload(first, seed)
        rows.append((f"session 1, upload {seed + 1}", rss_mb(pid), f"{seconds:.1f} s"))
    await first.close()
    for i in range(sessions):
        session = await session_on_own_image(url)
        seconds = await upload(session, uploads + i)
        await session.close()
        rows.append((f"session {i + 2} uploaded one and closed", rss_mb(pid), f"{seconds:.1f} s"))
    stop.set()
    await sampler
    rows.append(("peak (sampled every 0.25 s)", peak[0], ""))
    expired = await settled_rss(server, settle)
    rows.append((f"{settle:.0f} s after the last session closed (sessions expired)", expired, ""))
    await look("sessions expired")
    await asyncio.sleep(TRIM_SECONDS + 5)
    rows.append((f"{TRIM_SECONDS + 5} s later (after a collection and a malloc_trim)", rss_mb(pid), ""))
    await look("the end")
    return rows, peak[0], resident_by_kind(pid)


def resident_by_kind(pid: int) -> dict[str, float]:
    """The process's RSS in MiB by kind of mapping, from /proc/PID/smaps: main heap, anonymous, files."""
    kinds = {"main heap": 0.0, "anonymous": 0.0, "files": 0.0}
    kind = "files"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and not fields[0].endswith(":"):  # a mapping's header: address range, perms, ..., path
            path = fields[5] if len(fields) > 5 else ""
            kind = "main heap" if path == "[heap]" else "anonymous" if not path or path.startswith("[") else "files"
        elif fields[0] == "Rss:":
            kinds[kind] += int(fields[1]) / 1024
    return kinds


async def warm_up_done(log_path: Path) -> bool:
    """True once the server log says the warm-up is done; False if no warm-up line appears within WARM_UP_START_SECONDS."""
    start = time.monotonic()
    while DONE_MESSAGE not in (log := log_path.read_text(errors="replace")):
        waited = time.monotonic() - start
        if waited > WARM_UP_TIMEOUT or (WARM_UP_PREFIX not in log and waited > WARM_UP_START_SECONDS):
            return False
        await asyncio.sleep(0.5)
    return True


async def baselines(url: str, pid: int, log_path: Path) -> tuple[float, float, str]:
    """(cold RSS, warm RSS, how the warm one was reached): cold as the server starts, warm after its warm-up."""
    cold = rss_mb(pid)
    if await warm_up_done(log_path):
        return cold, rss_mb(pid), "the server's own warm-up done, no session"
    visit = await session_on_own_image(url)  # imports the page's libraries, loads the sample image
    await visit.close()
    if await warm_up_done(log_path):
        return cold, rss_mb(pid), f"one visit to {PAGE} and the warm-up of every page it started"
    return cold, rss_mb(pid), f"one visit to {PAGE} (libraries imported, sample image)"


def prober(pid: int, path: Path | None, seen: list[tuple[str, dict]]) -> Callable[[str], Awaitable[None]]:
    """An async look(step) that, with a probe file, has the server append what holds its memory (bench/memory_probe) to
    it and adds (step, that line) to seen; without one, does nothing."""

    async def look(step: str) -> None:
        if path is None:
            return
        count = len(path.read_text().splitlines()) if path.exists() else 0
        os.kill(pid, signal.SIGUSR1)
        while not path.exists() or len(lines := path.read_text().splitlines()) == count:
            await asyncio.sleep(0.2)
        seen.append((step, json.loads(lines[-1])))

    return look


def started_server(log_path: Path) -> tuple[subprocess.Popen, Target]:
    """The server under test, started as the tests start it (its PID is the streamlit process's own)."""
    process, url = start_streamlit(log_path)
    return process, Target("server", url, {"server": process.pid}, [log_path])


async def main(uploads: int, sessions: int, budget_mb: float, settle: float, probe: bool) -> None:
    os.environ[BUDGET_VARIABLE] = f"{budget_mb:g}"
    log_path = Path(tempfile.mkdtemp(prefix="memory_")) / "server.log"
    probe_path = log_path.with_name("probe.jsonl") if probe else None
    if probe_path is not None:
        os.environ[PROBE_VARIABLE] = str(probe_path)
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROBE_FOLDER), os.environ.get("PYTHONPATH")]))
    process, server = started_server(log_path)
    looks: list[tuple[str, dict]] = []
    look = prober(process.pid, probe_path, looks)
    try:
        cold, warm, warmed_by = await baselines(server.url, process.pid, log_path)
        warm_kinds = resident_by_kind(process.pid)
        await look("warm")
        load_start, start = os.getloadavg(), time.monotonic()
        rows, peak, after_kinds = await soak(server, uploads, sessions, settle, look)
        load_end = os.getloadavg()
    finally:
        stop_streamlit(process)
    budget = budget_mb * 1e6 / 2**20  # RSS is printed in MiB, as /proc reports it
    print(f"Memory soak on {datetime.date.today()}: {uploads} distinct 4 MP JPEG uploads in one session, then "
          f"{sessions} sessions uploading one each, on {PAGE}; cache budget {BUDGET_VARIABLE}={budget_mb:g} "
          f"({budget:.0f} MiB); server.disconnectedSessionTTL = {session_ttl()} s; {time.monotonic() - start:.0f} s; "
          f"load average {load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end. Server log: {log_path}")
    print()
    print("| step | server RSS (MiB) | upload + page run |")
    print("|---|---:|---:|")
    print(f"| cold: server started, no session | {cold:.0f} | |")
    print(f"| warm: {warmed_by} | {warm:.0f} | |")
    for step, rss, seconds in rows:
        print(f"| {step} | {rss:.0f} | {seconds} |")
    after = rows[-1][1]
    print()
    for name, base in (("cold", cold), ("warm", warm)):
        print(f"Against {name} {base:.0f} MiB: peak {peak:.0f} ≤ {base + budget + HEADROOM_MB:.0f} "
              f"(+ budget + {HEADROOM_MB}): {'met' if peak <= base + budget + HEADROOM_MB else 'NOT met'}; after expiry "
              f"{after:.0f} ≤ {base + budget:.0f} (+ budget): {'met' if after <= base + budget else 'NOT met'}.")
    print()
    print("| resident (MiB) | warm | after expiry | difference |")
    print("|---|---:|---:|---:|")
    for kind, before in warm_kinds.items():
        print(f"| {kind} | {before:.0f} | {after_kinds[kind]:.0f} | {after_kinds[kind] - before:+.0f} |")
    if looks:
        print()
        print("| probe | RSS (MiB) | budget (MB, entries) | uploads alive | sessions active, stored | AppSessions alive | Streamlit's caches (MB) |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for step, seen in looks:
            caches = ", ".join(f"{name} {mb:.1f}" for name, mb in seen["streamlit_caches_mb"].items())
            print(f"| {step} | {seen['rss_mib']:.0f} | {seen.get('budget_mb', 0):.0f}, {seen.get('budget_entries', 0)} | "
                  f"{seen.get('uploads_alive', 0)} | {seen['sessions_active']}, {seen['sessions_stored']} | "
                  f"{seen['app_sessions_alive']} | {caches} |")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=20, help="distinct 4 MP uploads in the first session")
    parser.add_argument("--sessions", type=int, default=10, help="sessions that then upload one each")
    parser.add_argument("--budget-mb", type=float, default=600, help=f"the cache budget ({BUDGET_VARIABLE}), MB")
    parser.add_argument("--settle", type=float, default=session_ttl() + 10, help="seconds to wait for sessions to expire")
    parser.add_argument("--probe", action="store_true", help="also ask the server what holds its memory (bench/memory_probe)")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    asyncio.run(main(arguments.uploads, arguments.sessions, arguments.budget_mb, arguments.settle, arguments.probe))
