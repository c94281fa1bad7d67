"""The app's pages, listed once. The menu (``components/shell.py``), the roles (``access.ROLE_PAGES``), the
benchmark, the load benchmark and the page tests all derive from :data:`PAGES`: adding a page is one entry here,
its script in ``pages/`` and, when it reads the journey data, its queries in the benchmark."""

from __future__ import annotations

from dataclasses import dataclass

from data_access.i18n import N_
from data_access.schema import ROLES

LEADERSHIP, SUPPORT_LEAD, ANALYST, ADMIN = ROLES
EVERYONE = frozenset(ROLES)
LEADS = frozenset({LEADERSHIP, ANALYST, ADMIN})  # leadership's pages (analysts and admins see every page)
SUPPORT = frozenset({SUPPORT_LEAD, ANALYST, ADMIN})  # the support lead's pages
EDITORS = frozenset({ANALYST, ADMIN})
ADMINS = frozenset({ADMIN})


@dataclass(frozen=True)
class Page:
    key: str  # its address (/key), its script (pages/key.py) and its name in the roles
    title: str  # English, marked for translation: shown through _()
    icon: str
    section: str  # the menu's section, by audience (marked for translation)
    roles: frozenset[str]  # who may open it
    reads_data: bool = True  # reads the store with the global filters: benchmarked and load-tested

    @property
    def path(self) -> str:
        return f"pages/{self.key}.py"


PAGES: tuple[Page, ...] = (
    Page("overview", N_("Overview"), ":material/dashboard:", N_("Leadership"), LEADS),
    Page("retention", N_("Retention"), ":material/group:", N_("Leadership"), LEADS),
    Page("churn_warning", N_("Churn early warning"), ":material/notifications:", N_("Leadership"), LEADS),
    Page("why_leave", N_("Why they leave"), ":material/logout:", N_("Leadership"), LEADS),
    Page("offers", N_("Retention offers"), ":material/redeem:", N_("Leadership"), LEADS),
    Page("experiments", N_("Experiments"), ":material/science:", N_("Leadership"), LEADS),
    Page("funnel", N_("Funnel"), ":material/filter_alt:", N_("Analysis"), SUPPORT),
    Page("stage_kpis", N_("Stage KPIs"), ":material/leaderboard:", N_("Analysis"), SUPPORT),
    Page("journey_map", N_("Journey map"), ":material/map:", N_("Analysis"), EVERYONE),
    Page("review", N_("KPI review"), ":material/compare_arrows:", N_("Analysis"), LEADS),
    Page("audiences", N_("Audiences"), ":material/groups:", N_("Analysis"), EDITORS, reads_data=False),
    Page("support", N_("Support quality"), ":material/support_agent:", N_("Support"), SUPPORT),
    Page("alerts", N_("Alerts"), ":material/notifications_active:", N_("Alerts"), EVERYONE, reads_data=False),
    Page("data", N_("Data"), ":material/database:", N_("Data"), EDITORS),
    Page("map_editor", N_("Maps and targets"), ":material/edit_note:", N_("Data"), EDITORS, reads_data=False),
    Page("access", N_("Access"), ":material/admin_panel_settings:", N_("Data"), ADMINS, reads_data=False),
)
BY_KEY: dict[str, Page] = {p.key: p for p in PAGES}
KEYS: tuple[str, ...] = tuple(BY_KEY)
DATA_PAGES: tuple[str, ...] = tuple(p.key for p in PAGES if p.reads_data)
LANDING = ("overview", "support")  # the first of these the viewer may open is their home page


def pages_of(role: str) -> frozenset[str]:
    """The keys of the pages ``role`` may open."""
    return frozenset(p.key for p in PAGES if role in p.roles)
