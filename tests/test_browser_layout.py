"""The app in chromium at the window widths a class projects (1280 and 1024 px), in normal and presentation mode:
no table or chart is wider than its column, every chapter ends with a link to the next, presentation mode
sticks across pages, and nothing is fetched from outside the app's own server (the tab icon included)."""

from __future__ import annotations

import pytest

from conftest import ROOT, AppPage
from ui.presentation import TAB_ICON
from ui.story import CHAPTERS

WIDTHS = (1280, 1024)
HEIGHT = 900
SETTLE_MS = 1000
# Tables: a dataframe's scroll area (columns beyond it are hidden), markdown and st.table tables; and charts.
OVERFLOWING_JS = """() => [...document.querySelectorAll([
    '[data-testid=stMain] [data-testid=stDataFrame] .dvn-scroller',
    '[data-testid=stMain] [data-testid=stTable]',
    '[data-testid=stMain] [data-testid=stMarkdownContainer]:has(table)',
    '[data-testid=stMain] [data-testid=stPlotlyChart]',
  ].join(', '))]
  .filter(element => element.scrollWidth > element.clientWidth)
  .map(element => `${element.closest('[data-testid]').dataset.testid}: ${element.scrollWidth} px in ${element.clientWidth} px`)"""
PRESENTATION_SIZES_JS = """() => ({
  paragraph: parseFloat(getComputedStyle(document.querySelector('[data-testid=stMain] [data-testid=stMarkdownContainer] p')).fontSize),
  metric: Math.max(0, ...[...document.querySelectorAll('[data-testid=stMetricValue]')].map(
      element => parseFloat(getComputedStyle(element.querySelector('p, div') || element).fontSize))),
  metrics: document.querySelectorAll('[data-testid=stMetricValue]').length,
})"""


def open_tab(chromium, streamlit_server, width: int) -> tuple[AppPage, list[str]]:
    """A new session at this window width, and the list every request to another host is appended to."""
    context = chromium.new_context(viewport={"width": width, "height": HEIGHT})
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda request: None if request.url.startswith((streamlit_server.url, "data:", "blob:")) else outside.append(request.url))
    return AppPage(page, streamlit_server), outside


def go_to(app_page: AppPage, title: str) -> None:
    links = app_page.page.locator("[data-testid=stSidebarNav] a")
    links.filter(has=app_page.page.get_by_text(title, exact=True)).click()
    app_page.page.wait_for_function(
        "title => document.querySelector('[data-testid=stMain] h1')?.innerText === title", arg=title, timeout=90_000
    )
    app_page.wait_idle()
    app_page.wait_drawn()


def settled_overflow(app_page: AppPage) -> list[str]:
    """What overflows its column and still does a second later: a data grid sizes its columns again once the
    page's fonts and layout settle (a table on a loaded machine was once caught at 814 px in 658 mid-way)."""
    if not app_page.page.evaluate(OVERFLOWING_JS):
        return []
    app_page.page.wait_for_timeout(SETTLE_MS)
    return app_page.page.evaluate(OVERFLOWING_JS)


def last_link(app_page: AppPage) -> str | None:
    """The text of the page's last link, or None when the page has none."""
    links = app_page.page.locator("[data-testid=stMain] [data-testid=stPageLink]").all_inner_texts()
    return links[-1].strip().splitlines()[-1] if links else None


@pytest.mark.parametrize("presentation", [False, True], ids=["normal", "presentation"])
@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_its_column_and_leads_to_the_next(chromium, streamlit_server, width, presentation):
    app_page, outside = open_tab(chromium, streamlit_server, width)
    try:
        app_page.open()
        switch = app_page.page.locator("[data-testid=stSidebar] [data-testid=stCheckbox]", has_text="Presentation mode")
        if presentation:
            switch.locator("label").click()
            app_page.wait_idle()
        problems, stopped = {}, []
        overflowing = settled_overflow(app_page)
        if overflowing:
            problems["Home"] = overflowing
        for position, chapter in enumerate(CHAPTERS):
            go_to(app_page, chapter.title)
            overflowing = settled_overflow(app_page)
            if overflowing:
                problems[chapter.title] = overflowing
            following = CHAPTERS[position + 1].title if position + 1 < len(CHAPTERS) else None
            link = last_link(app_page)
            if link is None:  # the page stopped early (st.stop() after a notice): it must say why
                assert app_page.page.locator("[data-testid=stMain] [data-testid=stAlert]").count(), f"{chapter.title} ends with no link"
                stopped.append(chapter.title)
            else:
                assert link == (f"Next: {following}" if following else "That was the last chapter: back to the start")
            assert switch.locator("input").is_checked() == presentation, f"presentation mode changed on {chapter.title}"
            if presentation:
                sizes = app_page.page.evaluate(PRESENTATION_SIZES_JS)
                assert sizes["paragraph"] >= 20, f"{chapter.title}: text at {sizes['paragraph']} px"
                smallest = 40 if width >= 1280 else 36  # at 1024 px four metrics in a row leave no room above 36 px
                assert sizes["metrics"] == 0 or sizes["metric"] >= smallest, f"{chapter.title}: metrics at {sizes['metric']} px"
        assert not outside, f"requests to other hosts: {outside}"
        assert not problems, f"wider than their column at {width} px: {problems}"
        if stopped:
            pytest.xfail(f"stopped on a notice, so no next link: {stopped}")
    finally:
        app_page.page.context.close()


def test_the_tab_icon_is_the_local_file(chromium, streamlit_server):
    app_page, outside = open_tab(chromium, streamlit_server, WIDTHS[0])
    try:
        app_page.open()
        go_to(app_page, CHAPTERS[2].title)
        [icon] = app_page.page.evaluate("() => [...document.querySelectorAll('link[rel*=icon]')].map(link => link.href)")
        assert icon.startswith(streamlit_server.url)
        assert app_page.page.request.get(icon).body() == TAB_ICON.read_bytes()
        assert TAB_ICON.is_relative_to(ROOT / "assets")
        assert not outside
    finally:
        app_page.page.context.close()
