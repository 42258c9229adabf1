"""Load: one `streamlit run app.py`, N browser sessions at once moving sliders and drawing; prints a table.

For each N every session (its own browser context, so its own Streamlit session) opens one of the
registered pages (the N sessions arrive evenly over --ramp seconds), draws on the canvas if the page
has one, then until the time is up moves a random
slider by one step with the keyboard and times how long the numbers shown take to change (a session
on a page without sliders only opens it). Between moves a session pauses 0.5–1.5 s, as a reader would.
One chromium, loopback only, at most MAX_SESSIONS contexts, every wait bounded.

    .venv/bin/python bench/load.py                      # N = 1, 10, 30 for 30 s each
    .venv/bin/python bench/load.py --sessions 5 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import (  # noqa: E402  (the repository root is on the path only now)
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

MAX_SESSIONS = 50
OPEN_TIMEOUT_MS = 180_000
UPDATE_TIMEOUT_MS = 30_000
THINK_SECONDS = (0.5, 1.5)
CHANGED_JS = f"previous => ({IDLE_JS})() && ({SHOWN_TEXT_JS})() !== previous"
ERRORS_SHOWN = "[data-testid=stException], [data-testid=stAlertContentError]"
SEED = 0


@dataclass
class Results:
    """What the sessions of one round measured: update latencies in seconds and error descriptions."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    opens: list[float] = field(default_factory=list)  # seconds from loading the app to the page's first full run
    peak_mb: float = 0.0  # the server's largest RSS while the sessions ran
    server_cpu_share: float = 0.0  # server CPU seconds per wall-clock second (1.0 = one core busy)
    browser_cpu_share: float = 0.0  # the same for chromium, which shares the cores with the server
    load_average: float = 0.0  # the machine's 1-minute load average as the round ended (other work included)


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


def browser_cpu_seconds(server_pid: int) -> float:
    """CPU seconds used so far by this script's descendants except the server: chromium and its helpers."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):  # the process ended while we looked
            continue
    total = 0.0
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, os.getpid()):
            ancestor = parents.get(ancestor)
        if ancestor == os.getpid() and pid != server_pid:
            try:
                total += cpu_seconds(pid)
            except OSError:
                continue
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


async def timed_update(page, action, results: Results, what: str) -> None:
    """Run action (a key press or a stroke) and record how long until the text shown changes."""
    previous = await page.evaluate(SHOWN_TEXT_JS)
    start = time.perf_counter()
    await action()
    try:
        await page.wait_for_function(CHANGED_JS, arg=previous, timeout=UPDATE_TIMEOUT_MS, polling=100)
    except Exception:
        results.errors.append(f"{what}: no update within {UPDATE_TIMEOUT_MS / 1000:g} s")
        return
    results.latencies.append(time.perf_counter() - start)
    shown = await page.locator(ERRORS_SHOWN).all_inner_texts()
    results.errors += [f"{what}: {text[:200]}" for text in shown]


async def open_page(page, url: str, title: str) -> None:
    """Load the app and follow the sidebar link to title, waiting for the page's first run to finish."""
    await page.goto(url + "/", timeout=OPEN_TIMEOUT_MS, wait_until="domcontentloaded")
    await page.wait_for_function(IDLE_JS, timeout=OPEN_TIMEOUT_MS, polling=200)
    home = await page.locator("[data-testid=stMain] h1").inner_text()
    await page.locator("[data-testid=stSidebarNav] a").filter(has=page.get_by_text(title, exact=True)).click()
    await page.wait_for_function(
        "home => document.querySelector('[data-testid=stMain] h1')?.innerText !== home",
        arg=home,
        timeout=OPEN_TIMEOUT_MS,
    )
    await page.wait_for_function(IDLE_JS, timeout=OPEN_TIMEOUT_MS, polling=200)


async def draw_stroke(page, rng: random.Random) -> None:
    box = await page.locator("canvas.upper-canvas").bounding_box()
    x = box["x"] + box["width"] * rng.uniform(0.3, 0.7)
    await page.mouse.move(x, box["y"] + box["height"] * 0.2)
    await page.mouse.down()
    await page.mouse.move(x + rng.uniform(-40, 40), box["y"] + box["height"] * 0.8, steps=10)
    await page.mouse.up()


async def movable_sliders(page) -> list:
    """Visible, enabled sliders whose moves change the numbers shown."""
    found = []
    for slider in await page.locator("[data-testid=stSlider]").all():
        label = (await slider.locator("[data-testid=stWidgetLabel]").inner_text()).strip()
        thumb = slider.locator("input[type=range]")
        if label not in SLIDERS_THAT_CHANGE_NO_NUMBER and await slider.is_visible() and await thumb.is_enabled():
            found.append((label, thumb))
    return found


async def session(browser, url: str, title: str, seed: int, delay: float, seconds: float, results: Results) -> None:
    """One reader on one page: after `delay` s, open it, draw if there is a canvas, then move sliders for `seconds`."""
    rng = random.Random(seed)
    await asyncio.sleep(delay)
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    try:
        start = time.monotonic()
        await open_page(page, url, title)
        results.opens.append(time.monotonic() - start)
        deadline = time.monotonic() + seconds
        if await page.locator("canvas.upper-canvas").count():
            await timed_update(page, lambda: draw_stroke(page, rng), results, f"{title}: drawing")
        while time.monotonic() < deadline:
            sliders = await movable_sliders(page)
            if not sliders:
                return
            label, thumb = rng.choice(sliders)
            value, bottom, top = [await thumb.get_attribute(name) for name in ("value", "min", "max")]
            key = "ArrowLeft" if value == top or (value != bottom and rng.random() < 0.5) else "ArrowRight"

            async def press(thumb=thumb, key=key) -> None:
                await thumb.focus()
                await page.keyboard.press(key)

            await timed_update(page, press, results, f"{title}: {label} {key}")
            await asyncio.sleep(rng.uniform(*THINK_SECONDS))
    except Exception as error:  # a crashed or stuck session is a result to report, not a reason to stop
        results.errors.append(f"{title}: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
    finally:
        await context.close()


async def sample_peak(pid: int, stop: asyncio.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb(pid))
        await asyncio.sleep(0.5)


async def round_of(browser, url: str, pid: int, titles: list[str], n: int, seconds: float, ramp: float) -> Results:
    """N sessions at once for `seconds`, arriving evenly over `ramp` s; returns their measurements."""
    results = Results()
    stop, peak = asyncio.Event(), [rss_mb(pid)]
    sampler = asyncio.create_task(sample_peak(pid, stop, peak))
    cpu_before, browser_before, start = cpu_seconds(pid), browser_cpu_seconds(pid), time.monotonic()
    await asyncio.gather(
        *(session(browser, url, titles[i % len(titles)], SEED + i, ramp * i / n, seconds, results) for i in range(n))
    )
    elapsed = time.monotonic() - start
    results.server_cpu_share = (cpu_seconds(pid) - cpu_before) / elapsed
    results.browser_cpu_share = (browser_cpu_seconds(pid) - browser_before) / elapsed
    results.load_average = os.getloadavg()[0]
    stop.set()
    await sampler
    results.peak_mb = peak[0]
    return results


async def main(sessions: list[int], seconds: float, ramp: float, settle: float, titles: list[str]) -> None:
    from playwright.async_api import async_playwright

    log_path = Path(tempfile.mkdtemp(prefix="load_")) / "server.log"
    process, url = start_streamlit(log_path)
    assert url.startswith("http://127.0.0.1:"), url
    rows = []
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            cold = rss_mb(process.pid)
            await round_of(browser, url, process.pid, titles, len(titles), 0, 0)  # warm-up: every page once
            await asyncio.sleep(settle)
            baseline = rss_mb(process.pid)
            for n in sessions:
                before, log_start = rss_mb(process.pid), len(log_path.read_text(errors="replace"))
                results = await round_of(browser, url, process.pid, titles, n, seconds, ramp)
                await asyncio.sleep(settle)
                tracebacks = log_path.read_text(errors="replace")[log_start:].count(TRACEBACK)
                rows.append((n, results, tracebacks, before, results.peak_mb, rss_mb(process.pid)))
                for error in results.errors[:5]:
                    print(f"  N={n} error: {error}", file=sys.stderr)
            await browser.close()
    finally:
        stop_streamlit(process)

    print(f"Load on {datetime.date.today()}, {platform.node()}: {cpu_model()}, {cpu_count()} cores shared by the "
          f"server and all the browser tabs; sessions arrive over {ramp:g} s, then move sliders for {seconds:g} s each; "
          f"pages: {', '.join(titles)}.")
    print(f"Server log: {log_path}")
    print(f"Server RSS: {cold:.0f} MB cold, {baseline:.0f} MB after one visit to every page (baseline); "
          f"'after' is {settle:g} s after the sessions closed (Streamlit keeps a closed session up to 120 s).")
    print()
    columns = [
        "sessions", "page open p95 (s)", "updates", "p50 (s)", "p95 (s)", "max (s)", "errors", "tracebacks",
        "server CPU (cores)", "chromium CPU (cores)", "load average",
        "RSS before (MB)", "RSS peak (MB)", "RSS after (MB)", "after / baseline",
    ]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|" + "---:|" * len(columns))
    for n, results, tracebacks, before, peak, after in rows:
        latencies = results.latencies
        cells = [
            n, f"{percentile(results.opens, 95):.1f}", len(latencies),
            f"{percentile(latencies, 50):.2f}", f"{percentile(latencies, 95):.2f}",
            f"{max(latencies, default=float('nan')):.2f}", len(results.errors), tracebacks,
            f"{results.server_cpu_share:.2f}", f"{results.browser_cpu_share:.2f}", f"{results.load_average:.1f}",
            f"{before:.0f}", f"{peak:.0f}", f"{after:.0f}", f"{after / baseline:.2f}",
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
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30], help="N for each round")
    parser.add_argument("--seconds", type=float, default=30, help="how long each round moves sliders")
    parser.add_argument("--ramp", type=float, default=10, help="seconds over which the sessions of a round arrive")
    parser.add_argument("--settle", type=float, default=20, help="seconds to wait before reading RSS after a round")
    parser.add_argument("--pages", nargs="+", default=None, help="titles of the pages to spread sessions over (default: all)")
    args = parser.parse_args()
    if not all(1 <= n <= MAX_SESSIONS for n in args.sessions):
        parser.error(f"--sessions must be between 1 and {MAX_SESSIONS}; got {args.sessions}")
    if not 1 <= args.seconds <= 600:
        parser.error(f"--seconds must be between 1 and 600; got {args.seconds}")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    pages = registered_pages()
    chosen = arguments.pages or list(pages)
    unknown = [title for title in chosen if title not in pages]
    if unknown:
        sys.exit(f"--pages: {unknown} are not registered in app.py; registered: {list(pages)}")
    asyncio.run(main(arguments.sessions, arguments.seconds, arguments.ramp, arguments.settle, chosen))
