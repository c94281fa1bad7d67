"""Support quality by line, agent and problem cluster; the escalation flow; support and churn.

Tickets count in the period by ``opened_at``. A ticket belongs to line 1, 2 or 3 by ``final_line`` (the highest line
that worked on it), to the ``bot`` row when it entered through the bot (whatever line it ended on), and to ``all``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import metrics, schema
from data_access.filters import Filters, Period
from data_access.i18n import N_
from data_access.queries import kpis
from data_access.store import fetch_frame, side_by_side
from data_access.store.dialect import (
    EACH_VALUE,
    QUANTILE_IF,
    constant_rows,
    each_value,
    epoch_ms,
    period_date,
    period_start,
    quantile_if,
)

t = schema.tickets
LINES = ("1", "2", "3", "bot", "all")
LINE_METRICS = ("fcr", "ticket_csat", "reopen_rate", "escalation_rate", "containment", "verified_containment")
MEASURES = {"first_response": t.c.first_response_at, "resolution": t.c.resolved_at}
# Service levels per line, in seconds: first response and resolution (breaches are counted against them).
SLA_SECONDS: dict[str, dict[str, int]] = {
    "1": {"first_response": 5 * 60, "resolution": 4 * 3600},
    "2": {"first_response": 60 * 60, "resolution": 24 * 3600},
    "3": {"first_response": 4 * 3600, "resolution": 72 * 3600},
}
CLI_COLUMNS = (
    "line", "tickets", "fcr", "fcr_n", "csat", "csat_n", "median_first_response_seconds", "median_resolution_seconds",
    "p90_resolution_seconds", "reopen_rate", "escalation_rate", "containment", "verified_containment",
)  # fmt: skip


LINE_KINDS = ("line", "bot", "all")  # the rows of the line table: the three lines, the bot's entries, all tickets


def _line_parts(
    columns: Callable[[sa.ColumnElement], list[sa.ColumnElement]], *where: sa.ColumnElement[bool]
) -> list[sa.Select]:
    """``columns(line label)`` of the tickets of each row kind of the line table, a select each for a UNION ALL:
    the three lines by ``final_line``, then the tickets that entered through the bot, then all tickets. For what
    does not add up (percentiles): a part per kind reads the tickets again, where setting every ticket beside the
    line rows took three times as long on chDB at 1M customers."""
    parts = []
    for kind in LINE_KINDS:
        label = sa.cast(t.c.final_line if kind == "line" else sa.literal(kind), sa.String(8))
        part = sa.select(*columns(label)).select_from(t).where(*where)
        parts.append(part.where(t.c.entry_channel == "bot") if kind == "bot" else part)
    return parts


def _line_rows(
    pieces: Callable[[], list[sa.Label]],
    where: sa.ColumnElement[bool],
    keys: tuple[sa.Label, ...] = (),
    least: tuple[str, ...] = (),
) -> sa.Subquery:
    """Each row of the line table (``line``, with ``keys``) and the sums of the tickets' additive ``pieces`` (the
    least, for the names in ``least``): one pass groups the tickets by line, by whether they entered through the
    bot and by ``keys`` (a handful of rows), and those rows are summed each way. Every statement in ``pieces`` (the
    verified containment's set of followed tickets, say) runs once."""
    from_bot = sa.case((t.c.entry_channel == "bot", 1), else_=0).label("from_bot")
    grouped = (
        sa.select(t.c.final_line.label("final_line"), from_bot, *keys, *pieces())
        .where(where)
        .group_by(t.c.final_line, from_bot, *keys)
        .subquery("line_pieces")
    )
    names = [c.name for c in grouped.c if c.name not in ("final_line", "from_bot", *(k.name for k in keys))]
    kinds = constant_rows("line_rows", ("kind",), [(k,) for k in LINE_KINDS])
    kind = kinds.c.kind
    label = sa.case(
        (kind == "line", sa.cast(grouped.c.final_line, sa.String(8))), (kind == "bot", "bot"), else_="all"
    ).label("line")
    rolled = [(sa.func.min if n in least else sa.func.sum)(grouped.c[n]).label(n) for n in names]
    return (
        sa.select(label, *(grouped.c[k.name] for k in keys), *rolled)
        .select_from(grouped.join(kinds, sa.true()))
        .where(sa.or_(kind != "bot", grouped.c.from_bot == 1))
        .group_by(label, *(grouped.c[k.name] for k in keys))
        .subquery("line_aggregates")
    )


def _line_label(frame: pl.DataFrame, column: str = "line") -> pl.DataFrame:
    """Line labels as text ("1", not "1.0", whatever the database's cast gives)."""
    return frame.with_columns(pl.col(column).cast(pl.String).str.replace(r"\.0$", ""))


def _sla_limit_ms(measure: str) -> sa.ColumnElement:
    """The ticket's service level for ``measure`` in ms, by the line it ended on."""
    return sa.case(*((t.c.final_line == int(line), sla[measure] * 1000) for line, sla in SLA_SECONDS.items()))


def _in_period(filters: Filters) -> sa.ColumnElement[bool]:
    return filters.where(t.c.opened_at, t.c.customer_id)


def lines_query(filters: Filters, verify_days: int) -> sa.Select:
    """Per line: tickets, backlog, SLA breaches and every line metric's value and n."""
    chosen = [metrics.METRICS[m] for m in LINE_METRICS]
    params = {"verify_days": verify_days}
    breaches = [
        metrics.count_if(
            sa.and_(column.is_not(None), epoch_ms(column) - epoch_ms(t.c.opened_at) > _sla_limit_ms(measure))
        ).label(f"{measure}_breaches")
        for measure, column in MEASURES.items()
    ]
    inner = _line_rows(
        lambda: [
            sa.func.count().label("tickets"),
            metrics.count_if(t.c.resolved_at.is_(None)).label("open"),
            sa.func.min(sa.case((t.c.resolved_at.is_(None), t.c.opened_at))).label("oldest_open"),
            *breaches,
            *(c for m in chosen for c in metrics.aggregate_columns(m, params)),
        ],
        _in_period(filters),
        least=("oldest_open",),
    )
    passed = [inner.c[c] for c in ("line", "tickets", "open", "oldest_open", *(f"{m}_breaches" for m in MEASURES))]
    return sa.select(*passed, *(c for m in chosen for c in metrics.value_columns(m, inner)))


def line_durations_query(filters: Filters, dialect: str = "") -> sa.Select:
    """Median and p90 seconds to first response and to resolution per line row."""
    parts = [
        part
        for name, col in MEASURES.items()
        for part in _line_parts(
            lambda line, name=name, col=col: [
                line.label("line"),
                sa.cast(sa.literal(name), sa.String(16)).label("measure"),
                (epoch_ms(col) - epoch_ms(t.c.opened_at)).label("ms"),
            ],
            _in_period(filters),
            col.is_not(None),
        )
    ]
    values = sa.union_all(*parts).subquery("line_durations")
    return metrics.percentile_query(values, ["line", "measure"], "ms", dialect=dialect)


def durations_query(
    filters: Filters, groups: list[sa.ColumnElement], from_: sa.FromClause, dialect: str = ""
) -> sa.Select:
    """Median and p90 of seconds to first response and to resolution, per ``groups`` and measure."""
    parts = [
        sa.select(*groups, sa.literal(name).label("measure"), (epoch_ms(col) - epoch_ms(t.c.opened_at)).label("ms"))
        .select_from(from_)
        .where(_in_period(filters), col.is_not(None))
        for name, col in MEASURES.items()
    ]
    values = sa.union_all(*parts).subquery("durations")
    return metrics.percentile_query(values, [*(g.name for g in groups), "measure"], "ms", dialect=dialect)


def _durations_wide(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Long (keys, measure, p50, p90) -> one row per key with median/p90 seconds per measure."""
    if frame.height == 0:
        return pl.DataFrame(schema=dict.fromkeys(keys, pl.String))
    done = metrics.with_percentiles(frame, scale=1000).with_columns(pl.col(k).cast(pl.String) for k in keys)
    wide = None
    for name in MEASURES:
        part = done.filter(pl.col("measure") == name).select(
            *keys,
            pl.col("p50").alias(f"median_{name}_seconds"),
            pl.col("p90").alias(f"p90_{name}_seconds"),
        )
        wide = part if wide is None else wide.join(part, on=keys, how="full", coalesce=True)
    return wide


def _finish(frame: pl.DataFrame, chosen: tuple[str, ...], min_n: int) -> pl.DataFrame:
    for name in chosen:
        frame = metrics.finish(frame, metrics.METRICS[name], min_n)
    return frame


def _one_pass_durations_query(filters: Filters, keys: list[sa.ColumnElement] | None) -> sa.Select:
    """On ClickHouse, :func:`line_durations_query` (``keys`` None) or :func:`durations_query` as one read of the
    tickets: per group each measure's ``n_<measure>`` and percentiles (``p50_<measure>``...) side by side through
    ``-If`` combinators, and each ticket in each of its line rows (``each_value``), where the UNION ALL read the
    tickets once per measure and line row (six times for the line table)."""
    if keys is None:
        bot = sa.case((t.c.entry_channel == "bot", sa.literal("bot")))
        keys = [each_value(sa.cast(t.c.final_line, sa.String(8)), bot, sa.literal("all")).label("line")]
    spans = [(epoch_ms(col) - epoch_ms(t.c.opened_at)).label(f"ms_{name}") for name, col in MEASURES.items()]
    rows = sa.select(*keys, *spans).where(_in_period(filters)).subquery("ticket_durations")
    columns = []
    for name in MEASURES:
        x = rows.c[f"ms_{name}"]
        columns.append(metrics.count_if(x.is_not(None)).label(f"n_{name}"))
        for label, p in metrics.PERCENTILES:
            columns.append(quantile_if(x, sa.literal(p, sa.Float()), x.is_not(None)).label(f"{label}_{name}"))
    group = [rows.c[k.name] for k in keys]
    return sa.select(*group, *columns).group_by(*group)


def _timing(conn: Connection, filters: Filters, keys: list[sa.ColumnElement] | None = None) -> pl.DataFrame:
    """Median and p90 seconds to first response and to resolution per ``keys`` (per row of the line table when
    None), wide (:func:`_durations_wide`)."""
    names = [k.name for k in keys] if keys is not None else ["line"]
    dialect = conn.dialect.name
    if dialect not in QUANTILE_IF or (keys is None and dialect not in EACH_VALUE):
        stmt = line_durations_query(filters, dialect) if keys is None else durations_query(filters, keys, t, dialect)
        frame = fetch_frame(conn, stmt, dict.fromkeys(names, pl.String) if keys is None else None)
        return _durations_wide(frame, names)
    wide = fetch_frame(conn, _one_pass_durations_query(filters, keys))
    parts = [  # the long rows of the UNION ALL form: a group and measure without a value has no row
        wide.filter(pl.col(f"n_{name}") > 0).select(
            *names,
            pl.lit(name).alias("measure"),
            pl.col(f"n_{name}").alias("n"),
            *(
                e
                for label, _p in metrics.PERCENTILES
                for e in (
                    pl.col(f"{label}_{name}").cast(pl.Float64).alias(f"{label}_low"),
                    pl.lit(None, pl.Float64).alias(f"{label}_high"),
                    pl.lit(0.0).alias(f"{label}_frac"),
                )
            ),
        )
        for name in MEASURES
    ]
    return _durations_wide(pl.concat(parts), names)


def lines(conn: Connection, filters: Filters, verify_days: int = metrics.VERIFY_DAYS, min_n: int = 30) -> pl.DataFrame:
    """One row per line in LINES order (lines without tickets included, with nulls)."""
    raw = _line_label(fetch_frame(conn, lines_query(filters, verify_days), {"line": pl.String}))
    timing = _timing(conn, filters)
    timing = _line_label(timing) if timing.height else timing
    frame = pl.DataFrame({"line": list(LINES)}).join(raw, on="line", how="left")
    frame = (
        frame.join(timing, on="line", how="left")
        if timing.height
        else frame.with_columns(
            *(pl.lit(None, pl.Float64).alias(f"{s}_{m}_seconds") for m in MEASURES for s in ("median", "p90"))
        )
    )
    frame = frame.with_columns(
        pl.col("tickets").fill_null(0).cast(pl.Int64),
        pl.col("open").fill_null(0).cast(pl.Int64),
        *(pl.col(f"{m}_breaches").fill_null(0).cast(pl.Int64) for m in MEASURES),
    )
    total = frame.filter(pl.col("line") == "all")["tickets"][0]
    frame = frame.with_columns(
        metrics.percent(pl.col("tickets"), pl.lit(total)).alias("share"),
        # containment speaks of the tickets that entered through the bot only
        *(pl.when(pl.col("line") == "bot").then(pl.col(c)).alias(c) for c in ("containment", "verified_containment")),
    )
    return _finish(frame, LINE_METRICS, min_n)


def trend_query(filters: Filters, grain: str, verify_days: int, metric: str) -> sa.Select:
    chosen = metrics.METRICS[metric]
    when = period_start(t.c.opened_at, grain)
    inner = _line_rows(
        lambda: [sa.func.count().label("tickets"), *metrics.aggregate_columns(chosen, {"verify_days": verify_days})],
        _in_period(filters),
        keys=(when.label("period"),),
    )
    return sa.select(inner.c.line, inner.c.period, inner.c.tickets, *metrics.value_columns(chosen, inner))


def trend(
    conn: Connection, filters: Filters, grain: str, verify_days: int, min_n: int, metric: str = "fcr"
) -> pl.DataFrame:
    """Per line and week or month: tickets and one line metric (value, n, interval)."""
    if metric not in LINE_METRICS:
        raise ValueError(f"metric must be one of {LINE_METRICS}")
    raw = fetch_frame(conn, trend_query(filters, grain, verify_days, metric), {"line": pl.String})
    if raw.height == 0:
        return raw
    raw = _line_label(raw).with_columns(period_date("period"), pl.col("tickets").cast(pl.Int64))
    return _finish(raw, (metric,), min_n).sort("line", "period")


def _grouped(
    conn: Connection,
    filters: Filters,
    keys: list[sa.ColumnElement],
    chosen: tuple[str, ...],
    *where: sa.ColumnElement[bool],
) -> pl.DataFrame:
    """Tickets and the ``chosen`` metrics (value, n, pieces) per ``keys`` in the period."""
    stmt = kpis.metric_query(
        t, [metrics.METRICS[m] for m in chosen], filters, keys, *where, extra=(sa.func.count().label("tickets"),)
    )
    return fetch_frame(conn, stmt, {k.name: pl.String for k in keys if k.name != "final_line"})


def agents(conn: Connection, filters: Filters, min_n: int) -> pl.DataFrame:
    """Per line and agent: tickets, FCR, CSAT, reopen rate (with n and interval), median and p90 resolution, and
    whether the agent leaves requests unresolved: FCR significantly below the rest of the line's agents."""
    chosen = ("fcr", "ticket_csat", "reopen_rate")
    line = t.c.final_line.label("final_line")
    raw = _grouped(conn, filters, [line, t.c.agent_id], chosen, t.c.agent_id.is_not(None))
    if raw.height == 0:
        return raw
    timing = _timing(conn, filters, [t.c.final_line, t.c.agent_id])
    raw = raw.with_columns(pl.col("final_line").cast(pl.String), pl.col("tickets").cast(pl.Int64))
    k = raw.select("final_line", "agent_id", "fcr__k", "fcr_n")
    frame = _finish(raw.join(timing, on=["final_line", "agent_id"], how="left"), chosen, min_n)
    flags = []
    for r in k.iter_rows(named=True):
        line_rows = k.filter(pl.col("final_line") == r["final_line"])
        rest_k = int(line_rows["fcr__k"].sum() - (r["fcr__k"] or 0))
        rest_n = int(line_rows["fcr_n"].sum() - r["fcr_n"])
        n, hits = int(r["fcr_n"]), int(r["fcr__k"] or 0)
        p = metrics.two_proportion_p_value(hits, n, rest_k, rest_n)
        worse = (
            n >= min_n
            and rest_n > 0
            and p is not None
            and p < metrics.SIGNIFICANCE_LEVEL
            and hits / n < rest_k / rest_n
        )
        flags.append(worse)
    frame = frame.with_columns(pl.Series("leaves_unresolved", flags))
    return frame.sort("final_line", "agent_id")


def clusters(conn: Connection, filters: Filters, min_n: int) -> pl.DataFrame:
    """Per problem category and line (and ``all``): tickets, FCR, CSAT, median resolution."""
    chosen = ("fcr", "ticket_csat")
    line = sa.cast(t.c.final_line, sa.String(8)).label("line")
    raw = _grouped(conn, filters, [t.c.category, line], chosen)
    if raw.height == 0:
        return raw
    timing = _timing(conn, filters, [t.c.category, sa.cast(t.c.final_line, sa.String(8)).label("line")])
    raw = _line_label(raw).with_columns(pl.col("tickets").cast(pl.Int64))
    timing = _line_label(timing) if timing.height else timing
    frame = _finish(raw.join(timing, on=["category", "line"], how="left"), chosen, min_n)
    return frame.sort("category", "line")


def cluster_sources(conn: Connection, filters: Filters) -> pl.DataFrame:
    """Tickets per category and the journey stage where the problem arose."""
    stmt = (
        sa.select(t.c.category, t.c.stage_id, sa.func.count().label("tickets"))
        .where(_in_period(filters))
        .group_by(t.c.category, t.c.stage_id)
        .order_by(t.c.category, sa.func.count().desc())
    )
    return fetch_frame(conn, stmt, {"category": pl.String, "stage_id": pl.String, "tickets": pl.Int64})


SPIKE_SCHEMA = {
    "segment": pl.String,
    "category": pl.String,
    "last_week": pl.Date,
    "tickets": pl.Int64,
    "baseline": pl.Float64,
    "z": pl.Float64,
}


def cluster_spikes(conn: Connection, filters: Filters, weeks: int = 8, z_alert: float = 3.0) -> pl.DataFrame:
    """A spike of one category in one segment: tickets in the period's last week against the ``weeks`` before
    (z-score of the last week's count over the mean and standard deviation of those weeks)."""
    week = period_start(t.c.opened_at, "week").label("week")
    inner = (
        sa.select(t.c[schema.attribute_column("segment")].label("segment"), t.c.category, week)  # the ticket's copy
        .where(_in_period(filters))
        .subquery("weekly")
    )
    stmt = sa.select(inner.c.segment, inner.c.category, inner.c.week, sa.func.count().label("tickets")).group_by(
        inner.c.segment, inner.c.category, inner.c.week
    )
    raw = fetch_frame(conn, stmt, {"segment": pl.String, "category": pl.String})
    if raw.height == 0:
        return pl.DataFrame(schema=SPIKE_SCHEMA)
    raw = raw.with_columns(period_date("week"), pl.col("tickets").cast(pl.Int64))
    last = raw["week"].max()
    rows = []
    for (segment, category), group in raw.group_by("segment", "category"):
        counts = dict(zip(group["week"].to_list(), group["tickets"].to_list(), strict=True))
        history = [counts.get(last - timedelta(weeks=i), 0) for i in range(1, weeks + 1)]
        mean = sum(history) / weeks
        sd = math.sqrt(sum((h - mean) ** 2 for h in history) / (weeks - 1)) if weeks > 1 else 0.0
        now = counts.get(last, 0)
        z = (now - mean) / sd if sd > 0 else (math.inf if now > mean else 0.0)
        rows.append((segment, category, last, now, mean, z))
    frame = pl.DataFrame(
        rows,
        schema=SPIKE_SCHEMA,
        orient="row",
    )
    return frame.filter(pl.col("z") >= z_alert).sort("z", descending=True)


def flow(conn: Connection, filters: Filters) -> pl.DataFrame:
    """Tickets per entry channel, final line, bot resolution and whether resolved: the escalation flow."""
    resolved = sa.case((t.c.resolved_at.is_not(None), N_("resolved")), else_=N_("still open")).label("outcome")
    stmt = (
        sa.select(t.c.entry_channel, t.c.final_line, t.c.bot_resolved, resolved, sa.func.count().label("tickets"))
        .where(_in_period(filters))
        .group_by(t.c.entry_channel, t.c.final_line, t.c.bot_resolved, resolved)
    )
    return fetch_frame(conn, stmt, {"entry_channel": pl.String, "outcome": pl.String}).with_columns(
        pl.col("final_line").cast(pl.Int64), pl.col("bot_resolved").cast(pl.Boolean), pl.col("tickets").cast(pl.Int64)
    )


def churn_effect(conn: Connection, filters: Filters, low_csat: int = 2) -> pl.DataFrame:
    """Churn in the period of customers with a problem ticket (unresolved, reopened or rated ``low_csat`` or
    below) against the other customers with a ticket, with the difference and its 95% (Wald) interval."""
    problem = sa.or_(t.c.resolved_at.is_(None), t.c.reopened.is_(True), t.c.csat <= low_csat)
    per_customer = (
        sa.select(
            t.c.customer_id,
            sa.func.max(sa.case((problem, 1), else_=0)).label("problem"),
            # the tickets' copies of the churn date: one value per customer, and no join to customers
            sa.func.min(t.c[schema.CHURN_COPY_COLUMN]).label("churned_at"),
        )
        .where(_in_period(filters))
        .group_by(t.c.customer_id)
        .subquery("ticket_customers")
    )
    gone = per_customer.c.churned_at
    churned = sa.and_(gone.is_not(None), filters.period.clause(gone))
    stmt = sa.select(
        per_customer.c.problem, sa.func.count().label("customers"), metrics.count_if(churned).label("churned")
    ).group_by(per_customer.c.problem)
    raw = {int(r.problem): (int(r.customers), int(r.churned or 0)) for r in conn.execute(stmt)}
    (n1, k1), (n0, k0) = raw.get(1, (0, 0)), raw.get(0, (0, 0))
    r1 = k1 / n1 if n1 else None
    r0 = k0 / n0 if n0 else None
    diff = lo = hi = None
    if r1 is not None and r0 is not None:
        diff = r1 - r0
        half = metrics.Z95 * math.sqrt(r1 * (1 - r1) / n1 + r0 * (1 - r0) / n0)
        lo, hi = 100 * (diff - half), 100 * (diff + half)
        diff *= 100
    return pl.DataFrame(
        [
            (N_("with a problem ticket"), n1, k1, None if r1 is None else 100 * r1),
            (N_("other customers with a ticket"), n0, k0, None if r0 is None else 100 * r0),
        ],
        schema={"group": pl.String, "customers": pl.Int64, "churned": pl.Int64, "churn_rate": pl.Float64},
        orient="row",
    ).with_columns(
        pl.lit(diff, pl.Float64).alias("difference"),
        pl.lit(lo, pl.Float64).alias("difference_lo"),
        pl.lit(hi, pl.Float64).alias("difference_hi"),
    )


def cli_rows(conn: Connection, filters: Filters, verify_days: int = metrics.VERIFY_DAYS) -> pl.DataFrame:
    frame = lines(conn, filters, verify_days).rename({"ticket_csat": "csat", "ticket_csat_n": "csat_n"})
    return frame.select(CLI_COLUMNS)


def cluster_trend(conn: Connection, filters: Filters, grain: str) -> pl.DataFrame:
    """Tickets per problem category by week or month."""
    when = period_start(t.c.opened_at, grain).label("period")
    inner = sa.select(t.c.category, when).where(_in_period(filters)).subquery("cluster_periods")
    stmt = sa.select(inner.c.category, inner.c.period, sa.func.count().label("tickets")).group_by(
        inner.c.category, inner.c.period
    )
    raw = fetch_frame(conn, stmt, {"category": pl.String})
    if raw.height == 0:
        return pl.DataFrame(schema={"category": pl.String, "period": pl.Date, "tickets": pl.Int64})
    return raw.with_columns(period_date("period"), pl.col("tickets").cast(pl.Int64)).sort("period", "category")


def cluster_views(engine: Engine, filters: Filters, grain: str, min_n: int) -> dict[str, pl.DataFrame]:
    """The Support page's problem-cluster section, its queries side by side."""
    return side_by_side(
        engine,
        {
            "clusters": lambda c: clusters(c, filters, min_n),
            "trend": lambda c: cluster_trend(c, filters, grain),
            "sources": lambda c: cluster_sources(c, filters),
            "spikes": lambda c: cluster_spikes(c, filters),
        },
    )


def flow_and_churn(engine: Engine, filters: Filters) -> dict[str, pl.DataFrame]:
    """The escalation flow and the churn comparison, side by side."""
    return side_by_side(engine, {"flow": lambda c: flow(c, filters), "churn": lambda c: churn_effect(c, filters)})


LIVE_TICKETS = 10  # rows of the live panel
LIVE_DAYS = 7  # the live panel's CSAT: tickets opened in the last this many days up to the newest ticket


def latest(conn: Connection, filters: Filters, limit: int = LIVE_TICKETS, days: int = LIVE_DAYS) -> dict[str, object]:
    """The live panel: the newest tickets of the filters' customers (whatever the period) and the ticket CSAT of
    the ``days`` up to the newest one, with its n and interval. ``tickets``: opened_at, ticket_id, final_line,
    category, status, csat, segment; ``csat``: a one-row frame; ``newest``: the newest opened_at (or None)."""
    c = schema.customers.c
    status = sa.case(
        (t.c.resolved_at.is_(None), sa.literal(N_("open"))),
        (t.c.reopened.is_(True), sa.literal(N_("reopened"))),
        else_=sa.literal(N_("resolved")),
    ).label("status")
    rows = (
        sa.select(t.c.opened_at, t.c.ticket_id, t.c.final_line, t.c.category, status, t.c.csat, c.segment)
        .join_from(t, schema.customers, c.customer_id == t.c.customer_id)
        .where(filters.customer_clause(t.c.customer_id))
        .order_by(t.c.opened_at.desc(), t.c.ticket_id.desc())
        .limit(limit)
    )
    tickets = fetch_frame(conn, rows, {"ticket_id": pl.String, "category": pl.String, "segment": pl.String})
    last = tickets["opened_at"][0] if tickets.height else None  # the rows are newest first
    metric = metrics.METRICS["ticket_csat"]
    if last is None:
        return {"tickets": tickets, "csat": pl.DataFrame(), "newest": None, "since": None}
    since = last - timedelta(days=days)
    window = filters.with_period(Period(since, last, end_inclusive=True))
    csat = metrics.finish(fetch_frame(conn, kpis.metric_query(t, [metric], window, [])), metric, 1)
    return {"tickets": tickets, "csat": csat, "newest": last, "since": since}
