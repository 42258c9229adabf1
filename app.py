"""Navigation of Quantization Explorer and the start of its story: the landing page, and a link to the next
chapter at the end of every page."""

import copy
import gc

import streamlit as st
from threadpoolctl import threadpool_limits

from ui import presentation, story
from ui.memory import keep_memory_returnable
from ui.charts import preload_plotly


@st.cache_resource(show_spinner=False)
def prepare_process() -> None:
    """Once per server process, before any page runs: memory handed back, heavy imports, BLAS threads, and a
    frozen heap."""
    keep_memory_returnable()  # first: glibc's arena cap counts only for threads' heaps made after it
    # plotly tells pandas objects apart by reading sys.modules["pandas"] without the import lock, so
    # a chart drawn while another session's thread is still importing pandas met a half-built module
    # (seen when a class opened the app at once): import everything heavy whole, here, first.
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    import torch  # noqa: F401

    # Two cores serve every session: one BLAS thread per computation measured 5-7x faster under
    # load than two threads contending (a 512x512 SVD: 98 ms against 674 ms).
    threadpool_limits(limits=1, user_api="blas")
    # A full garbage collection (Python's own now and then; Streamlit's after every run, turned off in
    # .streamlit/config.toml) scanned the ~280,000 objects of these libraries in ~210 ms of GIL.
    # Frozen, they are never scanned again.
    gc.collect()
    gc.freeze()

START_ICON = ":material/arrow_forward:"
PICTURE_WIDTH = 320


@st.cache_resource(show_spinner=False)
def page_templates() -> dict[str, st.Page]:
    """The page of each chapter, {chapter path: page}, made once per process: st.Page resolves its file on
    disk (~10% of the server's time under load when rebuilt every rerun)."""
    return {chapter.path: st.Page(chapter.path, title=chapter.title, icon=chapter.icon, url_path=chapter.url_path) for chapter in story.CHAPTERS}


def chapter_pages() -> dict[str, st.Page]:
    """This run's own copies of the chapters' pages, {chapter path: page}. st.navigation marks the page it
    returns as runnable on the object itself: runs sharing the objects (a session's runs overlapped under
    Streamlit's fast reruns, now off in .streamlit/config.toml) unmarked each other's page ("This page
    cannot be called directly")."""
    return run_pages


def chapter_card(chapter: story.Chapter) -> None:
    with st.container(border=True):
        if chapter.picture is not None:
            st.image(str(chapter.picture), width="stretch")
        st.page_link(chapter_pages()[chapter.path], label=chapter.title, icon=chapter.icon)
        if chapter.hook:
            st.caption(chapter.hook)


def landing() -> None:
    st.html(story.ASSETS / "landing.css")
    st.title("Quantization Explorer")
    st.write(
        "Every number a computer stores costs bits. Quantization stores numbers with fewer of them: 16 colors "
        "instead of 16 million, a 4-bit index instead of a 32-bit float. What is lost is the quantization "
        "error, and this explorable lets you see it, measure it and decide when it matters."
    )
    st.write(
        "The story starts with a photo whose pixels share a handful of colors, turns the same idea on the "
        "weights of a neural network, and then follows the linear quantization that runs today's models, "
        "down to a layer computed in integers. Every chapter has controls: move them and every number "
        "on the page is computed again."
    )
    first = story.CHAPTERS[0]
    with st.container(border=True):
        st.page_link(chapter_pages()[first.path], label=f"**Start here: {first.title}**", icon=START_ICON)
        st.caption(first.hook)
    st.caption(
        "After the explorable article *Visualizing Quantization Error* (k-means weight sharing, from Deep "
        "Compression, Han et al. 2015), with every number recomputed."
    )
    for section, chapters in story.sections().items():
        st.subheader(section)
        for row in range(0, len(chapters), 3):
            for column, chapter in zip(st.columns(3), chapters[row : row + 3]):
                with column:
                    chapter_card(chapter)


def link_to_next_chapter(current: st.Page, home: st.Page) -> None:
    """At the end of a chapter: a link to the one after it (back to the start after the last)."""
    path = next((path for path, page in chapter_pages().items() if page is current), None)
    if path is None:  # the landing page starts the story itself
        return
    following = story.next_chapter(path)
    st.divider()
    if following is None:
        st.page_link(home, label="That was the last chapter: back to the start", icon=":material/home:")
        return
    st.page_link(chapter_pages()[following.path], label=f"Next: {following.title}", icon=START_ICON)
    if following.hook:
        st.caption(following.hook)


# ui.background's workers are started by multiprocessing's spawn, which re-runs the file of sys.modules["__main__"]
# as "__mp_main__" in each new worker. Under Streamlit that is this script whenever another session's run has just
# installed it there (ui.background hides it while it starts its workers, but cannot stop other threads): in a
# worker it must define its functions and draw nothing.
if __name__ != "__mp_main__":
    prepare_process()
    presentation.set_up_page()
    presentation.switch()
    preload_plotly()
    run_pages = {path: copy.copy(page) for path, page in page_templates().items()}
    home = st.Page(landing, title="Home", icon=":material/home:", default=True)
    sections = {
        section: [chapter_pages()[chapter.path] for chapter in chapters] for section, chapters in story.sections().items()
    }
    current = st.navigation({"": [home], **sections}, expanded=True)  # all 14 listed: with the presentation switch below it, Streamlit showed 10 and "View more"
    current.run()  # a page that calls st.stop() (a missing file, a notice) ends there, without the link below
    link_to_next_chapter(current, home)
