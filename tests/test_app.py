"""AppTest of app.py: the landing page, the once-per-process preparation every page relies on, and the
pages made once per process."""

from __future__ import annotations

import gc
import sys
import threading
from pathlib import Path

import pytest
from streamlit.navigation.page import Page
from streamlit.testing.v1 import AppTest
from threadpoolctl import threadpool_info, threadpool_limits

from ui import story

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_landing_page_links_every_section_and_prepares_the_process_once() -> None:
    with threadpool_limits(limits=None):  # whatever app.py sets is undone at the end
        gc.unfreeze()
        app = AppTest.from_file(APP, default_timeout=120).run()
        assert not app.exception
        assert [header.value for header in app.subheader] == list(story.sections())
        assert {"pandas", "plotly.graph_objects", "torch"} <= set(sys.modules)
        assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
        frozen = gc.get_freeze_count()
        assert frozen > 100_000  # the heavy libraries' objects are out of every later collection
        app.run()
        assert gc.get_freeze_count() <= frozen  # cached: a second freeze would add the rerun's objects
        assert [thread.name for thread in threading.enumerate()].count("malloc_trim") == 1  # memory goes back, once
    gc.unfreeze()


def test_pages_are_made_once_per_process_and_every_run_navigates_its_own_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit

    made: list[str] = []
    original = Page.__init__

    def counting(self, page, *args, **kwargs) -> None:
        made.append(page if isinstance(page, str) else "landing")
        original(self, page, *args, **kwargs)

    counting.__wrapped__ = original.__wrapped__  # Streamlit's own page objects skip st.Page's wrapper: not counted
    monkeypatch.setattr(Page, "__init__", counting)
    navigated: list[list[Page]] = []
    navigation = streamlit.navigation

    def recording(pages, *args, **kwargs):
        navigated.append([page for section in pages.values() for page in section])
        return navigation(pages, *args, **kwargs)

    monkeypatch.setattr(streamlit, "navigation", recording)
    first = AppTest.from_file(APP, default_timeout=120).run()
    assert not first.exception
    assert made.count("landing") == 1 and len(made) in (1, len(story.CHAPTERS) + 1)  # all when no earlier test made them
    made.clear()
    first.run()
    AppTest.from_file(APP, default_timeout=120).run()  # another session
    assert made == ["landing", "landing"]  # the file pages are made once per process
    # st.navigation marks the page it returns on the object: runs that overlap (a fast rerun starts before
    # the last run stopped) must never hand it the same objects.
    assert len(navigated) == 3
    ids = [id(page) for run in navigated for page in run]
    assert len(ids) == len(set(ids))


def test_every_module_in_chapters_is_a_page_and_there_is_no_pages_folder() -> None:
    from conftest import ROOT, registered_pages

    on_disk = {f"chapters/{path.name}" for path in (ROOT / "chapters").glob("*.py")}
    assert on_disk == set(registered_pages().values())
    # A pages/ folder beside app.py puts Streamlit in its old multipage mode: the sidebar listed every file
    # by name on a fresh server, and any module there (helpers included) was served at a URL of its own.
    assert not (ROOT / "pages").exists()


def test_landing_page_starts_the_story_with_every_chapter_its_picture_and_hook() -> None:
    app = AppTest.from_file(APP, default_timeout=120).run()
    links = [link.proto.label for link in app.get("page_link")]
    assert links[0] == f"**Start here: {story.CHAPTERS[0].title}**"
    assert links[1:] == [chapter.title for chapter in story.CHAPTERS]
    captions = [caption.value for caption in app.caption]
    assert all(chapter.hook in captions for chapter in story.CHAPTERS)
    assert len(app.get("image")) == sum(chapter.picture is not None for chapter in story.CHAPTERS) > 0


def test_presentation_mode_is_a_session_flag_the_switch_sets() -> None:
    from ui import presentation

    app = AppTest.from_file(APP, default_timeout=120).run()
    assert presentation.KEY not in app.session_state or not app.session_state[presentation.KEY]
    app.toggle(key=presentation.SWITCH_KEY).set_value(True).run()
    assert app.session_state[presentation.KEY] is True
    app.run()  # a later run (another page, in the browser) keeps it and the switch shows it
    assert app.session_state[presentation.KEY] is True and app.toggle(key=presentation.SWITCH_KEY).value
    app.toggle(key=presentation.SWITCH_KEY).set_value(False).run()
    assert app.session_state[presentation.KEY] is False


def test_a_worker_process_re_running_app_py_draws_nothing() -> None:
    # multiprocessing's spawn re-runs sys.modules["__main__"]'s file as "__mp_main__" in every new worker of
    # ui.background; under load another session's run had just put app.py there, and the worker ran the whole app.
    import runpy

    namespace = runpy.run_path(APP, run_name="__mp_main__")
    assert "prepare_process" in namespace and "current" not in namespace and "run_pages" not in namespace
