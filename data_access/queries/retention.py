"""Retention cohorts. A customer is active in a period when they have a journey event or an order in it. A cohort
is the customers who signed up in one calendar month (or week, Monday first); age 0 is that period itself, age 1 the
next calendar period, and so on. The filters' period selects the cohorts by signup; activity counts up to the end of
the data."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import metrics, schema
from data_access.filters import Filters
from data_access.queries import activity
from data_access.store import fetch_frame, side_by_side
from data_access.store.dialect import (
    GRAINS,
    MONTH_BITS,
    add_months,
    bit_or,
    has_bits,
    month_bit,
    months_between,
    period_date,
    period_start,
)

cu = schema.customers
ev = schema.journey_events
od = schema.orders
# What makes a customer active (a journey event or an order) and the customer's number (``customer_key``, copied
# onto the facts), by which customers are grouped and joined instead of their text key: see queries.activity.
ACTIVITY, KEY = activity.ACTIVITY, activity.KEY
# ... and a fact's own copy of its customer's churn date stands in for a join to customers
CHURNED = schema.CHURN_COPY_COLUMN
SIGNED_UP = schema.SIGNUP_COPY_COLUMN  # and of the signup time: a cohort's rows are read without a join
MODES = ("in", "or_later")  # active in period n; active in period n or any later one
CLI_COLUMNS = ("cohort", "age", "cohort_size", "active", "retention")


def _cohort_customers(filters: Filters, grain: str, by: str | None) -> sa.CTE:
    columns = [cu.c[KEY], period_start(cu.c.signup_at, grain).label("cohort")]
    if by is not None:
        columns.append(cu.c[by].label("grp"))
    return sa.select(*columns).where(filters.where(cu.c.signup_at, cu.c.customer_id)).cte("cohort_customers")


def _own_cohort(table: sa.Table, grain: str, by: str | None) -> list[sa.ColumnElement]:
    """A fact's own copies of its customer's cohort (the period of their signup) and, with ``by``, group: the
    columns of :func:`_cohort_customers` read from the row itself."""
    cohort = period_start(table.c[SIGNED_UP], grain).label("cohort")
    return [cohort, table.c[schema.attribute_column(by)].label("grp")] if by else [cohort]


def _of_cohorts(table: sa.Table, filters: Filters) -> list[sa.ColumnElement[bool]]:
    """The rows of the cohorts' customers (signed up in the filters' period, the attribute filters), by the row's own
    copies; rows not numbered yet (written around a load, until ``refresh``) are left out, as a join would."""
    return [table.c[KEY] > 0, filters.where(table.c[SIGNED_UP], table.c.customer_id)]


def _activity(filters: Filters, grain: str) -> sa.Subquery:
    """(customer, period) once for each period in which one of the filtered customers has a journey event or an
    order. Made distinct before it is joined to the cohorts: on DuckDB at 1M customers that is about a third faster
    than counting distinct customers after the join. The customer filter here only spares rows the join to the
    cohorts would drop: on the facts' own copies of the attributes it costs a column read."""
    parts = [
        sa.select(table.c[KEY], period_start(table.c[column], grain).label("active_period")).where(
            filters.customer_clause(table.c.customer_id)
        )
        for table, column in ACTIVITY
    ]
    every = sa.union_all(*parts).subquery("every_activity")
    return (
        sa.select(every.c[KEY], every.c.active_period)
        .group_by(every.c[KEY], every.c.active_period)
        .subquery("activity")
    )


def cohorts_query(filters: Filters, grain: str, by: str | None = None) -> tuple[sa.Select, sa.Select, sa.Select]:
    """(sizes, active per cohort and period, customers per cohort and last active period)."""
    cohort = _cohort_customers(filters, grain, by)
    keys = [cohort.c.cohort] + ([cohort.c.grp] if by else [])
    sizes = sa.select(*keys, sa.func.count().label("cohort_size")).group_by(*keys)
    activity = _activity(filters, grain)
    joined = cohort.join(activity, activity.c[KEY] == cohort.c[KEY])
    active = (
        sa.select(*keys, activity.c.active_period, sa.func.count().label("active"))
        .select_from(joined)
        .group_by(*keys, activity.c.active_period)
    )
    last = (
        sa.select(cohort.c[KEY], *keys, sa.func.max(activity.c.active_period).label("last_period"))
        .select_from(joined)
        .group_by(cohort.c[KEY], *keys)
        .subquery("last_activity")
    )
    latest = sa.select(
        *(last.c[k.name] for k in keys), last.c.last_period, sa.func.count().label("customers")
    ).group_by(*(last.c[k.name] for k in keys), last.c.last_period)
    return sizes, active, latest


def _active_by_month_bits(conn: Connection, filters: Filters, by: str | None, first: date, last: date) -> pl.DataFrame:
    """The monthly "active in that period" counts per cohort (and group) in one pass: each customer's months with
    an event or an order from ``first`` to ``last`` become the bits of one integer, joined to the cohorts and
    summed bit by bit. About a quarter faster on DuckDB at 1M customers than a distinct (customer, month) join;
    only for spans of :data:`MONTH_BITS` months or fewer. Where ``customer_activity`` holds those months, its
    stored integers are summed by their rows' own cohort and group instead (:mod:`queries.activity`: no grouping of
    every event and order, no join). Columns: cohort, [grp,] active_period, active."""
    end = add_months(last, 1)
    months = months_between(first, last) + 1
    origin = activity.stored_origin(conn, first, end)
    if origin is not None:  # each customer's months stored: summed by their own copies of cohort and group
        ca = schema.customer_activity
        shift = months_between(origin, first)
        keys = _own_cohort(ca, "month", by)
        stmt = (
            sa.select(
                *keys,
                *(metrics.count_if(has_bits(ca.c.months, 1 << (shift + k))).label(f"m{k}") for k in range(months)),
            )
            .where(filters.where(ca.c[SIGNED_UP], ca.c.customer_id))
            .group_by(*keys)
        )
        return _unpivot_months(fetch_frame(conn, stmt), ["cohort", *(["grp"] if by else [])], first, months)
    parts = [
        sa.select(table.c[KEY], table.c[column].label("ts")).where(
            table.c[column] >= sa.bindparam(None, datetime.combine(first, time()), type_=schema.TIMESTAMP),
            table.c[column] < sa.bindparam(None, datetime.combine(end, time()), type_=schema.TIMESTAMP),
            filters.customer_clause(table.c.customer_id),  # as in _activity
        )
        for table, column in ACTIVITY
    ]
    rows = sa.union_all(*parts).subquery("every_activity")
    masks = (
        sa.select(rows.c[KEY], bit_or(month_bit(rows.c.ts, first)).label("mask"))
        .group_by(rows.c[KEY])
        .subquery("months_active")
    )
    cohort = _cohort_customers(filters, "month", by)
    keys = [cohort.c.cohort] + ([cohort.c.grp] if by else [])
    stmt = (
        sa.select(*keys, *(metrics.count_if(has_bits(masks.c.mask, 1 << k)).label(f"m{k}") for k in range(months)))
        .select_from(cohort.join(masks, masks.c[KEY] == cohort.c[KEY]))
        .group_by(*keys)
    )
    return _unpivot_months(fetch_frame(conn, stmt), [k.name for k in keys], first, months)


def _unpivot_months(frame: pl.DataFrame, names: list[str], first: date, months: int) -> pl.DataFrame:
    """Columns m0, m1... (the customers active in month ``first`` + k) as rows: cohort, [grp,] active_period,
    active."""
    if frame.height == 0:
        return pl.DataFrame(
            schema={n: pl.Date if n == "cohort" else pl.String for n in names}
            | {"active_period": pl.Date, "active": pl.Int64}
        )
    offsets = {f"m{k}": add_months(first, k) for k in range(months)}
    return (
        frame.with_columns(period_date("cohort"))
        .unpivot(on=list(offsets), index=names, variable_name="bit", value_name="active")
        .with_columns(
            pl.col("bit").replace_strict(offsets, return_dtype=pl.Date).alias("active_period"),
            pl.col("active").cast(pl.Int64),
        )
        .drop("bit")
    )


def _last_period(conn: Connection, grain: str) -> date | None:
    """The period of the newest event or order in the store: every cohort's ages run up to it."""
    newest = [conn.execute(sa.select(sa.func.max(c))).scalar() for c in (ev.c.occurred_at, od.c.ordered_at)]
    newest = [v for v in newest if v is not None]
    if not newest:
        return None
    day = max(newest if isinstance(newest[0], datetime) else [datetime.fromisoformat(str(v)) for v in newest]).date()
    return day.replace(day=1) if grain == "month" else day - timedelta(days=day.weekday())


def _age_grid(conn: Connection, sizes: pl.DataFrame, keys: list[str], grain: str) -> pl.DataFrame:
    """Every age each cohort has lived through, up to the store's newest activity (so a quiet age shows as zero)."""
    last_period = _last_period(conn, grain) or sizes["cohort"].max()
    grid = sizes.select(*keys).with_columns(pl.lit(last_period).alias("active_period"))
    grid = grid.with_columns(pl.int_ranges(0, _age(grain) + 1).alias("age")).explode("age")
    return grid.select(*keys, pl.col("age").cast(pl.Int64))


def _age(grain: str) -> pl.Expr:
    """Calendar periods from the cohort to the active period."""
    if grain == "month":
        return (
            (pl.col("active_period").dt.year() - pl.col("cohort").dt.year()) * 12
            + pl.col("active_period").dt.month()
            - pl.col("cohort").dt.month()
        ).cast(pl.Int64)
    return ((pl.col("active_period") - pl.col("cohort")).dt.total_days() // 7).cast(pl.Int64)


def cohorts(
    conn: Connection, filters: Filters, grain: str = "month", mode: str = "in", by: str | None = None
) -> pl.DataFrame:
    """One row per cohort (and group) and age: cohort, age, cohort_size, active, retention (%). ``mode`` "in":
    active in that period; "or_later": active in that period or any later one."""
    if grain not in GRAINS:
        raise ValueError(f"--period must be one of {', '.join(GRAINS)}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    if by is not None and by not in schema.FILTER_DIMENSIONS:
        raise ValueError(f"cannot group cohorts by {by!r}")
    sizes_q, active_q, latest_q = cohorts_query(filters, grain, by)
    keys = ["cohort"] + (["grp"] if by else [])
    sizes = fetch_frame(conn, sizes_q)
    if sizes.height == 0:
        return pl.DataFrame(
            schema={
                "cohort": pl.Date,
                "age": pl.Int64,
                "cohort_size": pl.Int64,
                "active": pl.Int64,
                "retention": pl.Float64,
            }
        )
    sizes = sizes.with_columns(period_date("cohort"), pl.col("cohort_size").cast(pl.Int64))
    last = _last_period(conn, grain)
    first = sizes["cohort"].min()
    if mode == "in" and grain == "month" and last is not None and months_between(first, last) < MONTH_BITS:
        counts = _active_by_month_bits(conn, filters, by, first, last)
    elif mode == "in":
        counts = fetch_frame(conn, active_q).with_columns(
            period_date("cohort"), period_date("active_period"), pl.col("active").cast(pl.Int64)
        )
    else:
        latest = fetch_frame(conn, latest_q).with_columns(
            period_date("cohort"), period_date("last_period").alias("active_period"), pl.col("customers").cast(pl.Int64)
        )
        # active in period n or later = customers whose last active period is n or later
        counts = latest.select(*keys, "active_period", pl.col("customers").alias("active"))
    counts = counts.with_columns(_age(grain).alias("age")).filter(pl.col("age") >= 0)
    counts = _age_grid(conn, sizes, keys, grain).join(
        counts.group_by(*keys, "age").agg(pl.col("active").sum()), on=[*keys, "age"], how="left"
    )
    counts = counts.with_columns(pl.col("active").fill_null(0))
    if mode == "or_later":
        counts = counts.sort([*keys, "age"], descending=[False] * len(keys) + [True]).with_columns(
            pl.col("active").cum_sum().over(keys)
        )
    frame = counts.join(sizes, on=keys, how="left")
    frame = frame.with_columns((100 * pl.col("active") / pl.col("cohort_size")).alias("retention"))
    order = [*keys, "age"]
    columns = (["grp"] if by else []) + list(CLI_COLUMNS)
    return frame.sort(order).select(columns).rename({"grp": by} if by else {})


def curves(frame: pl.DataFrame, by: str) -> pl.DataFrame:
    """Retention by age per group, weighting every cohort by its size (cohorts too young for an age leave it)."""
    return (
        frame.group_by(by, "age")
        .agg(pl.col("active").sum(), pl.col("cohort_size").sum())
        .with_columns((100 * pl.col("active") / pl.col("cohort_size")).alias("retention"))
        .sort(by, "age")
    )


def overall(grouped: pl.DataFrame) -> pl.DataFrame:
    """The cohort table of all groups together, from the table by group (every customer is in one group, so
    counts add up): one query serves both the heat map and the curves."""
    return (
        grouped.group_by("cohort", "age")
        .agg(pl.col("cohort_size").sum(), pl.col("active").sum())
        .with_columns((100 * pl.col("active") / pl.col("cohort_size")).alias("retention"))
        .sort("cohort", "age")
        .select(CLI_COLUMNS)
    )


def revenue(conn: Connection, filters: Filters, grain: str = "month", by: str | None = None) -> pl.DataFrame:
    """Revenue retention: per cohort (and group) and age, the cohort's revenue in that period and the cumulative
    revenue per customer of the cohort (its lifetime value so far)."""
    cohort = _cohort_customers(filters, grain, by)
    keys = [cohort.c.cohort] + ([cohort.c.grp] if by else [])
    key_names = ["cohort"] + (["grp"] if by else [])
    sizes = fetch_frame(conn, sa.select(*keys, sa.func.count().label("cohort_size")).group_by(*keys))
    if sizes.height == 0:
        return pl.DataFrame(
            schema={
                "cohort": pl.Date,
                "age": pl.Int64,
                "cohort_size": pl.Int64,
                "revenue": pl.Float64,
                "value_per_customer": pl.Float64,
            }
        )
    sizes = sizes.with_columns(period_date("cohort"), pl.col("cohort_size").cast(pl.Int64))
    spent = period_start(od.c.ordered_at, grain)
    own = _own_cohort(od, grain, by)  # the orders' own copies: no join to the cohorts' customers
    stmt = (
        sa.select(*own, spent.label("active_period"), sa.func.sum(od.c.amount).label("revenue"))
        .where(*_of_cohorts(od, filters))
        .group_by(*own, spent)
    )
    paid = fetch_frame(conn, stmt).with_columns(
        period_date("cohort"), period_date("active_period"), pl.col("revenue").cast(pl.Float64)
    )
    paid = paid.with_columns(_age(grain).alias("age")).filter(pl.col("age") >= 0)
    frame = (
        _age_grid(conn, sizes, key_names, grain)
        .join(paid.group_by(*key_names, "age").agg(pl.col("revenue").sum()), on=[*key_names, "age"], how="left")
        .with_columns(pl.col("revenue").fill_null(0.0))
        .join(sizes, on=key_names, how="left")
        .sort([*key_names, "age"])
        .with_columns((pl.col("revenue").cum_sum().over(key_names) / pl.col("cohort_size")).alias("value_per_customer"))
    )
    columns = [*key_names, "age", "cohort_size", "revenue", "value_per_customer"]
    return frame.select(columns).rename({"grp": by} if by else {})


def value_curves(frame: pl.DataFrame, by: str) -> pl.DataFrame:
    """Lifetime value so far by age per group, weighting the cohorts by their size."""
    return (
        frame.with_columns((pl.col("value_per_customer") * pl.col("cohort_size")).alias("total"))
        .group_by(by, "age")
        .agg(pl.col("total").sum(), pl.col("cohort_size").sum())
        .with_columns((pl.col("total") / pl.col("cohort_size")).alias("value_per_customer"))
        .sort(by, "age")
    )


def repeat_purchase(conn: Connection, filters: Filters, by: str | None = None) -> pl.DataFrame:
    """Customers with two or more orders over customers with one or more, among the cohorts' customers."""
    own = _own_cohort(od, "month", by)[1:]  # the orders' own copy of the group, one value per customer
    per_customer = (
        sa.select(od.c[KEY], *own, sa.func.count().label("orders"))
        .where(*_of_cohorts(od, filters))
        .group_by(od.c[KEY], *own)
        .subquery("orders_per_customer")
    )
    group = [per_customer.c.grp] if by else []
    stmt = sa.select(
        *group,
        sa.func.count().label("buyers"),
        metrics.count_if(per_customer.c.orders >= 2).label("repeat_buyers"),
    ).group_by(*group)
    raw = fetch_frame(conn, stmt)
    if raw.height == 0:
        return pl.DataFrame(schema={"buyers": pl.Int64, "repeat_buyers": pl.Int64, "repeat_rate": pl.Float64})
    frame = raw.with_columns(pl.col("buyers").cast(pl.Int64), pl.col("repeat_buyers").cast(pl.Int64)).with_columns(
        (100 * pl.col("repeat_buyers") / pl.col("buyers")).alias("repeat_rate")
    )
    return frame.rename({"grp": by}).sort(by, nulls_last=True) if by else frame


_BASE_SCHEMA = {
    "period": pl.Date,
    "signups": pl.Int64,
    "churned": pl.Int64,
    "base": pl.Int64,
    "churn_rate": pl.Float64,
    "churned_before": pl.Int64,
}


def _dated(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    if frame.height == 0:
        return pl.DataFrame(schema={"period": pl.Date, column: pl.Int64})
    return frame.select(period_date("period").alias("period"), pl.col(column).cast(pl.Int64))


def customer_base(conn: Connection, filters: Filters, grain: str = "month") -> pl.DataFrame:
    """Per period from the first signup to the newest activity: signups, churned (``churned_at`` in it), base
    (signed up before its start and not churned by then), churn rate = churned / base, and churned_before (churned
    before its start). Customer filters apply; the period filter does not."""
    who = filters.customer_clause(cu.c.customer_id)
    signups = fetch_frame(
        conn,
        sa.select(period_start(cu.c.signup_at, grain).label("period"), sa.func.count().label("signups"))
        .where(who)
        .group_by("period"),
    )
    churns = fetch_frame(
        conn,
        sa.select(period_start(cu.c.churned_at, grain).label("period"), sa.func.count().label("churned"))
        .where(who, cu.c.churned_at.is_not(None))
        .group_by("period"),
    )
    if signups.height == 0:
        return pl.DataFrame(schema=_BASE_SCHEMA)
    signups, churns = _dated(signups, "signups"), _dated(churns, "churned")
    first = signups["period"].min()
    last = max(d for d in (_last_period(conn, grain), signups["period"].max()) if d is not None)
    interval = "1mo" if grain == "month" else "1w"
    periods = pl.DataFrame({"period": pl.date_range(first, last, interval, eager=True)})
    frame = (
        periods.join(signups, on="period", how="left")
        .join(churns, on="period", how="left")
        .with_columns(pl.col("signups", "churned").fill_null(0))
        .sort("period")
        .with_columns(
            (pl.col("signups").cum_sum() - pl.col("signups") - (pl.col("churned").cum_sum() - pl.col("churned"))).alias(
                "base"
            ),
            (pl.col("churned").cum_sum() - pl.col("churned")).alias("churned_before"),
        )
        .with_columns(metrics.percent(pl.col("churned"), pl.col("base")).alias("churn_rate"))
    )
    return frame.select(list(_BASE_SCHEMA))


def _reactivated_per_period(conn: Connection, filters: Filters, grain: str) -> pl.DataFrame:
    """Per period with any: the customers with an event or an order after their churn date in it (period,
    reactivated); by month from each customer's stored months after it when they hold the whole data."""
    origin = activity.stored_origin(conn, None, None) if grain == "month" else None
    if origin is not None:
        ca = schema.customer_activity.c
        sums = sa.select(
            *(metrics.count_if(has_bits(ca.months_back, 1 << k)).label(f"m{k}") for k in range(MONTH_BITS))
        ).where(filters.customer_clause(ca.customer_id))
        row = conn.execute(sums).one()
        counts = [(add_months(origin, k), int(n or 0)) for k, n in enumerate(row)]
        return pl.DataFrame(
            [c for c in counts if c[1]], schema={"period": pl.Date, "reactivated": pl.Int64}, orient="row"
        )
    parts = [
        sa.select(table.c[KEY], period_start(table.c[column], grain).label("period")).where(
            table.c[KEY] > 0,  # a row of a known customer (numbered)
            filters.customer_clause(table.c.customer_id),
            table.c[CHURNED].is_not(None),
            table.c[column] > table.c[CHURNED],
        )
        for table, column in ACTIVITY
    ]
    back = sa.union_all(*parts).subquery("after_churn")
    return fetch_frame(
        conn,
        sa.select(back.c.period, sa.func.count(sa.distinct(back.c[KEY])).label("reactivated")).group_by(back.c.period),
    )


def churn_over_time(conn: Connection, filters: Filters, grain: str = "month") -> pl.DataFrame:
    """Per period: churn rate = customers whose ``churned_at`` falls in it over customers signed up before its start
    and not churned by then; reactivation rate = churned customers active again (an event or an order after
    ``churned_at``) in it over customers churned before its start. Customer filters apply; every period from the
    first signup to the newest activity is listed."""
    returns = _reactivated_per_period(conn, filters, grain)
    schema_ = {
        "period": pl.Date,
        "base": pl.Int64,
        "churned": pl.Int64,
        "churn_rate": pl.Float64,
        "churned_before": pl.Int64,
        "reactivated": pl.Int64,
        "reactivation_rate": pl.Float64,
    }
    base = customer_base(conn, filters, grain)
    if base.height == 0:
        return pl.DataFrame(schema=schema_)
    frame = (
        base.join(_dated(returns, "reactivated"), on="period", how="left")
        .with_columns(pl.col("reactivated").fill_null(0))
        .with_columns(metrics.percent(pl.col("reactivated"), pl.col("churned_before")).alias("reactivation_rate"))
    )
    return frame.select(list(schema_))


def value_and_repeat(engine: Engine, filters: Filters, grain: str, by: str) -> dict[str, pl.DataFrame]:
    """Lifetime value by cohort age and the repeat purchase rate, side by side."""
    return side_by_side(
        engine,
        {"value": lambda c: revenue(c, filters, grain, by), "repeat": lambda c: repeat_purchase(c, filters, by)},
    )
