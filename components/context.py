"""What this run of a page is about, kept in the session: who is looking, the global filters, and the page's title.
A leaf: it imports no other component, so that every component may read it without an import cycle (the viewer is
set by ``auth``, the filters by ``filters``, the title by ``shell``)."""

from __future__ import annotations

import streamlit as st

from data_access.access import Access
from data_access.filters import Filters

ACCESS_KEY = "cjm_access"
FILTERS_KEY = "cjm_filters"
PAGE_KEY = "cjm_page_title"  # the page this run draws, in the viewer's language, for a message that names it
NOBODY = Access("")  # deny by default: what a page sees when nothing set the viewer


def viewer() -> Access:
    """The viewer of this run (nobody, when the entry script did not set one: deny by default)."""
    return st.session_state.get(ACCESS_KEY, NOBODY)


def filters() -> Filters:
    """The filters drawn by the entry script on this run, always with the viewer's scope (whatever the session
    holds)."""
    return st.session_state.get(FILTERS_KEY, Filters()).with_scope(viewer().scope)


def page_title(default: str) -> str:
    """The title of the page this run draws (``default`` before a page has set it)."""
    return st.session_state.get(PAGE_KEY, default)
