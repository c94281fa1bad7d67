"""Every run goes through app.py (menu, store, filters), whatever address the first visitor opens.

The page scripts live in ``pages/``. Until ``st.navigation`` has run once in a server process, Streamlit treats
that folder as its older multipage layout, and a first visit straight to ``/funnel`` would run that script alone:
no filters, no menu, and the server would stay in that mode. Each page opens with :func:`start` (or
:func:`through_app`), which reruns it through app.py first.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from components import filters, session
from data_access.filters import Filters


def through_app() -> None:
    """Reruns through app.py when this page was started on its own by the pages-folder layout."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def start(title: str) -> tuple[str, Filters]:
    """The opening of every analysis page: through app.py, the title, a store with tables (else a message and
    stop), and the global filters. Returns the store URL and the filters."""
    through_app()
    url = session.location().url
    st.title(title)
    if not session.has_tables(url):
        st.stop()
    return url, filters.current()
