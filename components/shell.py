"""The app's frame: the pages and their menu (only the pages the viewer may open), and the opening every page
runs (through app.py, its own role check, its title).

The page scripts live in ``pages/``. Until ``st.navigation`` has run once in a server process, Streamlit treats
that folder as its older multipage layout, and a first visit straight to ``/funnel`` would run that script alone:
no filters, no menu, and the server would stay in that mode. Each page opens with :func:`start` (or
:func:`open_page`), which reruns it through app.py first.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from components import auth, filters, session
from data_access.access import Access
from data_access.filters import Filters
from data_access.i18n import N_, _


@dataclass(frozen=True)
class PageSpec:
    key: str  # as data_access.access names it
    path: str
    title: str
    icon: str
    section: str


PAGES = (
    PageSpec("overview", "pages/overview.py", N_("Overview"), ":material/dashboard:", N_("Leadership")),
    PageSpec("retention", "pages/retention.py", N_("Retention"), ":material/group:", N_("Leadership")),
    PageSpec(
        "churn_warning",
        "pages/churn_warning.py",
        N_("Churn early warning"),
        ":material/notifications:",
        N_("Leadership"),
    ),
    PageSpec("why_leave", "pages/why_leave.py", N_("Why they leave"), ":material/logout:", N_("Leadership")),
    PageSpec("offers", "pages/offers.py", N_("Retention offers"), ":material/redeem:", N_("Leadership")),
    PageSpec("experiments", "pages/experiments.py", N_("Experiments"), ":material/science:", N_("Leadership")),
    PageSpec("funnel", "pages/funnel.py", N_("Funnel"), ":material/filter_alt:", N_("Analysis")),
    PageSpec("stage_kpis", "pages/stage_kpis.py", N_("Stage KPIs"), ":material/leaderboard:", N_("Analysis")),
    PageSpec("journey_map", "pages/journey_map.py", N_("Journey map"), ":material/map:", N_("Analysis")),
    PageSpec("review", "pages/review.py", N_("KPI review"), ":material/compare_arrows:", N_("Analysis")),
    PageSpec("support", "pages/support.py", N_("Support quality"), ":material/support_agent:", N_("Support")),
    PageSpec("alerts", "pages/alerts.py", N_("Alerts"), ":material/notifications_active:", N_("Alerts")),
    PageSpec("data", "pages/data.py", N_("Data"), ":material/database:", N_("Data")),
    PageSpec("map_editor", "pages/map_editor.py", N_("Maps and targets"), ":material/edit_note:", N_("Data")),
    PageSpec("access", "pages/access.py", N_("Access"), ":material/admin_panel_settings:", N_("Data")),
)
BY_KEY = {p.key: p for p in PAGES}
LANDING = ("overview", "support")  # the first of these the viewer may open is their home page


def menu(viewer: Access) -> dict[str, list[st.Page]]:
    """The menu of the pages ``viewer`` may open, by section, their home page first among them."""
    allowed = [p for p in PAGES if viewer.may_open(p.key)]
    home = next((k for k in LANDING if viewer.may_open(k)), allowed[0].key if allowed else None)
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
    st.session_state[session.PAGE_KEY] = _(page.title)
    return session.location().url


def start(key: str) -> tuple[str, Filters]:
    """The opening of every analysis page: :func:`open_page`, a store with tables (else a message and stop), and
    the global filters (the viewer's scope in them). Returns the store URL and the filters."""
    url = open_page(key)
    if not session.has_tables(url):
        st.stop()
    return url, filters.current()
