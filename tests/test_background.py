"""ui/background.py: work runs in another process, its progress reaches the page, its errors too."""

from __future__ import annotations

import os

import pytest
from conftest import live_children
from streamlit.testing.v1 import AppTest


def worker_pid(steps: int, progress) -> tuple[int, int]:
    for step in range(steps):
        progress((step + 1) / steps, f"step {step + 1} of {steps}")
    return os.getpid(), steps


def refuse(progress) -> None:
    raise ValueError("bits must be 1 to 8; got 9")


def page_running_jobs() -> None:
    import streamlit as st

    from test_background import refuse, worker_pid
    from ui.background import run_in_background

    pid, steps = run_in_background(worker_pid, 5, label="Counting")
    st.write(f"{pid} {steps}")
    try:
        run_in_background(refuse, label="Refusing")
    except ValueError as error:
        st.write(f"refused: {error}")


def test_jobs_run_in_a_worker_process_and_errors_reach_the_page() -> None:
    app = AppTest.from_function(page_running_jobs, default_timeout=120).run()
    assert not app.exception
    pid, steps = (int(part) for part in app.markdown[0].value.split())
    assert pid != os.getpid() and steps == 5
    assert app.markdown[1].value == "refused: bits must be 1 to 8; got 9"


def test_progress_reports_arrive_in_order() -> None:
    from ui.background import _progress_channel, _report_to

    channel = _progress_channel().Queue()
    assert _report_to(channel, worker_pid, (3,), {})[1] == 3
    reports = [channel.get(timeout=5) for _ in range(3)]
    assert reports == [(1 / 3, "step 1 of 3"), (2 / 3, "step 2 of 3"), (1.0, "step 3 of 3")]
    with pytest.raises(Exception):
        channel.get(timeout=0.1)


def test_stopping_the_workers_ends_their_processes_and_a_later_job_starts_new_ones() -> None:
    from ui.background import stop_workers

    stop_workers()  # an earlier test's pool, if any
    before = live_children(os.getpid())
    app = AppTest.from_function(page_running_jobs, default_timeout=120).run()
    workers = live_children(os.getpid()) - before
    assert not app.exception and len(workers) >= 2  # the pool's workers and the progress channel's process
    stop_workers()
    assert not (live_children(os.getpid()) & workers)
    app = AppTest.from_function(page_running_jobs, default_timeout=120).run()
    assert not app.exception and int(app.markdown[0].value.split()[0]) not in workers
