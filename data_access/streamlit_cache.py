"""The one place where data_access meets Streamlit: the shared engine and the cached query results.

``st.cache_resource`` holds one read-only engine per store URL; ``st.cache_data`` holds result-sized frames,
keyed by the URL and the (hashable) filters, with a time-to-live and a bound on entries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import polars as pl
import streamlit as st
from sqlalchemy.engine import Engine

from data_access import access, alerts, audiences, delivery, digest, reviews, store
from data_access.audiences import push
from data_access.config import SETTINGS
from data_access.filters import AudienceChoice, Filters, Period, Scope
from data_access.i18n import N_
from data_access.queries import catalog, funnel, journey, kpis, overview, retention, risk, support, why
from data_access.queries import review as review_queries

_TTL, _MAX = SETTINGS.cache_ttl_seconds, SETTINGS.cache_max_entries
T = TypeVar("T")


SPINNERS: dict[str, str] = {}  # a cached query's name -> what shows while it runs (English, shown through _())


def _cached(spinner: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """``st.cache_data`` with the dashboard's limits, its spinner left to :func:`components.session.guarded`, which
    shows ``spinner`` in the session's language (a cache decorator's text is fixed when the module loads)."""

    def wrap(query: Callable[..., T]) -> Callable[..., T]:
        SPINNERS[query.__name__] = spinner
        return st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)(query)

    return wrap


@st.cache_resource(show_spinner=False)
def read_engine(url: str) -> Engine:
    return store.create_store_engine(url, read_only=True)


@_cached(N_("Computing stage KPIs..."))
def stage_kpis(url: str, filters: Filters, min_n: int) -> pl.DataFrame:
    return kpis.stage_kpis(read_engine(url), filters, min_n)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def dimension_values(url: str, scope: Scope) -> dict[str, list[str]]:
    return catalog.dimension_values(read_engine(url), scope)


@_cached(N_("Reviewing both periods..."))
def review(url: str, filters: Filters, a: Period, b: Period, min_n: int) -> pl.DataFrame:
    return review_queries.load(read_engine(url), filters, a, b, min_n)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def saved_reviews(url: str, scope: Scope) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return reviews.saved(conn, scope)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def saved_review(url: str, name: str, scope: Scope) -> reviews.SavedReview | None:
    with store.connect(read_engine(url)) as conn:
        return reviews.opened(conn, name, scope)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def notes_before(url: str, name: str | None, scope: Scope) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return reviews.notes_before(conn, name, scope)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def data_range(url: str) -> tuple[datetime, datetime] | None:
    return store.time_range(read_engine(url))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def missing_tables(url: str) -> list[str]:
    return store.missing_tables(read_engine(url))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def outdated_tables(url: str) -> list[str]:
    return store.outdated_tables(read_engine(url))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def row_counts(url: str) -> dict[str, int]:
    return store.row_counts(read_engine(url))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def freshness(url: str) -> datetime | None:
    return store.freshness(read_engine(url))


def forget_results() -> None:
    """After a load: every cached result may be stale."""
    st.cache_data.clear()


_versions: dict[str, tuple[int, int, int]] = {}  # store URL -> its file's version when the results were cached


def follow_store(url: str) -> None:
    """Forgets every cached result when an embedded store's file changed since they were cached (a load from the
    command line, from another replica's Data page): the next queries read the new data. A server database's
    results are kept up to CJM_CACHE_TTL; the Data page forgets them after its own loads."""
    version = store.data_version(url)
    if version is not None and _versions.setdefault(url, version) != version:
        _versions[url] = version
        forget_results()


@st.cache_data(ttl=SETTINGS.access_ttl_seconds, max_entries=1_000, show_spinner=False)
def access_for(url: str, email: str, extra: tuple[tuple[str, str], ...]) -> access.Access:
    """A signed-in person's access (their grants, re-read at most every ``CJM_ACCESS_TTL`` seconds, so that a
    revoke takes effect within that time)."""
    return access.access_for(read_engine(url), email, extra)


@st.cache_data(ttl=SETTINGS.access_ttl_seconds, max_entries=8, show_spinner=False)
def grants(url: str) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return access.grants(conn)


@st.cache_data(ttl=SETTINGS.access_ttl_seconds, max_entries=8, show_spinner=False)
def audit_entries(url: str, limit: int) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return access.audit(conn, limit=limit)


@st.cache_data(ttl=SETTINGS.access_ttl_seconds, max_entries=64, show_spinner=False)
def audience_choices(url: str, scope: Scope) -> list[AudienceChoice]:
    """The computed audiences (re-read at most every ``CJM_ACCESS_TTL`` seconds: a recompute by the scheduler
    shows within that time, and its new time changes the keys of every cached result filtered by it)."""
    return audiences.choices(read_engine(url), scope)


@_cached(N_("Reading the customer's rows..."))
def customer_evidence(url: str, customer_id: str, as_of: datetime, scope: Scope) -> dict[str, pl.DataFrame] | None:
    with store.connect(read_engine(url)) as conn:
        return risk.evidence(conn, customer_id, as_of, scope)


@st.cache_data(ttl=SETTINGS.access_ttl_seconds, max_entries=8, show_spinner=False)
def audience_book(url: str) -> list[audiences.Audience]:
    return audiences.listed(read_engine(url))


@_cached(N_("Reading the audience..."))
def audience_detail(url: str, key: str, scope: Scope, computed: datetime | None, limit: int) -> dict[str, Any]:
    """One audience's members (within ``scope``), entries and exits per day, and pushes; keyed by when it was last
    computed, so that a recompute shows at once."""
    engine = read_engine(url)
    members, total = audiences.listed_members(engine, key, scope, limit)
    return {
        "members": members,
        "total": total,
        "daily": audiences.daily(engine, key),
        "pushes": push.log(engine, key, 200, scope.segments),
        "subscriptions": push.subscriptions(engine, key),
    }


@_cached(N_("Counting the audience's members..."))
def audience_preview(url: str, rule: str, scope: Scope) -> int:
    """How many customers a rule (as JSON) holds now, within ``scope``."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return audiences.preview(read_engine(url), json.loads(rule), now, scope.segments)


def forget_audiences() -> None:
    """After an audience was made, recomputed, removed or subscribed: the next run reads them again."""
    audience_book.clear()
    audience_choices.clear()
    audience_detail.clear()


def forget_access() -> None:
    """After a grant or revoke: the next run reads the grants again."""
    access_for.clear()
    grants.clear()
    audit_entries.clear()


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def stages(url: str) -> pl.DataFrame:
    return kpis.stage_list(read_engine(url))


@_cached(N_("Counting the funnel..."))
def funnel_steps(url: str, spec: funnel.FunnelSpec, filters: Filters) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return funnel.steps(conn, spec, filters)


@_cached(N_("Breaking the funnel down..."))
def funnel_breakdown(url: str, spec: funnel.FunnelSpec, filters: Filters, by: str) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return funnel.breakdown(conn, spec, filters, by)


@_cached(N_("Timing the conversions..."))
def funnel_timing(url: str, spec: funnel.FunnelSpec, filters: Filters) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return funnel.time_to_convert(conn, spec, filters)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def funnel_over_time(url: str, spec: funnel.FunnelSpec, filters: Filters, grain: str) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return funnel.over_time(conn, spec, filters, grain)


@_cached(N_("Listing the customers..."))
def funnel_dropped(url: str, spec: funnel.FunnelSpec, filters: Filters, step: int, limit: int) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return funnel.dropped(conn, spec, filters, step, limit)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def stage_trend(
    url: str, stage_id: str, metric: str, filters: Filters, min_n: int, line: int | None = None
) -> pl.DataFrame:
    return kpis.stage_trend(read_engine(url), stage_id, metric, filters, min_n, line)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def stage_rows(
    url: str, stage_id: str, metric: str, filters: Filters, limit: int, line: int | None = None
) -> pl.DataFrame:
    return kpis.stage_rows(read_engine(url), stage_id, metric, filters, limit, line)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def business_events(url: str, scope: Scope) -> pl.DataFrame:
    return catalog.business_events(read_engine(url), scope)


@_cached(N_("Measuring the support lines..."))
def support_lines(url: str, filters: Filters, verify_days: int, min_n: int) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return support.lines(conn, filters, verify_days, min_n)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def support_trend(url: str, filters: Filters, grain: str, verify_days: int, min_n: int, metric: str) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return support.trend(conn, filters, grain, verify_days, min_n, metric)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def support_agents(url: str, filters: Filters, min_n: int) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return support.agents(conn, filters, min_n)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def support_clusters(url: str, filters: Filters, grain: str, min_n: int) -> dict[str, pl.DataFrame]:
    return support.cluster_views(read_engine(url), filters, grain, min_n)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def support_flow_and_churn(url: str, filters: Filters) -> dict[str, pl.DataFrame]:
    return support.flow_and_churn(read_engine(url), filters)


@_cached(N_("Building the cohorts..."))
def retention_cohorts(url: str, filters: Filters, grain: str, mode: str, by: str | None) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return retention.cohorts(conn, filters, grain, mode, by)


@_cached(N_("Adding up the revenue..."))
def retention_value(url: str, filters: Filters, grain: str, by: str) -> dict[str, pl.DataFrame]:
    return retention.value_and_repeat(read_engine(url), filters, grain, by)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def churn_over_time(url: str, filters: Filters, grain: str) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return retention.churn_over_time(conn, filters, grain)


@_cached(N_("Looking for customers at risk..."))
def at_risk(url: str, filters: Filters, as_of: datetime, triggers: risk.Triggers, limit: int) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return risk.at_risk(conn, filters, as_of, triggers, limit)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def risk_alerts(url: str, filters: Filters, as_of: datetime) -> dict[str, pl.DataFrame]:
    """Segment-level alerts up to ``as_of``: unsubscribe spikes after business events, complaint spikes."""
    return risk.alerts(read_engine(url), filters, as_of)


@_cached(N_("Gathering the overview..."))
def overview_data(url: str, filters: Filters, windows: overview.Windows, min_n: int) -> dict[str, Any]:
    return overview.load(read_engine(url), filters, windows, min_n)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def journey_maps(url: str) -> list[str]:
    with store.connect(read_engine(url)) as conn:
        return journey.map_names(conn)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def journey_cells(url: str, name: str) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return journey.map_cells(conn, name)


@_cached(N_("Colouring the journey map..."))
def journey_live(url: str, filters: Filters, min_n: int) -> pl.DataFrame:
    return journey.live_lanes(read_engine(url), filters, min_n)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def stage_breakdown(
    url: str, stage_id: str, metric: str, filters: Filters, by: str, min_n: int, line: int | None = None
) -> pl.DataFrame:
    return kpis.stage_breakdown(read_engine(url), stage_id, metric, filters, by, min_n, line)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def funnel_stages(url: str) -> tuple[str, ...]:
    """The default funnel's steps (the stages marked in_funnel, in map order)."""
    return funnel.default_steps(read_engine(url))


@st.cache_data(ttl=SETTINGS.live_refresh_seconds, max_entries=_MAX, show_spinner=False)
def live_support(url: str, filters: Filters) -> dict[str, Any]:
    """The Support page's live panel, re-read at most every ``CJM_LIVE_REFRESH`` seconds (shared by sessions)."""
    with store.connect(read_engine(url)) as conn:
        return support.latest(conn, filters)


@st.cache_data(ttl=SETTINGS.access_ttl_seconds, max_entries=8, show_spinner=False)
def alert_rules(url: str) -> tuple[list[alerts.Rule], pl.DataFrame]:
    """Every alert rule and every subscription."""
    with store.connect(read_engine(url)) as conn:
        return alerts.rules(conn), alerts.subscriptions(conn)


@st.cache_data(ttl=SETTINGS.access_ttl_seconds, max_entries=8, show_spinner=False)
def alert_log(url: str) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return delivery.entries(conn)


@st.cache_data(ttl=_TTL, max_entries=256, show_spinner=False)
def alert_finding(url: str, rule: alerts.Rule, as_of: datetime) -> alerts.Finding:
    """A rule judged on its last complete period before ``as_of``."""
    with store.connect(read_engine(url)) as conn:
        return alerts.evaluate(conn, rule, as_of)


def forget_alerts() -> None:
    """After a rule or subscription (an alert's or the digest's) changed."""
    alert_rules.clear()
    alert_log.clear()
    digest_subscriptions.clear()


@st.cache_data(ttl=SETTINGS.access_ttl_seconds, max_entries=8, show_spinner=False)
def digest_subscriptions(url: str) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return digest.listed(conn)


@_cached(N_("Counting the exit reasons..."))
def exit_views(url: str, filters: Filters, by: str) -> dict[str, pl.DataFrame]:
    """Exit reasons overall, by ``by``, by month, and by the stage of the last bad score."""
    with store.connect(read_engine(url)) as conn:
        return {
            "overall": why.exit_reasons(conn, filters),
            "by": why.exit_reasons(conn, filters, by),
            "trend": why.exit_reasons(conn, filters, "month"),
            "bad_stage": why.exits_by_bad_stage(conn, filters),
        }


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def exit_comments(url: str, filters: Filters, reason: str, limit: int) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return why.exit_comments(conn, filters, reason, limit)


@_cached(N_("Following the retention offers..."))
def offer_outcomes(url: str, filters: Filters, attempt_stage: str | None, by: str | None = None) -> pl.DataFrame:
    with store.connect(read_engine(url)) as conn:
        return why.offer_outcomes(conn, filters, attempt_stage, by=by)


@_cached(N_("Judging the experiments..."))
def experiment_results(url: str, filters: Filters, newest: datetime | None, min_n: int) -> list:
    with store.connect(read_engine(url)) as conn:
        return why.experiment_results(conn, filters, newest, min_n)
