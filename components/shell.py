"""The app's frame: the pages and their menu (only the pages the viewer may open), and the opening every page
runs (through app.py, its own role check, its title).

The page scripts live in ``pages/``. Until ``st.navigation`` has run once in a server process, Streamlit treats
that folder as its older multipage layout, and a first visit straight to ``/funnel`` would run that script alone:
no filters, no menu, and the server would stay in that mode. Each page opens with :func:`start` (or
:func:`open_page`), which reruns it through app.py first.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from components import auth, context, filters, session
from data_access import pages
from data_access.access import Access
from data_access.filters import Filters
from data_access.i18n import _

PAGES = pages.PAGES
BY_KEY = pages.BY_KEY


def menu(viewer: Access) -> dict[str, list[st.Page]]:
    """The menu of the pages ``viewer`` may open, by section, their home page first among them."""
    allowed = [p for p in PAGES if viewer.may_open(p.key)]
    home = next((k for k in pages.LANDING if viewer.may_open(k)), allowed[0].key if allowed else None)
    sections: dict[str, list[st.Page]] = {}
    for p in allowed:
        page = st.Page(p.path, title=_(p.title), icon=p.icon, default=p.key == home, url_path=p.key)
        sections.setdefault(_(p.section), []).append(page)
    return sections


def through_app() -> None:
    """Reruns through app.py when this page was started on its own by the pages-folder layout. The flag is the
    server's, and sessions that open at the same moment on a new server (a replica restarted under its users)
    may all have started in that layout before the first one cleared it: a session that app.py never ran for has
    no viewer recorded yet, and reruns too."""
    if PagesManager.uses_pages_directory or not auth.remembered():
        PagesManager.uses_pages_directory = False
        st.rerun()


def open_page(key: str) -> str:
    """The opening of every page: through app.py, the viewer's right to this page checked (a hand-typed address
    of a page the menu hides is refused here too), the title. Returns the store URL."""
    through_app()
    page = BY_KEY[key]
    if not auth.current().may_open(key):
        st.title(_(page.title))
        st.error(_("Your role does not give you this page."), icon=":material/block:")
        st.stop()
    st.title(_(page.title))
    st.session_state[context.PAGE_KEY] = _(page.title)
    return session.location().url


def start(key: str) -> tuple[str, Filters]:
    """The opening of every analysis page: :func:`open_page`, a store with tables (else a message and stop), and
    the global filters (the viewer's scope in them). Returns the store URL and the filters."""
    url = open_page(key)
    if not session.has_tables(url):
        st.stop()
    return url, filters.current()
