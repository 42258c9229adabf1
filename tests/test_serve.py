"""serve.py, the server the README starts: it warms the chapters as it starts, before any reader connects."""

from __future__ import annotations

import time

from conftest import TRACEBACK, start_streamlit, stop_streamlit

from ui import story

FIRST_PAGE_SECONDS = 120


def test_the_server_warms_its_first_chapter_with_no_reader_connected(tmp_path) -> None:
    log_path = tmp_path / "server.log"
    process, _url = start_streamlit(log_path, "serve.py")  # only /_stcore/health is asked: no session
    try:
        first_page = f"Warm-up: {story.CHAPTERS[0].url_path} in"
        deadline = time.monotonic() + FIRST_PAGE_SECONDS
        while first_page not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        log = log_path.read_text()
    finally:
        stop_streamlit(process)
    assert first_page in log
    assert TRACEBACK not in log

