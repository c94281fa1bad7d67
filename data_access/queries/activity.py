"""Each customer's months of activity, stored: a customer is active in a month when they have a journey event or an
order in it, and ``customer_activity`` (a derived table, :mod:`data_access.store.derived`) holds one row per customer
with those months as the bits of one integer, and the customer's attributes the facts copy. The Overview's activity
and Retention's monthly cohorts read it instead of grouping every event and order by customer: at 10M customers on
chDB that grouping of about 60M rows into 10M groups spilled to disk past the page's memory bound.

The months are the :data:`MONTH_BITS` months that end with the data's last (the first is in the table's spec); a
reader asking for an earlier month, a table built from other events or orders (its spec records the orders'
count and time range, :func:`stored_origin`) or a store without the table computes its figure from the raw rows, with
the same result.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import schema
from data_access.store import derived
from data_access.store.dialect import MONTH_BITS, add_months, bit_or, month_bit, months_between

ev = schema.journey_events
od = schema.orders
ca = schema.customer_activity
# What makes a customer active: a journey event or an order, each table with its time column.
ACTIVITY: tuple[tuple[sa.Table, str], ...] = ((ev, "occurred_at"), (od, "ordered_at"))
KEY = schema.CUSTOMER_KEY

SPEC = "each customer's months with an event or an order"
_SHAPE = "shape 1"


def _orders(conn: Connection) -> str:
    """The orders' count and time range, as the spec records them."""
    rows, first, last = conn.execute(
        sa.select(sa.func.count(), sa.func.min(od.c.ordered_at), sa.func.max(od.c.ordered_at))
    ).one()
    return f"orders {int(rows)} {first.isoformat() if first else '-'} {last.isoformat() if last else '-'}"


def _spec(origin: date | None, orders: str) -> str:
    months = f"months from {origin:%Y-%m}" if origin else "no months"
    return f"{SPEC}, {months}, {orders}, {_SHAPE}"


def _month(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def refresh(conn: Connection) -> int:
    """Rebuilds ``customer_activity`` from every journey event and order of the last :data:`MONTH_BITS` months of the
    data (on a connection in a write transaction), a range of customers at a time; returns its rows."""
    derived.recreate(conn, ca)
    events, *event_range = derived.source(conn)
    orders = _orders(conn)
    order_range = conn.execute(sa.select(sa.func.min(od.c.ordered_at), sa.func.max(od.c.ordered_at))).one()
    moments = [t for t in (*event_range, *order_range) if t is not None]
    if not moments:
        return derived.mark_built(conn, ca, _spec(None, orders))
    origin = add_months(_month(max(moments)), 1 - MONTH_BITS)  # months before the data's first hold no bits
    since = sa.bindparam(None, datetime.combine(origin, time()), type_=schema.TIMESTAMP)
    copies = list(schema.COPY_COLUMNS)
    count = int(orders.split()[1])
    for customers in derived.customer_ranges(conn, events + count):
        rows = sa.union_all(
            *(
                sa.select(t.c.customer_id, t.c[column].label("ts"), *(t.c[c] for c in copies)).where(
                    customers.on(t.c.customer_id), t.c[column] >= since, t.c[KEY] > 0
                )
                for t, column in ACTIVITY
            )
        ).subquery("every_activity")
        grouped = sa.select(
            rows.c.customer_id,
            bit_or(month_bit(rows.c.ts, origin)),
            *(sa.func.min(rows.c[c]) for c in copies),  # one value per customer
        ).group_by(rows.c.customer_id)
        conn.execute(sa.insert(ca).from_select(["customer_id", "months", *copies], grouped))
    return derived.mark_built(conn, ca, _spec(origin, orders))


def stored_origin(conn: Connection, first: date, end: date) -> date | None:
    """The month bit 0 of ``customer_activity.months`` stands for, when the table is current (built from the journey
    events and the orders as they are now) and holds every month from ``first`` up to ``end`` (excluded); else
    None, and the caller reads the raw rows."""
    spec = derived.current_spec(conn, ca)
    if spec is None or not spec.startswith(SPEC) or not spec.endswith(_SHAPE):
        return None
    found = re.search(r"months from (\d{4})-(\d{2})", spec)
    if found is None:
        return None
    origin = date(int(found[1]), int(found[2]), 1)
    if first < origin or months_between(origin, end) > MONTH_BITS or f", {_orders(conn)}," not in spec:
        return None
    return origin
