"""Navigation and landing page of Quantization Explorer."""

import copy
import gc

import streamlit as st
from threadpoolctl import threadpool_limits

from ui import story
from ui.charts import preload_plotly
from ui.warm_up import start_warm_up


@st.cache_resource(show_spinner=False)
def prepare_process() -> None:
    """Once per server process, before any page runs: heavy imports, BLAS threads, and a frozen heap."""
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


prepare_process()


@st.cache_resource(show_spinner=False)
def page_templates() -> dict[str, list[st.Page]]:
    """The file pages by section, made once per process: st.Page resolves its file on disk (~10% of the
    server's time under load when rebuilt every rerun)."""
    return {
        section: [st.Page(chapter.path, title=chapter.title, icon=chapter.icon) for chapter in chapters]
        for section, chapters in story.sections().items()
    }


@st.cache_resource(show_spinner=False)
def warm_up() -> None:
    """Once per server process: every page runs once in the background, so no reader meets a cold page."""
    start_warm_up([page.url_path for pages in page_templates().values() for page in pages])


def sections() -> dict[str, list[st.Page]]:
    """This run's own copies of the pages. st.navigation marks the page it returns as runnable on the
    object itself: runs sharing the objects (a session's runs overlapped under Streamlit's fast reruns,
    now off in .streamlit/config.toml) unmarked each other's page ("This page cannot be called directly")."""
    return {section: [copy.copy(page) for page in pages] for section, pages in page_templates().items()}


def landing() -> None:
    st.title("Quantization Explorer")
    st.write(
        "See what quantization does to images and to neural-network weights: share an image's "
        "colors with k-means, map the error pixel by pixel, quantize weight matrices and a real "
        "MNIST autoencoder, and explore the linear quantization used in practice."
    )
    st.caption(
        "After the explorable article *Visualizing Quantization Error* (k-means weight sharing, "
        "from Deep Compression, Han et al. 2015), with every number recomputed correctly."
    )
    for section, pages in sections().items():
        st.subheader(section)
        for page in pages:
            st.page_link(page, label=page.title, icon=page.icon)


warm_up()
preload_plotly()
home = st.Page(landing, title="Home", icon=":material/home:", default=True)
st.navigation({"": [home], **sections()}).run()
