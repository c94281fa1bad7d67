"""Every run goes through app.py (menu, store, filters), whatever address the first visitor opens.

The page scripts live in ``pages/``. Until ``st.navigation`` has run once in a server process, Streamlit treats
that folder as its older multipage layout, and a first visit straight to ``/funnel`` would run that script alone:
no filters, no menu, and the server would stay in that mode. Each page calls :func:`through_app` first.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def through_app() -> None:
    """Reruns through app.py when this page was started on its own by the pages-folder layout."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
