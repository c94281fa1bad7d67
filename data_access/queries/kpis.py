"""Per-stage KPIs: customers at each stage and every metric of the metrics layer, with n, interval and status."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import metrics, schema
from data_access.access import masked
from data_access.config import SETTINGS
from data_access.filters import Filters
from data_access.i18n import _
from data_access.store import connect, contact_columns, derived, fetch_frame, has_column
from data_access.store.dialect import period_date, period_start

STAGE_COLUMNS = ("stage_id", "name", "position", "in_funnel", "phase")
_STAGE_TYPES = {
    "stage_id": pl.String,
    "name": pl.String,
    "position": pl.Int64,
    "in_funnel": pl.Boolean,
    "phase": pl.String,
}
CLI_COLUMNS = ("stage_id", "customers", "csat", "csat_n", "nps", "nps_n", "ces", "ces_n", "fcr", "fcr_n")


def stages_query(*, with_phase: bool = True) -> sa.Select:
    """The stages in map order; ``with_phase`` False reads an empty phase (a store made before that column)."""
    s = schema.stages.c
    columns = [s[c] if c != "phase" or with_phase else sa.null().label(c) for c in STAGE_COLUMNS]
    return sa.select(*columns).order_by(s.position, s.stage_id)


def stages_on(conn: Connection) -> pl.DataFrame:
    """The stages in map order: stage_id, name, position, in_funnel, phase (null where not set)."""
    query = stages_query(with_phase=has_column(conn, schema.stages, "phase"))
    return fetch_frame(conn, query, _STAGE_TYPES)


def stage_list(engine: Engine) -> pl.DataFrame:
    """:func:`stages_on` on a connection of its own."""
    with connect(engine) as conn:
        return stages_on(conn)


def customers_per_stage_query(filters: Filters, *, stored: bool = False) -> sa.Select:
    """Customers at a stage = distinct customers with a journey event at that stage in the period.

    ``stored``: from ``stage_customers`` (one row per stage and customer with their first and last event there),
    counting those whose first or last event at the stage is in the period; exact where no customer's events at a
    stage begin before the period and end after it, which :func:`stage_customers_stored` checks."""
    e = schema.journey_events.c
    if not stored:
        return (
            sa.select(e.stage_id, sa.func.count(sa.distinct(e.customer_id)).label("customers"))
            .where(filters.where(e.occurred_at, e.customer_id))
            .group_by(e.stage_id)
        )
    period, sc = filters.period, schema.stage_customers.c
    return (
        sa.select(sc.stage_id, sa.func.count().label("customers"))
        .where(sa.or_(period.clause(sc.first_at), period.clause(sc.last_at)), filters.customer_clause(sc.customer_id))
        .group_by(sc.stage_id)
    )


STAGE_CUSTOMERS_SPEC = "first and last event per stage and customer, shape 1"


def stage_customers_stored(conn: Connection, filters: Filters) -> bool:
    """Whether :func:`customers_per_stage_query` can read ``stage_customers`` for these filters: it is current, and
    no customer has events at a stage both before and after the period (whether one of theirs falls inside it
    only the events can tell). That holds for a period that is open at one end or covers all the data; for a
    shorter one the events are counted."""
    if not derived.is_current(conn, schema.stage_customers, STAGE_CUSTOMERS_SPEC):
        return False
    period, sc = filters.period, schema.stage_customers.c
    if period.start is None or period.end is None:
        return True
    after = sa.not_(period.before_end(sc.last_at))  # last_at is never null
    before = sc.first_at < sa.bindparam(None, period.start, type_=schema.TIMESTAMP)
    return conn.execute(sa.select(sa.literal(1)).where(before, after).limit(1)).first() is None


def refresh_stage_customers(conn: Connection) -> int:
    """Rebuilds ``stage_customers`` from every journey event, with the customer's attributes the events carry (on a
    connection in a write transaction)."""
    sc, e = schema.stage_customers, schema.journey_events.c
    derived.recreate(conn, sc)
    copies = [schema.attribute_column(d) for d in schema.FILTER_DIMENSIONS]
    rows = sa.select(
        e.stage_id,
        e.customer_id,
        sa.func.min(e.occurred_at),
        sa.func.max(e.occurred_at),
        *(sa.func.min(e[c]) for c in copies),  # one value per customer
    ).group_by(e.stage_id, e.customer_id)
    conn.execute(sa.insert(sc).from_select(["stage_id", "customer_id", "first_at", "last_at", *copies], rows))
    return derived.mark_built(conn, sc, STAGE_CUSTOMERS_SPEC)


def metric_query(
    source: sa.Table,
    chosen: list[metrics.Metric],
    filters: Filters,
    keys: list[sa.ColumnElement],
    *where: sa.ColumnElement,
    extra: tuple[sa.Label, ...] = (),
) -> sa.Select:
    """All ``chosen`` metrics of one source table per value of ``keys`` (labelled or named columns), in one scan;
    ``extra`` aggregates are passed through."""
    time_column = source.c[chosen[0].time_column]
    inner = (
        sa.select(*keys, *extra, *(c for m in chosen for c in metrics.aggregate_columns(m)))
        .where(filters.where(time_column, source.c.customer_id), *where)
        .group_by(*keys)
        .subquery("agg")
    )
    passed = [inner.c[c.name] for c in (*keys, *extra)]
    return sa.select(*passed, *(c for m in chosen for c in metrics.value_columns(m, inner)))


def metric_per_stage_query(source: sa.Table, chosen: list[metrics.Metric], filters: Filters) -> sa.Select:
    """All metrics of one source table, per stage."""
    return metric_query(source, chosen, filters, [source.c.stage_id.label("stage_id")], source.c.stage_id.is_not(None))


def _on_line(source: sa.Table, line: int | None) -> sa.ColumnElement[bool]:
    """Tickets whose last line was ``line`` (None: every line)."""
    if line is None:
        return sa.true()
    if source is not schema.tickets:
        raise ValueError("only ticket metrics can be narrowed to a support line")
    return source.c.final_line == line


def stage_trend(
    engine: Engine, stage_id: str, metric_name: str, filters: Filters, min_n: int, line: int | None = None
) -> pl.DataFrame:
    """One metric of one stage by month (a ticket metric on one support line's tickets when ``line`` is given):
    month, value, n, interval, enough."""
    metric = metrics.METRICS[metric_name]
    source = metric.source
    month = period_start(source.c[metric.time_column], "month").label("month")
    stmt = metric_query(
        source, [metric], filters, [month], source.c.stage_id == stage_id, _on_line(source, line)
    ).order_by("month")
    with connect(engine) as conn:
        frame = fetch_frame(conn, stmt)
    if frame.height == 0:
        return pl.DataFrame(schema={"month": pl.Date, metric_name: pl.Float64, f"{metric_name}_n": pl.Int64})
    frame = metrics.finish(frame.with_columns(period_date("month")), metric, min_n)
    return frame.filter(pl.col(f"{metric_name}_n") > 0)


PROBLEM_TYPE = "category"  # a ticket metric can also be broken down by the ticket's problem type


def breakdowns(metric_name: str) -> tuple[str, ...]:
    """What a stage's metric can be broken down by: customer attributes, and the problem type for tickets."""
    extra = (PROBLEM_TYPE,) if metrics.METRICS[metric_name].source is schema.tickets else ()
    return (*schema.FILTER_DIMENSIONS, *extra)


def stage_breakdown(
    engine: Engine,
    stage_id: str,
    metric_name: str,
    filters: Filters,
    by: str,
    min_n: int,
    line: int | None = None,
) -> pl.DataFrame:
    """One metric of one stage per value of a customer attribute (or a ticket's problem type): value, n, interval,
    enough."""
    if by not in breakdowns(metric_name):
        raise ValueError(f"cannot break down {metric_name} by {by!r}")
    metric = metrics.METRICS[metric_name]
    source, cu = metric.source, schema.customers
    where = [source.c.stage_id == stage_id, _on_line(source, line)]
    if by == PROBLEM_TYPE:
        group = sa.func.coalesce(source.c.category, "(none)").label("value")
    else:
        group = sa.func.coalesce(cu.c[by], "(none)").label("value")
        where.append(cu.c.customer_id == source.c.customer_id)
    stmt = metric_query(source, [metric], filters, [group], *where)
    with connect(engine) as conn:
        frame = fetch_frame(conn, stmt, {"value": pl.String})
    frame = metrics.finish(frame, metric, min_n).filter(pl.col(f"{metric_name}_n") > 0)
    return frame.sort(f"{metric_name}_n", descending=True)


def stage_rows_order(metric_name: str) -> str:
    """What :func:`stage_rows` returns, in words, in the order it returns them."""
    if metrics.METRICS[metric_name].source is schema.tickets:
        return _("tickets, those not resolved at first contact first")
    return _("answers, the unhappiest first")


def stage_rows(
    engine: Engine, stage_id: str, metric_name: str, filters: Filters, limit: int, line: int | None = None
) -> pl.DataFrame:
    """The rows behind a stage's metric, worst first: survey answers by score (detractors and low CSAT first,
    those with a comment before those without), or for FCR the tickets (of one line's, with ``line``) not resolved
    at first contact first."""
    metric = metrics.METRICS[metric_name]
    c = schema.customers.c
    with connect(engine) as conn:
        contact = contact_columns(conn)[:1]  # the e-mail: whom to call back
        if metric.source is not schema.survey_responses:
            return masked(fetch_frame(conn, _ticket_rows(stage_id, filters, line, contact).limit(limit)), filters.scope)
        r = schema.survey_responses.c
        stmt = (
            sa.select(r.responded_at, r.score, r.comment, r.touchpoint, r.customer_id, c.segment, *contact)
            .join_from(schema.survey_responses, schema.customers, c.customer_id == r.customer_id)
            .where(r.stage_id == stage_id, r.survey == metric_name, filters.where(r.responded_at, r.customer_id))
            .order_by(r.score.asc(), sa.case((r.comment.is_(None), 1), else_=0), r.responded_at.desc())
        )
        return masked(fetch_frame(conn, stmt.limit(limit), {"comment": pl.String}), filters.scope)


def _ticket_rows(stage_id: str, filters: Filters, line: int | None, contact: list[sa.ColumnElement]) -> sa.Select:
    """A stage's tickets (one line's, with ``line``), those not resolved at first contact first."""
    c, t = schema.customers.c, schema.tickets.c
    first_contact = sa.and_(t.resolved_at.is_not(None), t.contacts == 1, t.reopened.is_(False))
    return (
        sa.select(
            t.opened_at,
            t.ticket_id,
            t.final_line,
            t.category,
            t.contacts,
            t.reopened,
            t.resolved_at,
            t.csat,
            t.customer_id,
            c.segment,
            *contact,
        )
        .join_from(schema.tickets, schema.customers, c.customer_id == t.customer_id)
        .where(t.stage_id == stage_id, filters.where(t.opened_at, t.customer_id), _on_line(schema.tickets, line))
        .order_by(sa.case((first_contact, 1), else_=0), t.contacts.desc(), t.opened_at.desc())
    )


def targets_query() -> sa.Select:
    t = schema.kpi_targets.c
    return sa.select(t.stage_id, t.metric, t.target, t.warn)


_TARGET_TYPES = {"stage_id": pl.String, "metric": pl.String, "target": pl.Float64, "warn": pl.Float64}


def target_list(conn: Connection) -> pl.DataFrame:
    """The KPI targets: stage_id, metric, target, warn, by stage and metric."""
    t = schema.kpi_targets.c
    return fetch_frame(conn, targets_query().order_by(t.stage_id, t.metric), _TARGET_TYPES)


def stages_and_targets(conn: Connection) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The stages in map order and the KPI targets."""
    return stages_on(conn), target_list(conn)


def with_targets(frame: pl.DataFrame, targets: pl.DataFrame) -> pl.DataFrame:
    """Target, warn and status of every stage metric (the metrics' columns already finished)."""
    for metric in metrics.STAGE_METRICS.values():
        frame = metrics.with_status(frame, targets, metric)
    return frame


def stage_kpis(engine: Engine, filters: Filters, min_n: int = SETTINGS.min_n) -> pl.DataFrame:
    """One row per stage in map order: customers, then value, n, interval, target and status of every metric."""
    with connect(engine) as conn:
        return stage_kpis_on(conn, filters, min_n)


def stage_kpis_on(conn: Connection, filters: Filters, min_n: int = SETTINGS.min_n) -> pl.DataFrame:
    """:func:`stage_kpis` on an open connection."""
    frame, targets = stages_and_targets(conn)
    query = customers_per_stage_query(filters, stored=stage_customers_stored(conn, filters))
    customers = fetch_frame(conn, query, {"stage_id": pl.String, "customers": pl.Int64})
    parts = [
        fetch_frame(
            conn, metric_per_stage_query(schema.TABLES_BY_NAME[source], chosen, filters), {"stage_id": pl.String}
        )
        for source, chosen in metrics.STAGE_METRICS_BY_SOURCE.items()
    ]
    frame = frame.join(customers, on="stage_id", how="left").with_columns(pl.col("customers").fill_null(0))
    for part in parts:
        frame = frame.join(part, on="stage_id", how="left")
    for metric in metrics.STAGE_METRICS.values():
        frame = metrics.finish(frame, metric, min_n)
    return with_targets(frame, targets).sort("position", "stage_id")
