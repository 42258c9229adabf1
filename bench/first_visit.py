"""First visit of every page on a freshly started server, after its warm-up: prints a table.

    .venv/bin/python bench/first_visit.py

Starts `streamlit run serve.py` (which warms every page as it starts, ui/warm_up.py), waits for the
warm-up's line in the server log with no reader connected, then opens every page as a new reader would: a new browser context (its own session) loads the app, whose every page starts loading
plotly.js in the background (ui/charts.py's preload), and clicks the page's sidebar link once the app
has loaded ("app ready": from opening the URL until plotly.js is loaded). "first visit" runs from the
click until the page's script has finished and its charts, canvases and images are drawn.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The repository root is on the path only now.
from tests.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    ELEMENT_TIMEOUT_MS,
    IDLE_SETTLE_SECONDS,
    VIEWPORT,
    AppPage,
    StreamlitServer,
    registered_pages,
    start_streamlit,
    stop_streamlit,
)
from ui.warm_up import DONE_MESSAGE  # noqa: E402

TARGET_SECONDS = 3.0
PRELOAD_TIMEOUT_MS = 120_000


def wait_for_line(server: StreamlitServer, text: str, timeout_s: float) -> float | None:
    """Seconds until text appears in the server log, or None after timeout_s."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if text in server.log():
            return time.monotonic() - start
        time.sleep(0.2)
    return None


def first_visit(browser, server: StreamlitServer, title: str) -> tuple[float, float]:
    """(seconds until the app has loaded, seconds from clicking title's sidebar link until the page is idle and drawn),
    in a new session."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(ELEMENT_TIMEOUT_MS)
    try:
        app = AppPage(context.new_page(), server)
        opened = time.perf_counter()
        app.open()
        app.page.wait_for_function("() => window.Plotly !== undefined", timeout=PRELOAD_TIMEOUT_MS, polling=50)
        ready = time.perf_counter() - opened
        home = app.page.locator("[data-testid=stMain] h1").inner_text()
        start = time.perf_counter()
        app.page.locator("[data-testid=stSidebarNav] a").filter(has=app.page.get_by_text(title, exact=True)).click()
        app.page.wait_for_function(
            "home => document.querySelector('[data-testid=stMain] h1')?.innerText !== home", arg=home, polling=50
        )
        app.wait_idle()
        app.wait_drawn()
        # wait_idle ends with a settle pause of its own: leave it out of the time.
        return ready, time.perf_counter() - start - IDLE_SETTLE_SECONDS
    finally:
        context.close()


def main(warm_up_timeout: float) -> None:
    from playwright.sync_api import sync_playwright

    log_path = Path(tempfile.mkdtemp(prefix="first_visit_")) / "server.log"
    started = time.perf_counter()
    process, url = start_streamlit(log_path)
    healthy = time.perf_counter() - started
    server = StreamlitServer(url, log_path)
    rows = []
    try:
        with sync_playwright() as playwright:
            warm = wait_for_line(server, DONE_MESSAGE, warm_up_timeout)
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for title in registered_pages():
                print(f"opening {title}", file=sys.stderr, flush=True)
                rows.append((title, first_visit(browser, server, title)))
            browser.close()
    finally:
        stop_streamlit(process)
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"Fresh server: healthy after {healthy:.1f} s; warm-up done, with no reader connected, "
          f"{'after ' + format(warm, '.1f') + ' s more' if warm is not None else 'NOT within the timeout'}.")
    print(f"Load: {load}")
    print()
    print(f"| page | app ready (s) | first visit (s) | ≤ {TARGET_SECONDS:g} s |")
    print("|---|---:|---:|:---:|")
    for title, (ready, seconds) in rows:
        print(f"| {title} | {ready:.2f} | {seconds:.2f} | {'yes' if seconds <= TARGET_SECONDS else 'NO'} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-up-timeout", type=float, default=300, help="seconds to wait for the warm-up")
    main(parser.parse_args().warm_up_timeout)
