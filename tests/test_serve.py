"""serve.py, the server the README starts: it warms the chapters as it starts, before any reader connects,
and says on /warmed when it is done (tests/test_browser.py checks the 200 once the whole warm-up is over)."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request

from conftest import TRACEBACK, live_children, start_streamlit, stop_streamlit

from ui import story

FIRST_PAGE_SECONDS = 120
WORKERS_EXIT_SECONDS = 10


def test_the_server_warms_its_first_chapter_with_no_reader_connected_says_it_is_warming_and_stops_its_workers(tmp_path) -> None:
    log_path = tmp_path / "server.log"
    process, url = start_streamlit(log_path, "serve.py")  # only /_stcore/health is asked: no session
    try:
        try:
            with urllib.request.urlopen(f"{url}/warmed", timeout=5) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        first_page = f"Warm-up: {story.CHAPTERS[0].url_path} in"
        deadline = time.monotonic() + FIRST_PAGE_SECONDS
        while first_page not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        log = log_path.read_text()
        while not (workers := live_children(process.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)  # the warm-up's pages start the background workers
    finally:
        stop_streamlit(process)
    deadline = time.monotonic() + WORKERS_EXIT_SECONDS
    while any(os.path.exists(f"/proc/{pid}") for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers and not any(os.path.exists(f"/proc/{pid}") for pid in workers), "workers outlived the server"
    assert (status, body) == (503, b"warming up")  # every warm-up here has taken 10 s or more
    assert first_page in log
    assert TRACEBACK not in log
