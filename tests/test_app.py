"""AppTest of app.py: the landing page, the once-per-process preparation every page relies on, and the
pages made once per session."""

from __future__ import annotations

import gc
import sys
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
    gc.unfreeze()


def test_each_session_makes_its_pages_once(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    original = Page.__init__

    def counting(self, page, *args, **kwargs) -> None:
        made.append(page if isinstance(page, str) else "landing")
        original(self, page, *args, **kwargs)

    counting.__wrapped__ = original.__wrapped__  # Streamlit's own page objects skip st.Page's wrapper: not counted
    monkeypatch.setattr(Page, "__init__", counting)
    first = AppTest.from_file(APP, default_timeout=120).run()
    assert len(made) == len(story.CHAPTERS) + 1 and made.count("landing") == 1
    made.clear()
    first.run()
    assert made == ["landing"]  # the file pages are reused; the landing page is a function of this run
    made.clear()
    AppTest.from_file(APP, default_timeout=120).run()  # another session makes its own
    assert len(made) == len(story.CHAPTERS) + 1


def test_every_module_in_pages_is_a_page_in_the_navigation() -> None:
    # Streamlit serves any module in pages/ at a URL of its own: a helper there became a blank page.
    from conftest import ROOT, registered_pages

    on_disk = {f"pages/{path.name}" for path in (ROOT / "pages").glob("*.py")}
    assert on_disk == set(registered_pages().values())


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
