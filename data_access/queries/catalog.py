"""What the store holds: the values each filter can take, the stages, the period the data covers."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema
from data_access.store import connect, fetch_frame


def dimension_values(engine: Engine) -> dict[str, list[str]]:
    """Distinct non-empty values of each customer attribute the global filters offer."""
    c = schema.customers.c
    out: dict[str, list[str]] = {}
    with connect(engine) as conn:
        for dim in schema.FILTER_DIMENSIONS:
            rows = conn.execute(sa.select(c[dim]).where(c[dim].is_not(None)).distinct().order_by(c[dim]))
            out[dim] = [str(v) for v in rows.scalars()]
    return out


def business_events_on(conn: Connection) -> pl.DataFrame:
    """Releases, price changes, campaigns: drawn on the trends."""
    b = schema.business_events.c
    return fetch_frame(
        conn,
        sa.select(b.occurred_at, b.name, b.segment).order_by(b.occurred_at),
        {"name": pl.String, "segment": pl.String},
    )


def business_events(engine: Engine) -> pl.DataFrame:
    with connect(engine) as conn:
        return business_events_on(conn)
