"""Per-stage KPIs: customers at each stage and every metric of the metrics layer, with n, interval and status."""

from __future__ import annotations

from datetime import date

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import metrics, schema
from data_access.access import masked
from data_access.config import SETTINGS
from data_access.filters import Filters, Period
from data_access.i18n import _
from data_access.queries import activity
from data_access.store import connect, contact_columns, derived, fetch_frame, has_column
from data_access.store.dialect import (
    MONTH_BITS,
    bit_or,
    constant_rows,
    has_bits,
    month_bit,
    months_between,
    period_date,
    period_start,
)

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


def customers_per_stage_query(filters: Filters, *, stored: sa.ColumnElement[bool] | bool = False) -> sa.Select:
    """Customers at a stage = distinct customers with a journey event at that stage in the period.

    ``stored``: from ``stage_customers`` (one row per stage and customer), the rows that meet this condition
    (:func:`stored_period`); True: those whose first or last event at the stage is in the period, which is exact
    where no customer's events at a stage begin before the period and end after it."""
    e = schema.journey_events.c
    if stored is False:  # the distinct pairs, then counted: 176 against 316 ms for COUNT(DISTINCT), DuckDB, 1M, B2C, H1
        pairs = (
            sa.select(e.stage_id, e.customer_id)
            .where(filters.where(e.occurred_at, e.customer_id))
            .distinct()
            .subquery("stage_customer_pairs")
        )
        return sa.select(pairs.c.stage_id, sa.func.count().label("customers")).group_by(pairs.c.stage_id)
    sc = schema.stage_customers.c
    within = _first_or_last_inside(filters.period) if stored is True else stored
    return (
        sa.select(sc.stage_id, sa.func.count().label("customers"))
        .where(within, filters.customer_clause(sc.customer_id))
        .group_by(sc.stage_id)
    )


def _first_or_last_inside(period: Period) -> sa.ColumnElement[bool]:
    sc = schema.stage_customers.c
    return sa.or_(period.clause(sc.first_at), period.clause(sc.last_at))


STAGE_CUSTOMERS_SPEC = "first and last event per stage and customer, the months with one"
_SHAPE = "shape 2"


def _spec(first_month: date | None) -> str:
    months = f"months from {first_month:%Y-%m}" if first_month else "no months"
    return f"{STAGE_CUSTOMERS_SPEC}, {months}, {_SHAPE}"


def stored_period(conn: Connection, filters: Filters) -> sa.ColumnElement[bool] | None:
    """The condition on ``stage_customers`` that selects each stage's customers in the filters' period, or None when
    only the events can tell (or the table is not current). A period open at one end: the first or last event in
    it. A period of whole months: a bit of ``months`` in it. Another period: the first or last event in it, where no
    customer has events at a stage both before and after the period (checked), else None."""
    spec = derived.current_spec(conn, schema.stage_customers)
    if spec is None or not spec.startswith(STAGE_CUSTOMERS_SPEC) or not spec.endswith(_SHAPE):
        return None
    period, sc = filters.period, schema.stage_customers.c
    if period.start is None or period.end is None:
        return _first_or_last_inside(period)
    first_month = derived.spec_month(spec, "months from")  # bit 0 of ``months`` (None: the column is empty)
    if first_month is not None and activity.whole_months(period) is not None:
        lo = max(months_between(first_month, period.start), 0)
        hi = min(months_between(first_month, period.end), MONTH_BITS)  # no events beyond the data's months
        bits = sum(1 << k for k in range(lo, hi))
        return has_bits(sc.months, bits) if bits else sa.false()
    after = sa.not_(period.before_end(sc.last_at))  # last_at is never null
    before = sc.first_at < sa.bindparam(None, period.start, type_=schema.TIMESTAMP)
    straddle = conn.execute(sa.select(sa.literal(1)).where(before, after).limit(1)).first()
    return _first_or_last_inside(period) if straddle is None else None


def stage_customers_stored(conn: Connection, filters: Filters) -> bool:
    """Whether :func:`customers_per_stage_query` can read ``stage_customers`` for these filters."""
    return stored_period(conn, filters) is not None


def refresh_stage_customers(conn: Connection) -> int:
    """Rebuilds ``stage_customers`` from every journey event, with the months of each customer's events at each stage
    (when the events span at most 62 months) and the customer's attributes the events carry (on a connection in a
    write transaction)."""
    sc, e = schema.stage_customers, schema.journey_events.c
    derived.recreate(conn, sc)
    rows, first, last = derived.source(conn)  # the events' count and time range
    first_month = date(first.year, first.month, 1) if first is not None else None
    if first_month is not None and months_between(first_month, last) >= MONTH_BITS:
        first_month = None
    months = bit_or(month_bit(e.occurred_at, first_month)) if first_month else sa.cast(sa.null(), sa.BigInteger)
    copies = list(schema.COPY_COLUMNS)
    names = ["stage_id", "customer_id", "first_at", "last_at", "months", *copies]
    # a range of customers at a time, as the funnel's attempts: one grouping of every event holds a group per
    # stage and customer (34M at 10M customers, 11 GB on chDB)
    for customers in derived.customer_ranges(conn, rows):
        grouped = (
            sa.select(
                e.stage_id,
                e.customer_id,
                sa.func.min(e.occurred_at),
                sa.func.max(e.occurred_at),
                months,
                *(sa.func.min(e[c]) for c in copies),  # one value per customer
            )
            .where(customers.on(e.customer_id))
            .group_by(e.stage_id, e.customer_id)
        )
        conn.execute(sa.insert(sc).from_select(names, grouped))
    return derived.mark_built(conn, sc, _spec(first_month))


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


def summed_ways(
    pieces: sa.Subquery,
    chosen: list[metrics.Metric],
    ways: dict[str, tuple[dict[str, sa.ColumnElement], sa.ColumnElement[bool]]],
) -> sa.Select:
    """The ``chosen`` metrics summed several ways from one read of ``pieces`` (their aggregate pieces, counts and
    sums, which add up, per some grouping): each of ``ways`` is a name, the key columns its rows carry (by name) and
    the condition on ``pieces`` of the rows it sums. Every piece row is set beside a small table of the ways, keyed
    and summed, and each metric's value formula is applied to every sum. A row carries the keys of its way; the keys
    of the other ways are empty (ClickHouse would run a CTE or each part of a UNION ALL again, re-reading the source
    for every way)."""
    names = [c.name for m in chosen for c in metrics.aggregate_columns(m)]
    keys = list(dict.fromkeys(k for columns, _ in ways.values() for k in columns))
    table = constant_rows("ways", ("way",), [(w,) for w in ways])
    way = table.c.way
    keyed = (
        sa.select(
            *(
                sa.case(*((way == w, columns[k]) for w, (columns, _) in ways.items() if k in columns)).label(k)
                for k in keys
            ),
            *(pieces.c[n] for n in names),
        )
        .select_from(pieces.join(table, sa.true()))
        .where(sa.or_(*(sa.and_(way == w, condition) for w, (_, condition) in ways.items())))
        .subquery("keyed")
    )
    grouped = [keyed.c[k] for k in keys]
    summed = sa.select(*grouped, *(sa.func.sum(keyed.c[n]).label(n) for n in names)).group_by(*grouped)
    summed = summed.subquery("summed")
    return sa.select(*(summed.c[k] for k in keys), *(c for m in chosen for c in metrics.value_columns(m, summed)))


def metric_per_stage_and_overall_query(source: sa.Table, chosen: list[metrics.Metric], filters: Filters) -> sa.Select:
    """:func:`metric_per_stage_query`'s rows and the same metrics over every row (``stage_id`` empty), from one read
    of the source (:func:`summed_ways`). No row at all when the source has none in the period."""
    time_column = source.c[chosen[0].time_column]
    pieces = (
        sa.select(source.c.stage_id.label("stage_id"), *(c for m in chosen for c in metrics.aggregate_columns(m)))
        .where(filters.where(time_column, source.c.customer_id))
        .group_by(source.c.stage_id)
        .subquery("pieces")
    )
    stage = pieces.c.stage_id
    return summed_ways(pieces, chosen, {"stage": ({"stage_id": stage}, stage.is_not(None)), "whole": ({}, sa.true())})


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
    source = metric.source
    where = [source.c.stage_id == stage_id, _on_line(source, line)]
    if by == PROBLEM_TYPE:
        group = sa.func.coalesce(source.c.category, "(none)").label("value")
    else:
        group = sa.func.coalesce(source.c[schema.attribute_column(by)], "(none)").label("value")  # the row's copy
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
    within = stored_period(conn, filters)
    query = customers_per_stage_query(filters, stored=within if within is not None else False)
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
