"""Time to convert between steps (median and spread) and the funnel over time, month by month (PostHog's
``time_to_convert`` and ``trends`` variants)."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import metrics
from data_access.filters import Filters
from data_access.i18n import N_
from data_access.queries.funnel.attempts import chosen_attempts, how, step_time
from data_access.queries.funnel.counts import steps
from data_access.queries.funnel.spec import FunnelSpec
from data_access.store import connect, fetch_frame
from data_access.store.dialect import QUANTILE_IF, constant_rows, period_date, period_start, quantile_if

# Buckets of the time-to-convert histogram: (label, upper bound in seconds, exclusive); the last is open.
TIME_BUCKETS: tuple[tuple[str, float], ...] = (
    (N_("< 1 h"), 3_600),
    (N_("1-6 h"), 6 * 3_600),
    (N_("6-24 h"), 86_400),
    (N_("1-3 d"), 3 * 86_400),
    (N_("3-7 d"), 7 * 86_400),
    (N_("1-2 w"), 14 * 86_400),
    (N_("2-4 w"), 28 * 86_400),
    (N_("4 w +"), float("inf")),
)


MEDIAN = metrics.PERCENTILES[:1]  # p50 only


def durations_query(
    spec: FunnelSpec, filters: Filters, dialect: str = "", *, first: bool = False, stored: bool = False
) -> sa.Select:
    """Seconds from step k-1 to step k on each customer's chosen attempt: median, p90 and histogram counts.
    ``first`` adds step 0 (every customer in the funnel, with a duration of 0), so that each step's ``n`` is the
    number of customers who reach it: the funnel's counts and times from one pass, without the histogram."""
    chosen = chosen_attempts(spec, filters, stored=stored, dialect=dialect)
    # the attempts are read once, each beside every step
    ks = range(0 if first else 1, len(spec.steps))
    each = constant_rows("each_step", ("step",), [(k,) for k in ks])
    at = sa.case(*((each.c.step == k, chosen.c[step_time(k)]) for k in ks))
    ms = sa.case(
        *((each.c.step == k, chosen.c[step_time(k)] - chosen.c[step_time(k - 1)] if k else sa.literal(0)) for k in ks)
    )
    gaps = (
        sa.select(each.c.step, sa.type_coerce(ms, sa.BigInteger).label("ms"))
        .select_from(chosen.join(each, sa.true()))
        .where(at.is_not(None))
        .subquery("gaps")
    )

    def buckets(ordered: sa.Subquery) -> list[sa.Label]:
        columns = []
        for i, (_label, upper) in enumerate(TIME_BUCKETS):
            inside = ordered.c.x < upper * 1000 if upper != float("inf") else sa.true()
            if i:
                inside = sa.and_(inside, ordered.c.x >= TIME_BUCKETS[i - 1][1] * 1000)
            columns.append(metrics.count_if(inside).label(f"bucket_{i}"))
        return columns

    # the histogram and the 90th percentile are the Funnel page's; counts and medians alone need neither
    if first:
        return metrics.percentile_query(gaps, ["step"], "ms", dialect=dialect, percentiles=MEDIAN).order_by("step")
    return metrics.percentile_query(gaps, ["step"], "ms", buckets, dialect).order_by("step")


def wide_durations_query(
    spec: FunnelSpec, filters: Filters, dialect: str = "", *, first: bool = False, stored: bool = False
) -> sa.Select:
    """:func:`durations_query` as one row, on ClickHouse: every step's ``n_k``, percentiles (``p50_k``...) and histogram
    counts (``bucket_i_k``) side by side, from one pass over the chosen attempts with ``-If`` combinators, instead of
    the attempts set beside every step and grouped (at 1M customers on chDB: 0.27 s against 0.9-1.1 s).
    :func:`_durations` turns it into :func:`durations_query`'s rows."""
    chosen = chosen_attempts(spec, filters, stored=stored, dialect=dialect)
    columns: list[sa.Label] = []
    for k in range(0 if first else 1, len(spec.steps)):
        at = chosen.c[step_time(k)]
        ms = at - chosen.c[step_time(k - 1)] if k else sa.literal(0)
        reached = at.is_not(None)
        columns.append(metrics.count_if(reached).label(f"n_{k}"))
        for name, p in MEDIAN if first else metrics.PERCENTILES:
            columns.append(quantile_if(ms, sa.literal(p, sa.Float()), reached).label(f"{name}_{k}"))
        for i, (_label, upper) in enumerate(() if first else TIME_BUCKETS):
            inside = [reached, ms < upper * 1000] if upper != float("inf") else [reached]
            if i:
                inside.append(ms >= TIME_BUCKETS[i - 1][1] * 1000)
            columns.append(metrics.count_if(sa.and_(*inside)).label(f"bucket_{i}_{k}"))
    return sa.select(*columns)


def _durations(conn: Connection, spec: FunnelSpec, filters: Filters, *, first: bool = False) -> pl.DataFrame:
    """:func:`durations_query`'s rows (step, n, p50_low/high/frac..., bucket_i), on ClickHouse from
    :func:`wide_durations_query`."""
    reading = how(conn, spec, filters)
    if reading["dialect"] not in QUANTILE_IF:
        return fetch_frame(conn, durations_query(spec, filters, first=first, **reading))
    row = fetch_frame(conn, wide_durations_query(spec, filters, first=first, **reading)).row(0, named=True)
    rows = []
    for k in range(0 if first else 1, len(spec.steps)):
        if not row[f"n_{k}"]:
            continue  # no customer reaches the step: no row, as in the grouped form
        one: dict[str, object] = {"step": k, "n": row[f"n_{k}"]}
        for name, _p in MEDIAN if first else metrics.PERCENTILES:
            one |= {f"{name}_low": row[f"{name}_{k}"], f"{name}_high": None, f"{name}_frac": 0.0}
        one |= {f"bucket_{i}": row[f"bucket_{i}_{k}"] for i in range(0 if first else len(TIME_BUCKETS))}
        rows.append(one)
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def time_to_convert(conn: Connection, spec: FunnelSpec, filters: Filters) -> pl.DataFrame:
    """Per step k >= 1: n, median and p90 seconds from step k-1, and the histogram counts."""
    schema_ = {"step": pl.Int64, "n": pl.Int64, "p50_seconds": pl.Float64, "p90_seconds": pl.Float64}
    schema_ |= {f"bucket_{i}": pl.Int64 for i in range(len(TIME_BUCKETS))}
    raw = _durations(conn, spec, filters)
    if raw.height == 0:
        return pl.DataFrame(schema=schema_)
    done = metrics.with_percentiles(raw, scale=1000, suffix="_seconds")
    return done.select(pl.col(c).cast(t) for c, t in schema_.items())


def reach_and_time(conn: Connection, spec: FunnelSpec, filters: Filters) -> pl.DataFrame:
    """Per step: ``customers`` who reach it (as :func:`steps`) and ``p50_seconds`` from the step before (as
    :func:`time_to_convert`; null for the first step), from one pass over the chosen attempts."""
    raw = _durations(conn, spec, filters, first=True)
    frame = pl.DataFrame({"step": list(range(len(spec.steps))), "stage_id": list(spec.steps)})
    if raw.height == 0:
        return frame.with_columns(pl.lit(0, pl.Int64).alias("customers"), pl.lit(None, pl.Float64).alias("p50_seconds"))
    done = metrics.with_percentiles(raw, scale=1000, suffix="_seconds", percentiles=MEDIAN).select(
        pl.col("step").cast(pl.Int64),
        pl.col("n").cast(pl.Int64).alias("customers"),
        pl.when(pl.col("step") > 0).then(pl.col("p50_seconds").cast(pl.Float64)).alias("p50_seconds"),
    )
    return frame.join(done, on="step", how="left").with_columns(pl.col("customers").fill_null(0))


def over_time_query(
    spec: FunnelSpec, filters: Filters, grain: str, *, stored: bool = False, dialect: str = ""
) -> sa.Select:
    chosen = chosen_attempts(spec, filters, stored=stored, dialect=dialect)
    start = period_start(chosen.c.entered_at, grain).label("period")
    last = len(spec.steps)
    inner = sa.select(start, chosen.c.depth).subquery("by_period")
    return (
        sa.select(
            inner.c.period,
            sa.func.count().label("entered"),
            metrics.count_if(inner.c.depth >= last).label("converted"),
        )
        .group_by(inner.c.period)
        .order_by(inner.c.period)
    )


def over_time(conn: Connection, spec: FunnelSpec, filters: Filters, grain: str) -> pl.DataFrame:
    """By week or month of entering the first step (the chosen attempt's): entered, converted, share (%)."""
    raw = fetch_frame(conn, over_time_query(spec, filters, grain, **how(conn, spec, filters)))
    if raw.height == 0:
        return pl.DataFrame(
            schema={"period": pl.Date, "entered": pl.Int64, "converted": pl.Int64, "conversion": pl.Float64}
        )
    return raw.select(
        period_date("period"),
        pl.col("entered").cast(pl.Int64),
        pl.col("converted").cast(pl.Int64),
    ).with_columns((100 * pl.col("converted") / pl.col("entered")).alias("conversion"))


def report(engine: Engine, spec: FunnelSpec, filters: Filters) -> pl.DataFrame:
    """The command line's table: per step customers, conversions (%) and the median seconds from the step before."""
    with connect(engine) as conn:
        frame = steps(conn, spec, filters)
        timing = time_to_convert(conn, spec, filters)
    return frame.join(
        timing.select("step", pl.col("p50_seconds").alias("median_seconds_to_convert")), on="step", how="left"
    ).sort("step")
