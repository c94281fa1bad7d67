"""Derived tables: copies of the journey events in the shape a page's heaviest query needs, written by the store
itself whenever the events are loaded (ingestion, seed, ``python -m data_access refresh``) and read only while
current. ``derived_state`` records, for each derived table, what it was built for (its ``spec``) and from what
(the journey events' row count and time range); a query reads the table only when both still match, and
otherwise computes its figure from the raw events, with the same result.

The tables' builders live beside the queries that read them (``queries.funnel.refresh_attempts``,
``queries.kpis.refresh_stage_customers``, ``queries.activity.refresh``, which also records the orders it was built
from in its spec); ``ingest.refresh_derived`` runs them.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import schema
from data_access.store.engine import has_table, utc_now
from data_access.store.writes import ensure_table, recreate_table

ds = schema.derived_state
ev = schema.journey_events
cu = schema.customers


def source(conn: Connection) -> tuple[int, datetime | None, datetime | None]:
    """What the derived tables are built from: the journey events' row count and time range (on DuckDB these come
    from the table's statistics, without a scan)."""
    rows, first, last = conn.execute(
        sa.select(sa.func.count(), sa.func.min(ev.c.occurred_at), sa.func.max(ev.c.occurred_at))
    ).one()
    return int(rows), first, last


CHUNK_EVENTS = 10_000_000  # journey events per range of customers a derived table is built from at a time


@dataclass(frozen=True)
class CustomerRange:
    """Customers from ``lo`` (included) to ``hi`` (excluded) by their key; None: unbounded."""

    lo: str | None = None
    hi: str | None = None

    def on(self, customer: sa.ColumnElement) -> sa.ColumnElement[bool]:
        """The condition that ``customer`` (a customer_id column of any table) is in the range."""
        bounds = [
            *(() if self.lo is None else (customer >= self.lo,)),
            *(() if self.hi is None else (customer < self.hi,)),
        ]
        return sa.and_(*bounds) if bounds else sa.true()


def customer_ranges(conn: Connection, events: int | None = None) -> list[CustomerRange]:
    """The customers split into ranges of about :data:`CHUNK_EVENTS` journey events each, in key order (one range
    of every customer up to that many events): a derived table built a range at a time needs memory for one range,
    at any size. The bounds are customer ids read at even offsets of ``customers`` (an ordered read: the key is
    its table's sort key)."""
    if events is None:
        events = source(conn)[0]
    count = -(-events // CHUNK_EVENTS)
    if count <= 1:
        return [CustomerRange()]
    total = int(conn.execute(sa.select(sa.func.count()).select_from(cu)).scalar_one())
    bounds: list[str] = []
    for k in range(1, count):
        bound = conn.execute(
            sa.select(cu.c.customer_id).order_by(cu.c.customer_id).limit(1).offset(total * k // count)
        ).scalar()
        if bound is not None and bound not in bounds:
            bounds.append(bound)
    edges = [None, *bounds, None]
    return [CustomerRange(lo, hi) for lo, hi in itertools.pairwise(edges)]


def spec_month(spec: str, label: str) -> date | None:
    """The month a derived table's spec names after ``label`` ("months from 2025-01": the month of its bit 0), or
    None when it names none."""
    found = re.search(rf"{re.escape(label)} (\d{{4}})-(\d{{2}})", spec)
    return date(int(found[1]), int(found[2]), 1) if found else None


def is_current(conn: Connection, table: sa.Table, spec: str) -> bool:
    """Whether ``table`` was built for ``spec`` from the journey events as they are now."""
    return current_spec(conn, table, spec) == spec


def current_spec(conn: Connection, table: sa.Table, wanted: str | None = None) -> str | None:
    """What ``table`` was built for, while it was built from the journey events as they are now (else None). With
    ``wanted``, a table built for something else is None at once, without looking at the events."""
    if not has_table(conn, ds):
        return None
    built = conn.execute(
        sa.select(ds.c.spec, ds.c.source_rows, ds.c.source_first, ds.c.source_last).where(ds.c.name == table.name)
    ).one_or_none()
    if built is None or (wanted is not None and built.spec != wanted):
        return None
    current = (int(built.source_rows), built.source_first, built.source_last) == source(conn)
    return str(built.spec) if current else None


def recreate(conn: Connection, table: sa.Table) -> None:
    """Makes ``table`` anew and empty (a table of an earlier shape goes with its rows) and forgets its state."""
    ensure_table(conn, ds)
    conn.execute(sa.delete(ds).where(ds.c.name == table.name))
    recreate_table(conn, table)


def mark_built(conn: Connection, table: sa.Table, spec: str) -> int:
    """Records that ``table`` now holds ``spec`` built from the current journey events; returns its rows."""
    rows, first, last = source(conn)
    conn.execute(
        sa.insert(ds).values(
            name=table.name,
            spec=spec,
            source_rows=rows,
            source_first=first,
            source_last=last,
            built_at=utc_now(),
        )
    )
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
