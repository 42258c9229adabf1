"""The server: app.py as Streamlit's ASGI app, with every chapter warmed as the server starts.

    streamlit run serve.py

`streamlit run app.py` serves the same app, but its pages are computed for the first time when a reader
first opens them; `streamlit run` has no start-up hook of its own, st.App's lifespan is one. GET /warmed
answers 200 once the warm-up is over and 503 before: Kubernetes' startup probe (deploy/kubernetes) waits
for it, so a new replica joins the Service with its caches full.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ui import background, story, warm_up


@asynccontextmanager
async def warm_up_at_start(_app: st.App) -> AsyncIterator[None]:
    """Once the runtime has started: every chapter runs once in the background, so no reader meets a cold page.
    At shutdown: the background workers stop with the server."""
    warm_up.start_warm_up([chapter.url_path for chapter in story.CHAPTERS])
    yield
    background.stop_workers()


async def warmed(_request: Request) -> PlainTextResponse:
    """200 once every chapter has been warmed, 503 while the warm-up runs."""
    if warm_up.finished.is_set():
        return PlainTextResponse("warm")
    return PlainTextResponse("warming up", status_code=503)


app = st.App("app.py", lifespan=warm_up_at_start, routes=[Route("/warmed", warmed)])
