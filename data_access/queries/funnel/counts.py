"""The funnel's counts: customers reaching each step, over all and by a breakdown (PostHog's ``steps`` variant)."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import metrics, schema
from data_access.filters import Filters
from data_access.i18n import _
from data_access.queries.funnel.attempts import chosen_attempts, how, reach
from data_access.queries.funnel.spec import BREAKDOWNS, RETURNING, FunnelError, FunnelSpec, cu, od
from data_access.store import fetch_frame
from data_access.store.dialect import WINDOW_FUNNEL, in_table_order


def _breakdown_column(by: str, chosen: sa.Subquery, filters: Filters) -> sa.ColumnElement:
    if by == RETURNING:
        before = sa.exists().where(od.c.customer_id == chosen.c.customer_id)
        if filters.period.start is not None:
            before = before.where(od.c.ordered_at < sa.bindparam(None, filters.period.start, type_=schema.TIMESTAMP))
        return sa.case((before, "returning"), else_="new")
    return sa.select(cu.c[by]).where(cu.c.customer_id == chosen.c.customer_id).scalar_subquery()


def _reached(depth: sa.ColumnElement, steps: int) -> list[sa.Label]:
    """Per step k, how many rows have ``depth`` > k: the cumulative counts of the funnel."""
    return [sa.func.coalesce(metrics.count_if(depth >= k + 1), 0).label(f"step_{k}") for k in range(steps)]


def counts_query(
    spec: FunnelSpec, filters: Filters, by: str | None = None, *, stored: bool = False, dialect: str = ""
) -> sa.Select:
    """Customers reaching each step (cumulative), optionally per value of a breakdown."""
    if by is not None and by not in BREAKDOWNS:
        raise FunnelError(
            _("Cannot break down by {by} (choose from {choices})").format(by=repr(by), choices=", ".join(BREAKDOWNS))
        )
    # stored attempts carry their customer's attributes: a breakdown by one reads it there, with no join to customers
    carry = (schema.attribute_column(by),) if stored and by in schema.FILTER_DIMENSIONS else ()
    if stored or spec.exclusions:
        chosen: sa.Subquery | sa.CTE = chosen_attempts(spec, filters, stored=stored, dialect=dialect, carry=carry)
    else:  # each customer's furthest step, without choosing an attempt
        chosen = reach(spec, filters, dialect)
    if by is None:
        stmt = sa.select(*_reached(chosen.c.depth, len(spec.steps)))
    else:
        value = chosen.c[carry[0]] if carry else _breakdown_column(by, chosen, filters)
        group = sa.func.coalesce(value, "(none)").label("value")
        inner = sa.select(group, chosen.c.depth).subquery("with_value")
        stmt = (
            sa.select(inner.c.value, *_reached(inner.c.depth, len(spec.steps)))
            .group_by(inner.c.value)
            .order_by(inner.c.value)
        )
    # the ordered funnel's grouping per customer, in the events' order where the store can (ClickHouse)
    return in_table_order(stmt) if not (stored or spec.exclusions) and dialect in WINDOW_FUNNEL else stmt


def _steps_frame(spec: FunnelSpec, counts: list[int]) -> pl.DataFrame:
    frame = pl.DataFrame({"step": list(range(len(spec.steps))), "stage_id": list(spec.steps), "customers": counts})
    first = pl.col("customers").first()
    previous = pl.col("customers").shift(1)
    return frame.with_columns(
        metrics.percent(pl.col("customers"), previous).alias("conversion_from_previous"),
        metrics.percent(pl.col("customers"), first).alias("conversion_from_first"),
        (previous - pl.col("customers")).alias("dropped"),
    )


def steps(conn: Connection, spec: FunnelSpec, filters: Filters) -> pl.DataFrame:
    """One row per step: customers, conversion from the previous step and from the first (%), drop-off."""
    row = conn.execute(counts_query(spec, filters, **how(conn, spec, filters))).one()
    return _steps_frame(spec, [int(v or 0) for v in row])


def breakdown(conn: Connection, spec: FunnelSpec, filters: Filters, by: str) -> pl.DataFrame:
    """Per value of ``by``: customers at each step (``step_0``..)."""
    frame = fetch_frame(conn, counts_query(spec, filters, by, **how(conn, spec, filters)), {"value": pl.String})
    return frame.with_columns(
        pl.col("value").cast(pl.String), *(pl.col(f"step_{k}").cast(pl.Int64) for k in range(len(spec.steps)))
    )
