"""The leadership overview: the headline figures of a window of whole calendar months against the window of equal
length just before it, each with its month-by-month line over the last twelve months.

Windows are whole months ending with the last complete month of the chosen period (a period ending on 15 October
ends its window with September). Customer filters apply to everything; the period only places the windows.

Definitions (each formula is here once; the README repeats them):
- active customers: distinct customers with a journey event or an order in the window (month: in the month);
- retention rate: customers active in the previous window who are active in this one, over customers active in
  the previous window (month: active in the month before and in this one, over active in the month before);
- churn rate: customers whose ``churned_at`` falls in the window over customers signed up before its start and
  not churned by then (the Retention page's definition, over the window);
- reactivation rate: customers who churned before the window's start and are active (an event or an order after
  ``churned_at``) in it, over customers who churned before its start;
- NPS, CSAT, FCR: the metrics layer's formulas over every stage's answers and tickets in the window, with n;
- revenue: the sum of order amounts in the window;
- average CLV: every order amount up to the window's end over the customers signed up by then (lifetime value so
  far per customer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import i18n, metrics, schema
from data_access.filters import Filters, Period
from data_access.i18n import N_, _
from data_access.queries import activity, catalog, funnel, kpis, retention, risk, support, why
from data_access.store import fetch_frame, side_by_side
from data_access.store.dialect import (
    add_months,
    bit_or,
    has_bits,
    month_bit,
    months_between,
    period_date,
    period_start,
)

cu = schema.customers
od = schema.orders
HORIZONS = {"month": 1, "quarter": 3, "half-year": 6}
HORIZONS_SHOWN = {"month": N_("month"), "quarter": N_("quarter"), "half-year": N_("half-year")}
SPARK_MONTHS = 12


def _at(day: date) -> datetime:
    return datetime.combine(day, time())


@dataclass(frozen=True)
class Windows:
    """The current window (``months`` whole months ending the day before ``end``), the previous one of equal length,
    and the first month of the month-by-month lines."""

    months: int
    end: date  # a first of month: the day after the current window

    @property
    def current_first(self) -> date:
        return add_months(self.end, -self.months)

    @property
    def previous_first(self) -> date:
        return add_months(self.end, -2 * self.months)

    @property
    def earlier_first(self) -> date:
        """The window before the previous one (the previous window's retention looks back at it)."""
        return add_months(self.end, -3 * self.months)

    @property
    def scan_first(self) -> date:
        """The first month activity is read from: the lines' first month needs the month before it."""
        return min(self.earlier_first, add_months(self.spark_first, -1))

    @property
    def spark_first(self) -> date:
        return add_months(self.end, -max(SPARK_MONTHS, 2 * self.months))

    def current(self) -> Period:
        return Period(_at(self.current_first), _at(self.end))

    def previous(self) -> Period:
        return Period(_at(self.previous_first), _at(self.current_first))

    def caption(self) -> str:
        def span(first: date, end: date) -> str:
            last = end - timedelta(days=1)
            if self.months == 1:
                return i18n.short_month(first)
            return _("{start} to {end}").format(start=i18n.short_month(first), end=i18n.short_month(last))

        return _("{current} against {previous}; lines: month by month from {first}").format(
            current=span(self.current_first, self.end),
            previous=span(self.previous_first, self.current_first),
            first=i18n.short_month(self.spark_first),
        )


def windows_ending(last_day: date, months: int) -> Windows:
    """The windows that end with the last complete calendar month on or before ``last_day``."""
    if months < 1:
        raise ValueError("a window is at least one month")
    return Windows(months, (last_day + timedelta(days=1)).replace(day=1))


@dataclass(frozen=True)
class Card:
    key: str
    label: str
    unit: str  # "count", "%", "points", "money"
    higher_is_better: bool
    page: str  # the page that explains it
    survey: bool = False  # a survey figure: shown with its n


CARDS = (
    Card("active", N_("Active customers"), "count", True, "retention"),
    Card("retention", N_("Retention rate"), "%", True, "retention"),
    Card("churn", N_("Churn rate"), "%", False, "churn_warning"),
    Card("reactivation", N_("Reactivation rate"), "%", True, "retention"),
    Card("nps", "NPS", "points", True, "stage_kpis", survey=True),
    Card("csat", "CSAT", "%", True, "stage_kpis", survey=True),
    Card("fcr", "FCR", "%", True, "support", survey=True),
    Card("revenue", N_("Revenue"), "money", True, "retention"),
    Card("clv", N_("Average CLV"), "money", True, "retention"),
)


def _ts(day: date) -> sa.BindParameter:
    return sa.bindparam(None, _at(day), type_=schema.TIMESTAMP)


def _line_months(w: Windows) -> list[date]:
    """The first day of every month of the lines."""
    count = (w.end.year - w.spark_first.year) * 12 + w.end.month - w.spark_first.month
    return [add_months(w.spark_first, k) for k in range(count)]


def _activity_rows(filters: Filters, w: Windows, first: date, *, after_churn: bool = False) -> sa.Subquery:
    """(customer, ts) of the filtered customers' journey events and orders from the month ``first`` to the
    window's end, the customer by their number; with ``after_churn`` only the ones after their customer's
    ``churned_at``. Rows not numbered yet (written around a load, until ``refresh``) are left out."""
    parts = []
    for table, column in retention.ACTIVITY:
        ts, key = table.c[column], table.c[retention.KEY]
        stmt = sa.select(key.label("customer"), ts.label("ts")).where(
            ts >= _ts(first), ts < _ts(w.end), key > 0, filters.customer_clause(table.c.customer_id)
        )
        if after_churn:  # the row's own copy of its customer's churn date: no join to customers
            churned = table.c[retention.CHURNED]
            stmt = stmt.where(churned.is_not(None), ts > churned)
        parts.append(stmt)
    return sa.union_all(*parts).subquery("every_activity")


def _masks(rows: sa.Subquery, first: date) -> sa.Subquery:
    """Each customer's months of (customer, ts) rows as the bits of one integer ``mask``, bit k for month first + k."""
    return (
        sa.select(rows.c.customer, bit_or(month_bit(rows.c.ts, first)).label("mask"))
        .group_by(rows.c.customer)
        .subquery("per_customer")
    )


def _activity_masks(
    conn: Connection, filters: Filters, w: Windows, *, after_churn: bool = False
) -> tuple[sa.Subquery, date]:
    """The filtered customers' months of activity (with ``after_churn``, of their activity after their churn date)
    and the month of their bit 0: from ``customer_activity`` where it is current and reaches back to
    ``w.scan_first``, else from the raw events and orders."""
    origin = activity.stored_origin(conn, w.scan_first, w.end)
    if origin is None:
        first = w.spark_first if after_churn else w.scan_first  # reactivation needs the lines' months only
        return _masks(_activity_rows(filters, w, first, after_churn=after_churn), w.scan_first), w.scan_first
    ca = schema.customer_activity.c
    stored = sa.select((ca.months_back if after_churn else ca.months).label("mask"))
    return stored.where(filters.customer_clause(ca.customer_id)).subquery("per_customer"), origin


def _presence(conn: Connection, masks: sa.Subquery, first: date, w: Windows) -> tuple[pl.DataFrame, dict[str, int]]:
    """Over each customer's months (``masks``: bit k = month ``first`` + k, ``first`` at or before ``w.scan_first``;
    months before ``w.scan_first`` are never read): per month of the lines the customers present (``present``),
    present the month before (``before``) and in both (``kept``); per window the customers present (``current``,
    ``previous``, ``earlier``) and present in a window and in the one before it (``kept``, ``kept_before``).

    One pass: every figure is a sum over customers of a test on their bits."""
    mask = masks.c.mask

    def count(*bits: int) -> sa.ColumnElement:
        """Customers with at least one of each set of ``bits``."""
        present = sa.and_(*(has_bits(mask, b) for b in bits))
        return sa.func.sum(sa.case((present, 1), else_=0))

    months = _line_months(w)
    index = [months_between(first, m) for m in months]
    windows = {
        "current": activity.span(first, w.current_first, w.end),
        "previous": activity.span(first, w.previous_first, w.current_first),
        "earlier": activity.span(first, w.earlier_first, w.previous_first),
    }
    totals: dict[str, sa.ColumnElement] = {}
    for k in index:
        totals[f"present_{k}"] = count(1 << k)
        totals[f"before_{k}"] = count(1 << (k - 1)) if k > 0 else sa.literal(0)
        totals[f"kept_{k}"] = count(1 << k, 1 << (k - 1)) if k > 0 else sa.literal(0)
    totals |= {name: count(bits) for name, bits in windows.items()}
    totals["kept"] = count(windows["current"], windows["previous"])
    totals["kept_before"] = count(windows["previous"], windows["earlier"])
    row = conn.execute(sa.select(*(v.label(k) for k, v in totals.items()))).one()._mapping
    got = {k: int(row[k] or 0) for k in totals}
    series = pl.DataFrame(
        {
            "month": months,
            "present": [got[f"present_{k}"] for k in index],
            "before": [got[f"before_{k}"] for k in index],
            "kept": [got[f"kept_{k}"] for k in index],
        },
        schema={"month": pl.Date, "present": pl.Int64, "before": pl.Int64, "kept": pl.Int64},
    )
    return series, {k: got[k] for k in ("current", "previous", "earlier", "kept", "kept_before")}


def _money(conn: Connection, filters: Filters) -> pl.DataFrame:
    """Revenue per month over all time (the CLV needs every order up to a date)."""
    month = period_start(od.c.ordered_at, "month")
    stmt = (
        sa.select(month.label("month"), sa.func.sum(od.c.amount).label("revenue"))
        .where(filters.customer_clause(od.c.customer_id))
        .group_by(month)
    )
    frame = fetch_frame(conn, stmt)
    if frame.height == 0:
        return pl.DataFrame(schema={"month": pl.Date, "revenue": pl.Float64})
    return frame.with_columns(period_date("month"), pl.col("revenue").cast(pl.Float64))


def _rated_query(source: sa.Table, group: list[metrics.Metric], filters: Filters, w: Windows) -> sa.Select:
    """The metrics of one source per month of the lines, per window, and per stage in the current window, in one
    statement: the pieces per month and stage (counts and sums, which add up) are summed each way, and each
    metric's own value formula is applied to every sum. Rows carry ``month``, ``window`` or ``stage_id``."""
    ts = source.c[group[0].time_column]
    month = period_start(ts, "month")
    pieces = (
        sa.select(
            month.label("month"),
            source.c.stage_id.label("stage_id"),
            *(c for m in group for c in metrics.aggregate_columns(m)),
        )
        .where(filters.with_period(Period(_at(w.spark_first), _at(w.end))).where(ts, source.c.customer_id))
        .group_by(month, source.c.stage_id)
        .subquery("pieces")
    )
    # the pieces are read once, each beside the three ways of summing them: by month, by window (from the previous
    # window on), by stage (current window)
    window = sa.case(
        (pieces.c.month >= _day(w.current_first), "current"),
        (pieces.c.month >= _day(w.previous_first), "previous"),
    )
    ways = {
        "month": ({"month": pieces.c.month}, sa.true()),
        "window": ({"window": window}, pieces.c.month >= _day(w.previous_first)),
        "stage": (
            {"stage_id": pieces.c.stage_id},
            sa.and_(pieces.c.month >= _day(w.current_first), pieces.c.stage_id.is_not(None)),
        ),
    }
    return kpis.summed_ways(pieces, group, ways)


def _survey_and_tickets(conn: Connection, filters: Filters, w: Windows, min_n: int) -> dict[str, pl.DataFrame]:
    """Every metric of the stages (CSAT, NPS, CES, FCR) over all stages per month of the lines (``monthly``), per
    window (``windows``), and per stage in the current window (``stages``)."""
    out: dict[str, pl.DataFrame | None] = {"monthly": None, "windows": None, "stages": None}
    for source_name, group in metrics.STAGE_METRICS_BY_SOURCE.items():
        frame = fetch_frame(
            conn,
            _rated_query(schema.TABLES_BY_NAME[source_name], group, filters, w),
            {"window": pl.String, "stage_id": pl.String},
        )
        for metric in group:
            frame = metrics.finish(frame, metric, min_n)
        parts = {
            "monthly": frame.filter(pl.col("month").is_not_null())
            .drop("window", "stage_id")
            .with_columns(period_date("month")),
            "windows": frame.filter(pl.col("window").is_not_null()).drop("month", "stage_id"),
            "stages": frame.filter(pl.col("stage_id").is_not_null()).drop("month", "window"),
        }
        for kind, key in (("monthly", "month"), ("windows", "window"), ("stages", "stage_id")):
            have = out[kind]
            out[kind] = parts[kind] if have is None else have.join(parts[kind], on=key, how="full", coalesce=True)
    return out


def _day(day: date) -> sa.BindParameter:
    """A first of month to compare with :func:`period_start` results (dates, or ISO text on SQLite)."""
    return sa.bindparam(None, day, type_=sa.Date)


CARD_SCHEMA = {
    "key": pl.String,
    "value": pl.Float64,
    "previous": pl.Float64,
    "n": pl.Int64,
    "previous_n": pl.Int64,
    "lo": pl.Float64,
    "hi": pl.Float64,
    "enough": pl.Boolean,
}


def headline_queries(filters: Filters, w: Windows, min_n: int) -> dict[str, Callable[[Connection], Any]]:
    """The headline's independent queries, by name (:func:`load` runs them side by side)."""
    return {
        "activity": lambda c: _presence(c, *_activity_masks(c, filters, w), w),
        "reactivation": lambda c: _presence(c, *_activity_masks(c, filters, w, after_churn=True), w),
        "base": lambda c: retention.customer_base(c, filters, "month").rename({"period": "month"}),
        "money": lambda c: _money(c, filters),
        "rated": lambda c: _survey_and_tickets(c, filters, w, min_n),
        "targets": kpis.stages_and_targets,
    }


def headline(conn: Connection, filters: Filters, w: Windows, min_n: int) -> dict[str, pl.DataFrame]:
    """``cards``: one row per card of :data:`CARDS` (value and previous, their n, the current value's 95% interval
    and whether n is enough where it is a survey figure); ``lines``: key, month, value for the month-by-month
    lines; ``worst``: :func:`worst_stages` in the current window."""
    return headline_from({name: query(conn) for name, query in headline_queries(filters, w, min_n).items()}, w)


def headline_from(parts: dict[str, Any], w: Windows) -> dict[str, pl.DataFrame]:
    """The cards and lines from the results of :func:`headline_queries`."""
    (active, active_w), (back, back_w) = parts["activity"], parts["reactivation"]
    base, money, rated = parts["base"], parts["money"], parts["rated"]

    def before(day: date, frame: pl.DataFrame, column: str) -> float:
        return float(frame.filter(pl.col("month") < day)[column].sum())

    def between(first: date, end: date, frame: pl.DataFrame, column: str) -> float:
        return float(frame.filter((pl.col("month") >= first) & (pl.col("month") < end))[column].sum())

    def base_at(day: date) -> float:
        return metrics.customer_base(before(day, base, "signups"), before(day, base, "churned"))

    def clv(end: date) -> float | None:
        return metrics.clv(before(end, money, "revenue"), before(end, base, "signups"))

    spans = {"value": (w.current_first, w.end), "previous": (w.previous_first, w.current_first)}
    plain: dict[str, dict[str, float | None]] = {
        "active": {"value": active_w["current"], "previous": active_w["previous"]},
        "retention": {
            "value": metrics.RETENTION.of(active_w["kept"], active_w["previous"]),
            "previous": metrics.RETENTION.of(active_w["kept_before"], active_w["earlier"]),
        },
        "churn": {k: metrics.CHURN.of(between(*span, base, "churned"), base_at(span[0])) for k, span in spans.items()},
        "reactivation": {
            "value": metrics.REACTIVATION.of(back_w["current"], before(w.current_first, base, "churned")),
            "previous": metrics.REACTIVATION.of(back_w["previous"], before(w.previous_first, base, "churned")),
        },
        "revenue": {k: between(*span, money, "revenue") for k, span in spans.items()},
        "clv": {k: clv(span[1]) for k, span in spans.items()},
    }
    rows = [
        {"key": key, "value": v["value"], "previous": v["previous"], "n": None, "previous_n": None}
        for key, v in plain.items()
    ]
    windows = rated["windows"]
    for key in ("nps", "csat", "fcr"):
        now = windows.filter(pl.col("window") == "current")
        then = windows.filter(pl.col("window") == "previous")

        def pick(frame: pl.DataFrame, column: str) -> object:
            return frame[column][0] if frame.height else None

        rows.append(
            {
                "key": key,
                "value": pick(now, key),
                "previous": pick(then, key),
                "n": pick(now, f"{key}_n") or 0,
                "previous_n": pick(then, f"{key}_n") or 0,
                "lo": pick(now, f"{key}_lo"),
                "hi": pick(now, f"{key}_hi"),
                "enough": pick(now, f"{key}_enough"),
            }
        )
    cards = pl.DataFrame(rows, schema=CARD_SCHEMA)
    cards = pl.DataFrame({"key": [c.key for c in CARDS]}).join(cards, on="key", how="left")

    months = pl.DataFrame({"month": _line_months(w)}, schema={"month": pl.Date})
    monthly = (
        months.join(active.rename({"present": "active"}), on="month", how="left")
        .join(back.select("month", pl.col("present").alias("reactivated")), on="month", how="left")
        .join(base, on="month", how="left")
        .join(money, on="month", how="left")
        .join(rated["monthly"], on="month", how="left")
        .sort("month")
        .with_columns(
            metrics.RETENTION.expr(pl.col("kept"), pl.col("before")).alias("retention"),
            metrics.CHURN.expr(pl.col("churned"), pl.col("base")).alias("churn"),
            metrics.REACTIVATION.expr(pl.col("reactivated"), pl.col("churned_before")).alias("reactivation"),
        )
    )
    # CLV at each month's end: all revenue and signups up to it
    to_date = base.join(money, on="month", how="full", coalesce=True).sort("month")
    to_date = to_date.with_columns(metrics.clv_expr(pl.col("revenue"), pl.col("signups")).alias("clv"))
    monthly = monthly.join(to_date.select("month", "clv"), on="month", how="left")
    lines = monthly.unpivot(on=[c.key for c in CARDS], index="month", variable_name="key", value_name="value").select(
        "key", "month", pl.col("value").cast(pl.Float64)
    )
    stages, targets = parts["targets"]
    per_stage = kpis.with_targets(stages.join(rated["stages"], on="stage_id", how="left"), targets)
    names = dict(stages.select("stage_id", "name").iter_rows())
    return {"cards": cards, "lines": lines, "worst": worst_stages(per_stage), "stage_names": names}


_SEVERITY = {metrics.STATUS_BAD: 2, metrics.STATUS_WARN: 1}


def worst_stages(stage_kpis: pl.DataFrame, count: int = 3) -> pl.DataFrame:
    """The stages in the worst state against their targets: off target before watch, then the furthest from the
    target in units of the target-to-warn band. One row per stage (its worst metric): stage_id, name, metric,
    label, value, n, target, warn, status, gap (bands below target). Stages on target or without enough data
    are not listed."""
    rows = []
    for metric in metrics.STAGE_METRICS.values():
        m = metric.name
        if f"{m}_status" not in stage_kpis.columns:
            continue
        sign = 1.0 if metric.higher_is_better else -1.0
        band = (pl.col(f"{m}_target") - pl.col(f"{m}_warn")).abs()
        rows.append(
            stage_kpis.filter(pl.col(f"{m}_status").is_in(list(_SEVERITY))).select(
                "stage_id",
                "name",
                pl.lit(m).alias("metric"),
                pl.lit(metric.label).alias("label"),
                pl.col(m).alias("value"),
                pl.col(f"{m}_n").alias("n"),
                pl.col(f"{m}_target").alias("target"),
                pl.col(f"{m}_warn").alias("warn"),
                pl.col(f"{m}_status").alias("status"),
                pl.when(band > 0).then(sign * (pl.col(f"{m}_target") - pl.col(m)) / band).otherwise(0.0).alias("gap"),
            )
        )
    schema_ = {
        "stage_id": pl.String,
        "name": pl.String,
        "metric": pl.String,
        "label": pl.String,
        "value": pl.Float64,
        "n": pl.Int64,
        "target": pl.Float64,
        "warn": pl.Float64,
        "status": pl.String,
        "gap": pl.Float64,
    }
    if not rows:
        return pl.DataFrame(schema=schema_)
    every = pl.concat([r.cast(schema_) for r in rows]).with_columns(
        pl.col("status").replace_strict(_SEVERITY, return_dtype=pl.Int64).alias("severity")
    )
    worst = every.sort(["severity", "gap", "stage_id"], descending=[True, True, False]).unique(
        "stage_id", keep="first", maintain_order=True
    )
    return worst.head(count).select(list(schema_))


def why_queries(
    current: Filters, filters: Filters, end: datetime, min_n: int
) -> dict[str, Callable[[Connection], Any]]:
    """The three queries behind :func:`why_in_brief`, to run side by side with the overview's others."""
    return {
        "why_exits": lambda c: why.exit_reasons(c, current),
        "why_offers": lambda c: why.offer_outcomes(c, current),
        "why_experiments": lambda c: why.experiment_results(c, filters, end, min_n),
    }


def why_in_brief(parts: dict[str, Any], min_n: int) -> dict[str, Any]:
    """One line each for the pages Why they leave, Retention offers and Experiments, from :func:`why_queries`: the
    window's top exit reason (a row of :func:`why.exit_reasons`, or None), the accepted offer type that kept the
    most customers 90 days (a row of :func:`why.offer_outcomes` with at least ``min_n`` customers, or None), and
    every experiment's verdicts as judged at the window's end."""
    reasons = parts["why_exits"]
    offers = parts["why_offers"].filter((pl.col("outcome") == "accepted") & (pl.col("customers") >= min_n))
    verdicts = [v for _info, _variants, found in parts["why_experiments"] for v in found]
    return {
        "reason": reasons.sort("share", descending=True).row(0, named=True) if reasons.height else None,
        "offer": offers.sort("kept_share", descending=True).row(0, named=True) if offers.height else None,
        "experiments": verdicts,
    }


def load(engine: Engine, filters: Filters, w: Windows, min_n: int, *, parallel: bool = True) -> dict[str, Any]:
    """Everything the overview shows, its independent queries run side by side: ``cards``, ``lines`` and ``worst``
    (:func:`headline`), ``funnel`` (the default funnel's steps in the current window, or None without two funnel
    stages), ``unsubscribes`` (spikes after business events of the current window), ``complaints`` (complaint
    spikes in the window's last week), ``events`` (every business event) and ``stage_names``."""
    current = filters.with_period(w.current())
    last_weeks = filters.with_period(Period(_at(w.end) - timedelta(weeks=9), _at(w.end)))

    def funnel_in_brief(conn: Connection) -> pl.DataFrame | None:
        steps = funnel.funnel_stages(conn)
        if len(steps) < 2:
            return None
        return funnel.steps(conn, funnel.FunnelSpec(steps, funnel.parse_window(funnel.DEFAULT_WINDOW)), current)

    queries: dict[str, Callable[[Connection], Any]] = {"funnel": funnel_in_brief}  # the slowest first
    parts = headline_queries(filters, w, min_n)
    queries |= parts
    queries |= {
        "unsubscribes": lambda c: risk.unsubscribe_spikes(c, filters, events_in=w.current()),
        "complaints": lambda c: support.cluster_spikes(c, last_weeks),
        "events": lambda c: catalog.business_events_on(c, filters.scope),
    }
    brief = why_queries(current, filters, _at(w.end), min_n)
    queries |= brief
    done = side_by_side(engine, queries, parallel=parallel)
    headline_parts = {name: done.pop(name) for name in parts}
    done["why"] = why_in_brief({name: done.pop(name) for name in brief}, min_n)
    return {**headline_from(headline_parts, w), **done}
