"""What the store holds: the values each filter can take, the stages, the period the data covers."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema
from data_access.filters import EVERYONE, Scope
from data_access.store import connect, fetch_frame


def dimension_values(engine: Engine, scope: Scope = EVERYONE) -> dict[str, list[str]]:
    """Distinct non-empty values of each customer attribute the global filters offer (of the scope's customers)."""
    c = schema.customers.c
    within = c.segment.in_(scope.segments) if scope.segments else sa.true()
    out: dict[str, list[str]] = {}
    with connect(engine) as conn:
        for dim in schema.FILTER_DIMENSIONS:
            rows = conn.execute(sa.select(c[dim]).where(c[dim].is_not(None), within).distinct().order_by(c[dim]))
            out[dim] = [str(v) for v in rows.scalars()]
    return out


def business_events_on(conn: Connection, scope: Scope = EVERYONE) -> pl.DataFrame:
    """Releases, price changes, campaigns: drawn on the trends (those for everyone or for the scope's segments)."""
    b = schema.business_events.c
    within = sa.or_(b.segment.is_(None), b.segment.in_(scope.segments)) if scope.segments else sa.true()
    return fetch_frame(
        conn,
        sa.select(b.occurred_at, b.name, b.segment).where(within).order_by(b.occurred_at),
        {"name": pl.String, "segment": pl.String},
    )


def business_events(engine: Engine, scope: Scope = EVERYONE) -> pl.DataFrame:
    with connect(engine) as conn:
        return business_events_on(conn, scope)
