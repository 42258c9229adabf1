"""The server: app.py as Streamlit's ASGI app, with every chapter warmed as the server starts.

    streamlit run serve.py

`streamlit run app.py` serves the same app, but its pages are computed for the first time when a reader
first opens them; `streamlit run` has no start-up hook of its own, st.App's lifespan is one.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st

from ui import story
from ui.warm_up import start_warm_up


@asynccontextmanager
async def warm_up_at_start(_app: st.App) -> AsyncIterator[None]:
    """Once the runtime has started: every chapter runs once in the background, so no reader meets a cold page."""
    start_warm_up([chapter.url_path for chapter in story.CHAPTERS])
    yield


app = st.App("app.py", lifespan=warm_up_at_start)
