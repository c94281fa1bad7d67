"""Each customer's months of activity, stored: a customer is active in a month when they have a journey event or an
order in it, and ``customer_activity`` (a derived table, :mod:`data_access.store.derived`) holds one row per customer
with those months as the bits of one integer (``months``), the months of their events and orders after their churn
date likewise (``months_back``: a reactivation), and the customer's attributes the facts copy. The Overview's
activity and reactivation, Retention's monthly cohorts and reactivation and the KPI review's reactivated customers
read it instead of grouping every event and order by customer: at 10M customers on chDB that grouping of about 60M
rows into 10M groups spilled to disk past the page's memory bound.

The months are the :data:`MONTH_BITS` months that end with the data's last (the first is in the table's spec). A
reader asking for an earlier month, a table built from other events, orders or churn dates (its spec records the
orders' count and time range; a customers load builds it again, as their churn dates make ``months_back``) or a store
without the table computes its figure from the raw rows, with the same result.
"""

from __future__ import annotations

from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import schema
from data_access.filters import Period
from data_access.store import derived
from data_access.store.dialect import MONTH_BITS, add_months, bit_or, month_bit, months_between

ev = schema.journey_events
od = schema.orders
ca = schema.customer_activity
# What makes a customer active: a journey event or an order, each table with its time column.
ACTIVITY: tuple[tuple[sa.Table, str], ...] = ((ev, "occurred_at"), (od, "ordered_at"))
KEY = schema.CUSTOMER_KEY
CHURNED = schema.CHURN_COPY_COLUMN
# The tables a load of which builds customer_activity again: its rows' sources, and the customers, whose churn dates
# decide which months are a reactivation.
BUILT_FROM = frozenset({"journey_events", "orders", "customers"})

SPEC = "each customer's months with an event or an order, and after their churn date"
_SHAPE = "shape 2"


def _orders(conn: Connection) -> tuple[int, datetime | None, datetime | None]:
    """The orders' count and time range."""
    rows, first, last = conn.execute(
        sa.select(sa.func.count(), sa.func.min(od.c.ordered_at), sa.func.max(od.c.ordered_at))
    ).one()
    return int(rows), first, last


def _recorded(orders: tuple[int, datetime | None, datetime | None]) -> str:
    """The orders' count and time range as the spec records them."""
    rows, first, last = orders
    return f"orders {rows} {first.isoformat() if first else '-'} {last.isoformat() if last else '-'}"


def _month(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def refresh(conn: Connection) -> int:
    """Rebuilds ``customer_activity`` from every journey event and order of the last :data:`MONTH_BITS` months of the
    data (on a connection in a write transaction), a range of customers at a time; returns its rows."""
    derived.recreate(conn, ca)
    events, *event_range = derived.source(conn)
    orders, *order_range = order_source = _orders(conn)
    moments = [t for t in (*event_range, *order_range) if t is not None]
    if not moments:
        return derived.mark_built(conn, ca, f"{SPEC}, no months, {_recorded(order_source)}, {_SHAPE}")
    origin = add_months(_month(max(moments)), 1 - MONTH_BITS)  # months before the data's first hold no bits
    since = sa.bindparam(None, datetime.combine(origin, time()), type_=schema.TIMESTAMP)
    copies = list(schema.COPY_COLUMNS)
    for customers in derived.customer_ranges(conn, events + orders):
        rows = sa.union_all(
            *(
                sa.select(t.c.customer_id, t.c[column].label("ts"), *(t.c[c] for c in copies)).where(
                    customers.on(t.c.customer_id), t.c[column] >= since, t.c[KEY] > 0
                )
                for t, column in ACTIVITY
            )
        ).subquery("every_activity")
        bit = month_bit(rows.c.ts, origin)
        back = sa.and_(rows.c[CHURNED].is_not(None), rows.c.ts > rows.c[CHURNED])
        grouped = sa.select(
            rows.c.customer_id,
            bit_or(bit),
            bit_or(sa.case((back, bit), else_=sa.cast(sa.literal(0), sa.BigInteger))),
            *(sa.func.min(rows.c[c]) for c in copies),  # one value per customer
        ).group_by(rows.c.customer_id)
        conn.execute(sa.insert(ca).from_select(["customer_id", "months", "months_back", *copies], grouped))
    data_first = _month(min(moments))
    spec = f"{SPEC}, months from {origin:%Y-%m}, data from {data_first:%Y-%m}, {_recorded(order_source)}, {_SHAPE}"
    return derived.mark_built(conn, ca, spec)


def _current(conn: Connection) -> tuple[date, date] | None:
    """The month of bit 0 and the data's first month, when ``customer_activity`` was built from the journey events
    and the orders as they are now; else None."""
    spec = derived.current_spec(conn, ca)
    if spec is None or not spec.startswith(SPEC) or not spec.endswith(_SHAPE):
        return None
    origin, data_first = derived.spec_month(spec, "months from"), derived.spec_month(spec, "data from")
    if origin is None or data_first is None or f", {_recorded(_orders(conn))}," not in spec:
        return None
    return origin, data_first


def stored_origin(conn: Connection, first: date | None, end: date | None) -> date | None:
    """The month bit 0 of ``customer_activity``'s masks stands for, when the table is current and holds every month
    from ``first`` (None: the data's first) up to ``end`` (excluded; None: the data's last); else None, and the
    caller reads the raw rows."""
    current = _current(conn)
    if current is None:
        return None
    origin, data_first = current
    if (first or data_first) < origin or (end is not None and months_between(origin, end) > MONTH_BITS):
        return None
    return origin


def whole_months(period: Period) -> tuple[date, date] | None:
    """The first month of a period of whole months and the month after its last (its end exclusive), else None."""
    ends = (period.start, period.end)
    if period.end_inclusive or not all(t is not None and t.day == 1 and t.time() == time() for t in ends):
        return None
    return _month(period.start), _month(period.end)  # type: ignore[arg-type]


def span(origin: date, first: date, end: date) -> int:
    """The bits of the months from ``first`` up to ``end`` (excluded), bit 0 being ``origin``'s month."""
    return sum(1 << k for k in range(max(months_between(origin, first), 0), months_between(origin, end)))
