"""Load: one `streamlit run serve.py`, N sessions at once moving sliders and drawing; prints a table.

Each round of N sessions (each its own Streamlit session on one of the registered pages) has phases:
1. open: the sessions arrive evenly over --ramp s and open their page (the app, then its sidebar link);
2. barrier: the sessions wait until every one has opened or failed (each open is bounded);
3. move, all at once for --seconds: a session draws on the canvas if its page has one, then moves a
   random slider one step, timing how long the text shown takes to change, and pauses 0.5–1.5 s, as a
   reader would (a session on a page without sliders only waits);
4. end: the sessions close, and the server's RSS is read once it has dropped them: Streamlit keeps a
   closed session for server.disconnectedSessionTTL s and frees it at the next disconnect after that,
   so after --settle s one short extra connection opens and closes (a later visitor leaving).

Two clients (--client):
- chromium: one headless chromium, one context per session, slider moved with the keyboard; the time
  runs from the key press until the page's text changed, so it includes the browser's own work, and
  the browser shares the machine's cores with the server.
- protocol: bench/protocol_session.py speaks Streamlit's websocket protocol without a browser; the
  time runs from sending the rerun until script_finished arrives. This is the server's time (plus
  parsing the messages), as 30 readers on 30 machines would see it.

    .venv/bin/python bench/load.py                                  # chromium, N = 1, 10, 30
    .venv/bin/python bench/load.py --client protocol                # the server alone
    .venv/bin/python bench/load.py --sessions 5 --seconds 10 --settle 0
    .venv/bin/python bench/load.py --floor --sessions 30            # the rig alone: a one-slider app
    .venv/bin/python bench/load.py --client protocol --balanced 1 2 --sessions 30 60 100 --settle 0

--balanced puts HAProxy (deploy/haproxy.cfg, as deployed) in front: `--balanced 1 2` starts one server
process behind it and, beside it, two replicas, and runs each N on both before the next N (side by side,
under the same load from the rest of the machine); the table gives each replica's CPU and the balancer's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import functools
import os
import platform
import random
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The repository root is on the path only now.
from bench.protocol_session import CANVAS_SIDE, ProtocolError, ProtocolSession  # noqa: E402
from tests.balancer import Cluster  # noqa: E402
from tests.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    IDLE_JS,
    SHOWN_TEXT_JS,
    SLIDERS_THAT_CHANGE_NO_NUMBER,
    TRACEBACK,
    VIEWPORT,
    registered_pages,
    start_streamlit,
    stop_streamlit,
)

MAX_SESSIONS = 150
OPEN_TIMEOUT_MS = 180_000
UPDATE_TIMEOUT_MS = 30_000
THINK_SECONDS = (0.5, 1.5)
CHANGED_JS = f"previous => ({IDLE_JS})() && ({SHOWN_TEXT_JS})() !== previous"
SLIDERS_JS = """() => [...document.querySelectorAll('[data-testid=stSlider]')].map((slider, index) => {
  const thumb = slider.querySelector('input[type=range]');
  return {
    index,
    label: slider.querySelector('[data-testid=stWidgetLabel]')?.innerText.trim() ?? '',
    usable: thumb !== null && !thumb.disabled && slider.checkVisibility() && !slider.closest('[data-testid=stForm]'),
    value: thumb?.value, min: thumb?.min, max: thumb?.max,
  };
})"""
# Focus the index-th slider's thumb and return the text shown, in one round trip.
FOCUS_THUMB_JS = f"""index => {{
  document.querySelectorAll('[data-testid=stSlider]')[index].querySelector('input[type=range]').focus();
  return ({SHOWN_TEXT_JS})();
}}"""
ERRORS_SHOWN = "[data-testid=stException], [data-testid=stAlertContentError]"
PEN_WIDTH = 18  # chapters/autoencoder.py's default
SEED = 0
STREAMLIT_SESSION_TTL = 120  # server.disconnectedSessionTTL when .streamlit/config.toml does not set it
SETTLE_MARGIN = 10  # seconds past the TTL before the extra connection that lets the server drop the sessions
FLOOR_APP, FLOOR_PAGE = "bench/floor_app.py", "One slider"


@dataclass
class Results:
    """What the sessions of one round measured: update latencies in seconds and error descriptions."""

    latencies: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)  # time.monotonic() when each of those updates arrived
    errors: list[str] = field(default_factory=list)
    opens: list[float] = field(default_factory=list)  # seconds from loading the app to the page's first full run
    peak_mb: float = 0.0  # the servers' largest RSS (summed) during the round
    server_cpu_share: float = 0.0  # server CPU seconds per wall-clock second of the move phase (1.0 = one core)
    replica_cpu_shares: list[float] = field(default_factory=list)  # the same for each server process (with its workers)
    balancer_cpu_share: float = 0.0  # the same for HAProxy, when the readers go through it
    client_cpu_share: float = 0.0  # the same for the client (this script and its children), on the same cores
    load_average: float = 0.0  # the machine's 1-minute load average as the move phase ended (other work included)

    def record(self, seconds: float) -> None:
        """One update that took seconds and has just arrived."""
        self.latencies.append(seconds)
        self.finished.append(time.monotonic())


class BrowserReader:
    """A reader in its own chromium context: opens a page by its sidebar link, draws, moves sliders by keyboard."""

    def __init__(self, browser, url: str) -> None:
        self.browser = browser
        self.url = url
        self.context = None
        self.page = None

    async def open_app(self) -> None:
        """Load the app's landing page in a new context and wait for its first run to finish."""
        self.context = await self.browser.new_context(viewport=VIEWPORT)
        page = self.page = await self.context.new_page()
        await page.goto(self.url + "/", timeout=OPEN_TIMEOUT_MS, wait_until="domcontentloaded")
        await page.wait_for_function(IDLE_JS, timeout=OPEN_TIMEOUT_MS, polling=200)

    async def open(self, title: str) -> None:
        """Load the app and follow the sidebar link to title, waiting for the page's first run to finish."""
        await self.open_app()
        page = self.page
        home = await page.locator("[data-testid=stMain] h1").inner_text()
        await page.locator("[data-testid=stSidebarNav] a").filter(has=page.get_by_text(title, exact=True)).click()
        await page.wait_for_function(
            "home => document.querySelector('[data-testid=stMain] h1')?.innerText !== home",
            arg=home,
            timeout=OPEN_TIMEOUT_MS,
        )
        await page.wait_for_function(IDLE_JS, timeout=OPEN_TIMEOUT_MS, polling=200)

    async def timed_update(self, action, results: Results, what: str) -> None:
        """Run action (a stroke) and record how long until the text shown changes."""
        previous = await self.page.evaluate(SHOWN_TEXT_JS)
        start = time.perf_counter()
        await action()
        await self.wait_changed(previous, start, results, what)

    async def wait_changed(self, previous: str, start: float, results: Results, what: str) -> None:
        """Record the seconds from start until the text shown differs from previous, or an error after a timeout."""
        try:
            await self.page.wait_for_function(CHANGED_JS, arg=previous, timeout=UPDATE_TIMEOUT_MS, polling=100)
        except Exception:
            results.errors.append(f"{what}: no update within {UPDATE_TIMEOUT_MS / 1000:g} s")
            return
        results.record(time.perf_counter() - start)
        results.errors += [f"{what}: {text[:200]}" for text in await self.errors()]

    async def errors(self) -> list[str]:
        """Texts of the exception and st.error elements on the page."""
        return await self.page.locator(ERRORS_SHOWN).all_inner_texts()

    async def draw(self, rng: random.Random, results: Results, what: str) -> None:
        """One vertical stroke on the canvas, if the page has one, timed like a slider move."""
        if not await self.page.locator("canvas.upper-canvas").count():
            return

        async def stroke() -> None:
            box = await self.page.locator("canvas.upper-canvas").bounding_box()
            x = box["x"] + box["width"] * rng.uniform(0.3, 0.7)
            await self.page.mouse.move(x, box["y"] + box["height"] * 0.2)
            await self.page.mouse.down()
            await self.page.mouse.move(x + rng.uniform(-40, 40), box["y"] + box["height"] * 0.8, steps=10)
            await self.page.mouse.up()

        await self.timed_update(stroke, results, f"{what}: drawing")

    async def move(self, rng: random.Random, results: Results, what: str) -> bool:
        """Move a random visible, enabled slider outside a form one step with the keyboard; False if the page has none."""
        # One evaluate per step, not a locator call per slider and attribute: with the cheaper text probe
        # this halved the client's CPU outside the renderer (~100 -> ~50 ms a move on the Weights page).
        sliders = [
            slider
            for slider in await self.page.evaluate(SLIDERS_JS)
            if slider["label"] not in SLIDERS_THAT_CHANGE_NO_NUMBER and slider["usable"]
        ]
        if not sliders:
            return False
        slider = rng.choice(sliders)
        value, bottom, top = slider["value"], slider["min"], slider["max"]
        key = "ArrowLeft" if value == top or (value != bottom and rng.random() < 0.5) else "ArrowRight"
        previous = await self.page.evaluate(FOCUS_THUMB_JS, slider["index"])
        start = time.perf_counter()
        await self.page.keyboard.press(key)
        await self.wait_changed(previous, start, results, f"{what}: {slider['label']} {key}")
        return True

    async def close(self) -> None:
        if self.context is not None:
            await self.context.close()


class ProtocolReader:
    """A reader speaking Streamlit's websocket protocol: the same choices as BrowserReader, no rendering."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session: ProtocolSession | None = None

    async def open(self, title: str) -> None:
        """Connect as a browser would, run the app's default page, then the page called title."""
        self.session = await ProtocolSession.connect(self.url, OPEN_TIMEOUT_MS / 1000)
        await self.session.open(title, OPEN_TIMEOUT_MS / 1000)

    async def timed_update(self, action, results: Results, what: str) -> None:
        """Await action() (a rerun, returning its seconds) and record them if the text shown changed."""
        previous = self.session.shown_text()
        try:
            seconds = await action()
        except ProtocolError as error:
            results.errors.append(f"{what}: {error}")
            return
        if self.session.shown_text() == previous:
            results.errors.append(f"{what}: the text shown did not change")
        else:
            results.record(seconds)
        results.errors += [f"{what}: {text[:200]}" for text in await self.errors()]

    async def errors(self) -> list[str]:
        """Texts of the exception and st.error elements of the last run."""
        return self.session.errors()

    async def draw(self, rng: random.Random, results: Results, what: str) -> None:
        """The canvas state after one stroke like BrowserReader's, if the page has a canvas, timed as a move."""
        canvas = self.session.canvas_id()
        if canvas is None:
            return
        x, dx = rng.uniform(0.3, 0.7) * CANVAS_SIDE, rng.uniform(-40, 40)
        stroke = functools.partial(self.session.draw, canvas, x, dx, PEN_WIDTH, UPDATE_TIMEOUT_MS / 1000)
        await self.timed_update(stroke, results, f"{what}: drawing")

    async def move(self, rng: random.Random, results: Results, what: str) -> bool:
        """Move a random enabled slider outside a form one step; False if the page has none."""
        sliders = [
            slider
            for slider in self.session.sliders()
            if slider.label not in SLIDERS_THAT_CHANGE_NO_NUMBER and not slider.disabled and not slider.in_form
        ]
        if not sliders:
            return False
        slider = rng.choice(sliders)
        left = slider.value == slider.high or (slider.value != slider.low and rng.random() < 0.5)
        step = -1 if left else 1
        move = functools.partial(self.session.move, slider, step, UPDATE_TIMEOUT_MS / 1000)
        await self.timed_update(move, results, f"{what}: {slider.label} {step:+d}")
        return True

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, in seconds, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def parents() -> dict[int, int]:
    """{pid: parent pid} of every process now running."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            found[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):  # the process ended while we looked
            continue
    return found


def descends_from(pid: int, ancestors: set[int], parent_of: dict[int, int]) -> bool:
    """Whether pid is one of ancestors or below one of them."""
    while pid not in (None, 0, 1):
        if pid in ancestors:
            return True
        pid = parent_of.get(pid)
    return False


def client_processes(*server_pids: int) -> list[int]:
    """This script and its descendants except the servers and theirs (chromium and its helpers, playwright's driver)."""
    parent_of, servers = parents(), set(server_pids)
    return [
        pid
        for pid in parent_of
        if descends_from(pid, {os.getpid()}, parent_of) and not descends_from(pid, servers, parent_of)
    ]


def process_tree(pid: int) -> list[int]:
    """pid and its descendants: a server and the worker processes of its background pool."""
    parent_of = parents()
    return [other for other in parent_of if descends_from(other, {pid}, parent_of)]


def total_cpu_seconds(pids: list[int]) -> float:
    """CPU seconds used so far by the processes that still exist among pids."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0…100) of values by linear interpolation; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def session_ttl() -> int:
    """server.disconnectedSessionTTL as the server reads it: .streamlit/config.toml, else Streamlit's default."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    return int(config.get("server", {}).get("disconnectedSessionTTL", STREAMLIT_SESSION_TTL))


@dataclass
class Target:
    """What the readers connect to: a base URL, the server processes behind it by name, and their logs."""

    label: str
    url: str
    servers: dict[str, int]  # name -> PID of a `streamlit run`
    logs: list[Path]
    balancer: int | None = None  # HAProxy's PID, when url is the balancer's

    def rss_mb(self) -> float:
        return sum(rss_mb(pid) for pid in self.servers.values())

    def log_text(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.logs)


async def sample_peak(target: Target, stop: asyncio.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], target.rss_mb())
        await asyncio.sleep(0.5)


async def open_reader(new_reader, title: str, delay: float, results: Results):
    """After delay s, a new reader opens title; returns it, or None (error recorded, reader closed) if it failed."""
    await asyncio.sleep(delay)
    reader = new_reader()
    start = time.monotonic()
    try:
        await reader.open(title)
    except Exception as error:  # a failed open is a result to report, not a reason to stop
        results.errors.append(f"{title}: open: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
        await reader.close()
        return None
    results.opens.append(time.monotonic() - start)
    results.errors += [f"{title}: open: {text[:200]}" for text in await reader.errors()]
    return reader


async def read(reader, title: str, seed: int, deadline: float, results: Results) -> None:
    """Draw if the page has a canvas, then move random sliders until deadline, pausing as a reader would."""
    rng = random.Random(seed)
    try:
        await reader.draw(rng, results, title)
        while time.monotonic() < deadline and await reader.move(rng, results, title):
            await asyncio.sleep(rng.uniform(*THINK_SECONDS))
    except Exception as error:  # a crashed or stuck session is a result to report, not a reason to stop
        results.errors.append(f"{title}: {type(error).__name__}: {str(error).splitlines()[0][:200]}")


class CpuMeter:
    """CPU shares (cores) of each server (with its worker processes), the balancer and the client over a span."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.start = self._read()

    def _read(self) -> tuple[float, list[float], float, float]:
        servers = [total_cpu_seconds(process_tree(pid)) for pid in self.target.servers.values()]
        balancer = cpu_seconds(self.target.balancer) if self.target.balancer else 0.0
        client = total_cpu_seconds(client_processes(*self.target.servers.values(), *filter(None, [self.target.balancer])))
        return time.monotonic(), servers, balancer, client

    def shares(self, results: Results) -> None:
        """Fill results' CPU shares with what was used since this meter was made."""
        (start, servers, balancer, client), (end, servers_now, balancer_now, client_now) = self.start, self._read()
        elapsed = end - start
        results.replica_cpu_shares = [(now - then) / elapsed for then, now in zip(servers, servers_now)]
        results.server_cpu_share = sum(results.replica_cpu_shares)
        results.balancer_cpu_share = (balancer_now - balancer) / elapsed
        results.client_cpu_share = (client_now - client) / elapsed


async def round_of(new_reader, target: Target, titles: list[str], n: int, seconds: float, ramp: float) -> Results:
    """N readers open their pages (arriving over ramp s), then all move sliders for `seconds`; then they close."""
    results = Results()
    stop, peak = asyncio.Event(), [target.rss_mb()]
    sampler = asyncio.create_task(sample_peak(target, stop, peak))
    pages = [titles[i % len(titles)] for i in range(n)]
    readers = await asyncio.gather(
        *(open_reader(new_reader, pages[i], ramp * i / n, results) for i in range(n))
    )  # the barrier: every open has finished or failed within OPEN_TIMEOUT_MS
    meter, start = CpuMeter(target), time.monotonic()
    await asyncio.gather(
        *(read(reader, pages[i], SEED + i, start + seconds, results) for i, reader in enumerate(readers) if reader)
    )
    meter.shares(results)
    results.load_average = os.getloadavg()[0]
    await asyncio.gather(*(reader.close() for reader in readers if reader))
    stop.set()
    await sampler
    results.peak_mb = peak[0]
    return results


async def settled_rss(target: Target, settle: float) -> float:
    """The servers' RSS in MB once they have dropped the closed sessions: after settle s, one connection opens
    and closes, which is when Streamlit removes the sessions whose disconnectedSessionTTL has passed."""
    await asyncio.sleep(settle)
    visitor = await ProtocolSession.connect(target.url, OPEN_TIMEOUT_MS / 1000)
    await visitor.close()
    await asyncio.sleep(1)
    return target.rss_mb()


@contextlib.contextmanager
def started_targets(script: str, balanced: list[int] | None) -> Iterator[list[Target]]:
    """One `streamlit run script` reached directly, or (balanced = [1, 2]...) for each count, that many server
    processes behind HAProxy from deploy/haproxy.cfg; all stopped afterwards by their PIDs."""
    directory = Path(tempfile.mkdtemp(prefix="load_"))
    with contextlib.ExitStack() as stack:
        if balanced is None:
            log_path = directory / "server.log"
            process, url = start_streamlit(log_path, script)
            stack.callback(stop_streamlit, process)
            yield [Target(script, url, {"server": process.pid}, [log_path])]
            return
        targets = []
        for processes in balanced:
            (directory / str(processes)).mkdir()
            cluster = stack.enter_context(Cluster.start(directory / str(processes), processes))
            label = "1 process" if processes == 1 else f"{processes} replicas"
            servers = {name: process.pid for name, process in cluster.replicas.items()}
            targets.append(Target(label, cluster.url, servers, list(cluster.logs.values()), cluster.haproxy.pid))
        yield targets


async def main(
    client: str, sessions: list[int], seconds: float, ramp: float, settle: float, script: str, titles: list[str],
    balanced: list[int] | None,
) -> None:  # fmt: skip
    rows = []
    with started_targets(script, balanced) as targets:
        async with contextlib.AsyncExitStack() as stack:
            if client == "chromium":
                from playwright.async_api import async_playwright

                playwright = await stack.enter_async_context(async_playwright())
                browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                stack.push_async_callback(browser.close)
                reader_class = functools.partial(BrowserReader, browser)
            else:
                reader_class = ProtocolReader
            load_start, baselines, warm_ups = os.getloadavg(), {}, {}
            for target in targets:
                cold = target.rss_mb()
                # Every page once on every server (the balancer spreads the readers).
                warm_up = await round_of(functools.partial(reader_class, target.url), target, titles, len(titles) * len(target.servers), 0, 0)
                warm_ups[target.label] = (cold, warm_up, target.log_text().count(TRACEBACK))
                for error in warm_up.errors[:5]:
                    print(f"  {target.label}: warm-up error: {error}", file=sys.stderr)
                baselines[target.label] = await settled_rss(target, settle)
            for n in sessions:
                for target in targets:  # side by side: each N on every target before the next N
                    before, log_start = target.rss_mb(), len(target.log_text())
                    results = await round_of(functools.partial(reader_class, target.url), target, titles, n, seconds, ramp)
                    after = await settled_rss(target, settle)
                    tracebacks = target.log_text()[log_start:].count(TRACEBACK)
                    rows.append((target, n, results, tracebacks, before, after))
                    for error in results.errors[:5]:
                        print(f"  {target.label} N={n} error: {error}", file=sys.stderr)
        load_end = os.getloadavg()

    through = " through HAProxy (deploy/haproxy.cfg)" if balanced else ""
    print(f"Load on {datetime.date.today()}, {platform.node()}: {cpu_model()}, {cpu_count()} cores shared by the "
          f"server(s), the balancer and the {client} client; sessions open their pages{through}, arriving over "
          f"{ramp:g} s, then all move sliders for {seconds:g} s; app {script}, pages: {', '.join(titles)}.")
    print(f"Server logs: {', '.join(str(path) for target in targets for path in target.logs)}")
    for label, (cold, warm_up, tracebacks) in warm_ups.items():
        print(f"{label}: RSS {cold:.0f} MB cold, {baselines[label]:.0f} MB after one visit to every page (baseline); "
              f"warm-up {len(warm_up.errors)} errors, {tracebacks} tracebacks.")
    print(f"'RSS after' is read {settle:g} s after the sessions closed (server.disconnectedSessionTTL = "
          f"{session_ttl()} s), once one more connection has let the servers drop them. Load average (1, 5, 15 min) "
          f"{', '.join(f'{x:.1f}' for x in load_start)} at the start, {', '.join(f'{x:.1f}' for x in load_end)} at the end.")
    print()
    columns = [
        "client", "servers", "sessions", "page open p50 (s)", "page open p95 (s)", "updates", "p50 (s)", "p95 (s)",
        "max (s)", "errors", "tracebacks", "server CPU (cores)", "per replica", "balancer CPU", "client CPU (cores)",
        "load average", "RSS before (MB)", "RSS peak (MB)", "RSS after (MB)", "after / baseline",
    ]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|---|---|" + "---:|" * (len(columns) - 2))
    for target, n, results, tracebacks, before, after in rows:
        latencies = results.latencies
        cells = [
            client, target.label, n, f"{percentile(results.opens, 50):.1f}", f"{percentile(results.opens, 95):.1f}",
            len(latencies), f"{percentile(latencies, 50):.2f}", f"{percentile(latencies, 95):.2f}",
            f"{max(latencies, default=float('nan')):.2f}", len(results.errors), tracebacks,
            f"{results.server_cpu_share:.2f}", " / ".join(f"{share:.2f}" for share in results.replica_cpu_shares),
            f"{results.balancer_cpu_share:.2f}", f"{results.client_cpu_share:.2f}", f"{results.load_average:.1f}",
            f"{before:.0f}", f"{results.peak_mb:.0f}", f"{after:.0f}", f"{after / baselines[target.label]:.2f}",
        ]  # fmt: skip
        print("| " + " | ".join(map(str, cells)) + " |")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=["chromium", "protocol"], default="chromium", help="who plays the readers")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30], help="N for each round")
    parser.add_argument("--seconds", type=float, default=30, help="how long each round moves sliders")
    parser.add_argument("--ramp", type=float, default=10, help="seconds over which the sessions of a round arrive")
    parser.add_argument(
        "--settle", type=float, default=session_ttl() + SETTLE_MARGIN,
        help="seconds after a round before RSS is read (default: the server's disconnectedSessionTTL + 10)",
    )  # fmt: skip
    parser.add_argument("--pages", nargs="+", default=None, help="titles of the pages to spread sessions over (default: all)")
    parser.add_argument("--floor", action="store_true", help=f"drive {FLOOR_APP} (one slider) instead of app.py")
    parser.add_argument(
        "--balanced", type=int, nargs="+", choices=[1, 2], default=None,
        help="go through HAProxy (deploy/haproxy.cfg) to this many server processes; several values run side by side",
    )  # fmt: skip
    args = parser.parse_args()
    if not all(1 <= n <= MAX_SESSIONS for n in args.sessions):
        parser.error(f"--sessions must be between 1 and {MAX_SESSIONS}; got {args.sessions}")
    if not 1 <= args.seconds <= 600:
        parser.error(f"--seconds must be between 1 and 600; got {args.seconds}")
    if not 0 <= args.settle <= 900:
        parser.error(f"--settle must be between 0 and 900; got {args.settle}")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.floor:
        script, chosen = FLOOR_APP, [FLOOR_PAGE]
    else:
        pages = registered_pages()
        script, chosen = "serve.py", arguments.pages or list(pages)
        unknown = [title for title in chosen if title not in pages]
        if unknown:
            sys.exit(f"--pages: {unknown} are not registered in app.py; registered: {list(pages)}")
    asyncio.run(
        main(
            arguments.client, arguments.sessions, arguments.seconds, arguments.ramp, arguments.settle, script, chosen,
            arguments.balanced,
        )
    )
