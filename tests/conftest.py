"""Fixtures for the browser tests: one `streamlit run serve.py` server and one headless chromium per session,
and `AppPage`, a browser tab with the waits a Streamlit page needs. bench/load.py reuses the server helpers.

Chromium is the system package (`apt-get install chromium`, as .ci/run does), driven by the Python
playwright package; `playwright install` is never needed. Without chromium the browser tests skip
with a message, except under CI (CI=true) where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "screenshots"
VIEWPORT = {"width": 1400, "height": 1000}
STARTUP_SECONDS = 60
RUN_TIMEOUT_MS = 90_000  # the first run of a torch page imports torch and loads weights on 2 busy cores
ELEMENT_TIMEOUT_MS = 30_000
IDLE_SETTLE_SECONDS = 0.4  # a rerun can start a moment after the action that caused it
TRACEBACK = "Traceback (most recent call last)"
SLIDERS_THAT_CHANGE_NO_NUMBER = {"Pen width"}  # it changes how the canvas draws, not what the page computes

# The text a person reads, with the controls' own values (slider thumbs, inputs) and plots left out,
# so a change in it is a change the page computed.
SHOWN_TEXT_JS = """() => {
  const leftOut = '[data-testid=stSlider], [data-testid=stPlotlyChart], [data-testid=stBidiComponentRegular], '
      + 'input, textarea, canvas';
  const parts = [];
  for (const root of document.querySelectorAll('[data-testid=stMain], [data-testid=stSidebarUserContent]')) {
    // A walk that skips the left-out subtrees: cloning the page to delete them cost 3-6 ms per call.
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
      acceptNode: node => node.nodeType === Node.ELEMENT_NODE && node.matches(leftOut)
          ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
    });
    let text = '';
    for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
      if (node.nodeType === Node.TEXT_NODE) text += node.data;
    }
    parts.push(text);
  }
  return parts.join('\\n');
}"""
IDLE_JS = """() => {
  const app = document.querySelector('[data-testid=stApp]');
  return app !== null && app.dataset.testScriptState === 'notRunning'
      && app.dataset.testConnectionState === 'CONNECTED'
      && document.querySelector('[data-stale=true], [data-testid=stSkeleton]') === null
      && document.querySelector('[data-testid=stMain] h1') !== null;
}"""
# Charts and canvases of the project's components say which data they last drew (data-drawn) and which
# they were given (data-expected).
PLOTS_DRAWN_JS = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].every(chart => {
  const svg = chart.querySelector('svg.main-svg');
  return svg !== null && svg.getBoundingClientRect().width > 0;
}) && [...document.querySelectorAll('[data-expected]')].every(drawn => drawn.dataset.drawn === drawn.dataset.expected)"""
IMAGES_LOADED_JS = """() => [...document.querySelectorAll('[data-testid=stImage] img')]
  .every(img => img.complete && img.naturalWidth > 0)"""
NUMBER = re.compile(r"[-−]?\d(?:[\d,]*\d)?(?:\.\d+)?(?:e[-+]?\d+)?")
CONTENT_HEIGHT_JS = """() => Math.max(
  ...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stSidebarContent]')].map(element => element.scrollHeight))"""
MAX_SCREENSHOT_HEIGHT = 8000


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_streamlit(log_path: Path, script: str | None = None, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """Start `streamlit run script` in root on a free loopback port, output to log_path; return (process, base URL)
    once healthy. The script is by default the one the README starts, serve.py (app.py in trees older than it,
    which bench/browser_cost.py runs as "before").

    The process is the streamlit interpreter itself (no shell in between), so its PID is the one to stop.
    """
    port = free_port()
    script = script or ("serve.py" if (root / "serve.py").exists() else "app.py")
    command = [
        sys.executable, "-m", "streamlit", "run", script,
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        "--server.fileWatcherType", "none",  # other engineers' edits must not rerun the app mid-test
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.2)
    stop_streamlit(process)
    raise RuntimeError(f"streamlit was not healthy after {STARTUP_SECONDS} s:\n{log_path.read_text()}")


def live_children(pid: int) -> set[int]:
    """PIDs of process pid's children that are still running (not exited, not zombies); Linux's /proc."""
    children = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as listing:
            children.update(int(child) for child in listing.read().split())
    running = set()
    for child in children:
        try:
            with open(f"/proc/{child}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] != "Z":
                    running.add(child)
        except FileNotFoundError:
            pass
    return running


def stop_streamlit(process: subprocess.Popen) -> None:
    """Stop the streamlit process by its PID: SIGTERM, then SIGKILL if it has not exited after 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when chromium and playwright are available."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: install it with `sudo apt-get install chromium` (never `playwright install`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: `.venv/bin/pip install -r requirements-dev.txt`"
    return None


def registered_pages() -> dict[str, str]:
    """{title: file} of every page in app.py's navigation (ui.story's chapters), in reading order."""
    from ui.story import CHAPTERS

    return {chapter.title: chapter.path for chapter in CHAPTERS}


@dataclass
class StreamlitServer:
    """A running `streamlit run serve.py`: its base URL and the file its output goes to."""

    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class AppPage:
    """One browser tab on the app, with the waits a Streamlit page needs."""

    def __init__(self, page, server: StreamlitServer) -> None:
        self.page = page
        self.server = server
        self.log_start = len(server.log())

    def open(self, title: str | None = None) -> None:
        """Load the app, then follow the sidebar link named title (as a reader would) and wait for the page."""
        self.page.goto(self.server.url + "/")
        self.wait_idle()
        if title is not None:
            home = self.page.locator("[data-testid=stMain] h1").inner_text()
            links = self.page.locator("[data-testid=stSidebarNav] a")
            links.filter(has=self.page.get_by_text(title, exact=True)).click()
            self.page.wait_for_function(
                "home => document.querySelector('[data-testid=stMain] h1')?.innerText !== home",
                arg=home,
                timeout=RUN_TIMEOUT_MS,
            )
            self.wait_idle()

    def wait_idle(self, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
        """Wait until the script is not running, no element is stale, and that has held for a moment."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            self.page.wait_for_function(IDLE_JS, timeout=max(1, (deadline - time.monotonic()) * 1000), polling=100)
            time.sleep(IDLE_SETTLE_SECONDS)
            if self.page.evaluate(IDLE_JS):
                return

    def wait_drawn(self) -> None:
        """Wait until every plotly chart has drawn its SVG and every image has loaded."""
        self.page.wait_for_function(PLOTS_DRAWN_JS, timeout=RUN_TIMEOUT_MS, polling=200)
        self.page.wait_for_function(IMAGES_LOADED_JS, timeout=RUN_TIMEOUT_MS, polling=200)

    def shown_text(self) -> str:
        return self.page.evaluate(SHOWN_TEXT_JS)

    def numbers(self) -> list[str]:
        """Every number in the text shown, in page order (controls' own values excluded)."""
        return NUMBER.findall(self.shown_text())

    def wait_numbers_change(self, before: list[str], timeout_s: float = 30) -> list[str]:
        """Wait for the shown numbers to differ from before once the app is idle; return them (== before on timeout)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.wait_idle(timeout_ms=max(1, int((deadline - time.monotonic()) * 1000)))
            now = self.numbers()
            if now != before:
                return now
            time.sleep(0.2)
        return before

    def upload_image(self, title: str, path: Path) -> None:
        """On the page called title, choose "your own image" in the sidebar and upload the image file at path;
        returns once the sidebar says it shows that file."""
        self.open(title)
        sidebar = self.page.locator("[data-testid=stSidebarUserContent]")
        sidebar.get_by_text("your own image").click()
        self.wait_idle()
        self.page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(path)
        sidebar.get_by_text(f"Showing “{path.name}”:").wait_for()
        self.wait_idle()

    def press_slider(self, slider, key: str) -> None:
        """Focus the slider's thumb (its range input) and press key, as a keyboard user would."""
        slider.locator("input[type=range]").focus()
        self.page.keyboard.press(key)

    def draw(self, strokes: list[list[tuple[float, float]]]) -> None:
        """Draw on the canvas with mouse down, moves and up; points are fractions of its width and height."""
        box = self.page.locator("canvas.upper-canvas").bounding_box()
        mouse = self.page.mouse
        for (x, y), *rest in strokes:
            mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
            mouse.down()
            for x, y in rest:
                mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=10)
            mouse.up()

    def errors(self) -> list[str]:
        """Texts of the exception and st.error elements on the page."""
        return self.page.locator("[data-testid=stException], [data-testid=stAlertContentError]").all_inner_texts()

    def server_tracebacks(self) -> list[str]:
        """Python tracebacks the server logged since this tab opened."""
        new = self.server.log()[self.log_start :]
        return [TRACEBACK + chunk for chunk in new.split(TRACEBACK)[1:]]

    def screenshot(self, name: str) -> Path:
        """Save the whole page to screenshots/<name>.png (git-ignored) for a person to look at.

        Streamlit scrolls inside its main element, so the window is made as tall as the content first.
        """
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')}.png"
        height = min(MAX_SCREENSHOT_HEIGHT, max(VIEWPORT["height"], self.page.evaluate(CONTENT_HEIGHT_JS)))
        self.page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        self.wait_drawn()
        self.page.screenshot(path=path)
        self.page.set_viewport_size(VIEWPORT)
        return path


@pytest.fixture
def record_calls(monkeypatch: pytest.MonkeyPatch):
    """record_calls(module, names) wraps those functions of module; returns the list their calls append their names to."""

    def record(module: object, names: tuple[str, ...]) -> list[str]:
        calls: list[str] = []
        for name in names:
            function = getattr(module, name)

            def wrapper(*args, _name=name, _function=function, **kwargs):
                calls.append(_name)
                return _function(*args, **kwargs)

            monkeypatch.setattr(module, name, wrapper)
        return calls

    return record


@pytest.fixture(scope="session")
def chromium():
    """A headless system chromium driven by playwright; skips (fails under CI=true) when it is missing."""
    problem = chromium_missing()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests need chromium under CI: {problem}")
        pytest.skip(f"browser tests skipped: {problem}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def streamlit_server(chromium, tmp_path_factory):
    """`streamlit run serve.py` on a free loopback port for the whole session, stopped by its PID afterwards."""
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    process, url = start_streamlit(log_path)
    yield StreamlitServer(url, log_path)
    stop_streamlit(process)


@pytest.fixture
def app_page(chromium, streamlit_server):
    """A fresh browser context (its own Streamlit session) with one tab on the app."""
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(ELEMENT_TIMEOUT_MS)
    yield AppPage(context.new_page(), streamlit_server)
    context.close()


def as_read(markdown: str) -> str:
    """Markdown source as a reader sees it: backslash escapes resolved, no-break spaces as spaces, word joiners gone."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u00a0", " ").replace("\u2060", "")
