"""Warm every chapter's default computations in the background, so no reader waits for a cold page.

The server opens a session of its own, with no browser behind it, and visits every page once with its
default widget values: the page scripts themselves fill the caches (ui.memory.kept, st.cache_resource)
that a reader's first visit then reads. It runs in a thread of its own, one page after another, and
logs how long it took; readers who arrive meanwhile are served as usual.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from streamlit.logger import get_logger
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime import Runtime

PAGE_TIMEOUT_SECONDS = 600
DONE_MESSAGE = "Warm-up done"  # bench/first_visit.py waits for this line in the server log
finished = threading.Event()
"""Set once the warm-up has run every page (or given up on one): serve.py's /warmed answers from it."""

logger = get_logger(__name__)


class _HeadlessClient:
    """A session client that drops what the session sends, except that a script run has finished."""

    client_context = None

    def __init__(self) -> None:
        self.finished = threading.Event()

    def write_forward_msg(self, msg: ForwardMsg) -> None:
        if msg.WhichOneof("type") == "script_finished":
            self.finished.set()


def on_event_loop(runtime: Runtime, function, *args):
    """Call function(*args) on the server's event loop (the runtime's session calls must run there); return its result."""
    loop = runtime._get_async_objs().eventloop  # the runtime offers no public handle
    done = threading.Event()
    result = []
    loop.call_soon_threadsafe(lambda: (result.append(function(*args)), done.set()))
    done.wait(PAGE_TIMEOUT_SECONDS)
    return result[0] if result else None


def visit_pages(url_paths: Iterable[str]) -> None:
    """Run every page (by URL path) once, with default widget values, in one headless session of this server."""
    runtime = Runtime.instance()
    client = _HeadlessClient()
    session_id = on_event_loop(runtime, lambda: runtime.connect_session(client=client, user_info={}))
    start = time.perf_counter()
    try:
        for url_path in url_paths:
            client.finished.clear()
            message = BackMsg()
            message.rerun_script.page_name = url_path
            page_start = time.perf_counter()
            on_event_loop(runtime, runtime.handle_backmsg, session_id, message)
            if not client.finished.wait(PAGE_TIMEOUT_SECONDS):
                logger.warning("Warm-up: %s did not finish within %d s", url_path, PAGE_TIMEOUT_SECONDS)
            logger.info("Warm-up: %s in %.1f s", url_path, time.perf_counter() - page_start)
    finally:
        on_event_loop(runtime, runtime.disconnect_session, session_id)
        finished.set()
    logger.info("%s: every page in %.1f s", DONE_MESSAGE, time.perf_counter() - start)


def start_warm_up(url_paths: list[str]) -> None:
    """Visit the pages in a background thread of a running server; do nothing where no server runs (AppTest)."""
    try:
        Runtime.instance()._get_async_objs()  # raises unless a server runs this runtime
    except RuntimeError:
        return
    threading.Thread(target=visit_pages, args=(url_paths,), name="warm-up", daemon=True).start()
