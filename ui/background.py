"""Heavy computations off the server's GIL: one process pool shared by every session, with progress.

A core function that may take over ~0.5 s of CPU accepts `progress: Callable[[float, str], None] | None`
and calls it with (fraction done in [0, 1], what it is doing). A page runs it with
`run_in_background(fn, *args, label=..., **kwargs)`: the work happens in a worker process, so other
sessions' sliders keep their speed, and the page draws a progress bar fed by those calls. Cache the
result in the page (`ui.memory.kept`) as for any other computation.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import sys
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import streamlit as st

Result = TypeVar("Result")
WORKERS = max(1, min(2, os.cpu_count() or 1))
"""Worker processes: the machine's two cores; more would only queue for them."""
_POLL_SECONDS = 0.1


def _spawn() -> multiprocessing.context.SpawnContext:
    # A forked worker would inherit the server's threads (and torch's thread pools) mid-lock.
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _plain_main() -> Iterator[None]:
    """While processes start: a spawned process re-runs the file of sys.modules["__main__"], and in a
    Streamlit run that is the page script itself. An empty __main__ gives the worker nothing to re-run."""
    script = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = script


@st.cache_resource(show_spinner=False, on_release=lambda pool: pool.shutdown(cancel_futures=True))
def _pool() -> ProcessPoolExecutor:
    pool = ProcessPoolExecutor(max_workers=WORKERS, mp_context=_spawn())
    with _plain_main():
        for _ in range(WORKERS):  # each submit to a pool with no idle worker starts one, here and now
            pool.submit(os.getpid)
    return pool


@st.cache_resource(show_spinner=False, on_release=lambda manager: manager.shutdown())
def _progress_channel() -> multiprocessing.managers.SyncManager:
    # Queues a worker process can be handed: plain multiprocessing queues cannot travel through a pool.
    with _plain_main():
        return _spawn().Manager()


def stop_workers() -> None:
    """Stop the worker processes and the progress channel's process, if this server started them (at shutdown:
    under st.App's server, nothing else stops them, and they outlived the server)."""
    _pool.clear()
    _progress_channel.clear()


def _report_to(channel: Any, fn: Callable[..., Result], args: tuple, kwargs: dict) -> Result:
    return fn(*args, progress=lambda fraction, text: channel.put((float(fraction), str(text))), **kwargs)


def run_in_background(fn: Callable[..., Result], *args: Any, label: str, **kwargs: Any) -> Result:
    """fn(*args, progress=..., **kwargs) run in the shared worker pool while a progress bar shows its
    reports; returns its result or raises its exception. fn must be importable (a module-level function)."""
    channel = _progress_channel().Queue()
    try:
        future = _pool().submit(_report_to, channel, fn, args, kwargs)
    except BrokenProcessPool:  # a worker died (killed, out of memory): start a new pool once
        _pool.clear()
        future = _pool().submit(_report_to, channel, fn, args, kwargs)
    bar = st.progress(0.0, text=label)
    try:
        while not (future.done() and channel.empty()):
            try:
                fraction, text = channel.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            bar.progress(min(max(fraction, 0.0), 1.0), text=f"{label}: {text}" if text else label)
        return future.result()
    finally:
        bar.empty()
