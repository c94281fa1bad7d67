"""Customer attributes on the facts (as PostHog's "persons on events"): every row of the journey events, survey
answers, tickets, orders, offers and experiment assignments, and of the derived tables built from the events, carries
its customer's filter attributes (``customer_segment``, ``customer_persona``... :data:`schema.ATTRIBUTE_TABLES`), so
that a customer filter is a predicate on the table being read (:meth:`Filters.customer_clause`) instead of a
semi-join of every row on the customer key; and its customer's number (``customer_key``, an integer the store gives
each customer, :func:`number_customers`), so that grouping or joining every row by customer reads an integer instead
of a text; and its customer's churn date (``customer_churned_at``), so that what came after it is read without a
join to ``customers``. The columns are the store's business, not the contract's: no file carries them.

They are written in the load that writes either side, inside its all-or-nothing transaction: a load of facts stamps
its tables, a load of customers stamps every table whose copies it changed, and a store made before them gets them
when it is upgraded (``store.upgrade``). Only rows whose copy differs are written.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import schema
from data_access.store import clickhouse
from data_access.store.engine import StoreError, has_table

cu = schema.customers


KEY = schema.CUSTOMER_KEY
COPIED: tuple[str, ...] = (*schema.COPIED_ATTRIBUTES, KEY)  # the customers' columns the facts copy


def _copy_name(column: str) -> str:
    return column if column == KEY else schema.attribute_column(column)


def _pairs(table: sa.Table) -> list[tuple[sa.ColumnElement, sa.ColumnElement]]:
    """(the table's copy, the customer's column) per copied column: the attributes, the churn date, the number."""
    assert schema.stored_attributes(table) is not None, f"{table.name} carries no customer attributes"
    return [(table.c[_copy_name(c)], cu.c[c]) for c in COPIED]


def unnumbered(key: sa.ColumnElement) -> sa.ColumnElement[bool]:
    """No number yet: empty, or 0 on ClickHouse (whose column is not Nullable)."""
    return sa.or_(key.is_(None), key == 0)


def number_customers(conn: Connection) -> int:
    """Gives each customer without a number the next free ones, in the order of their keys (on a connection in a
    write transaction); returns how many. A customer keeps their number across loads (:func:`kept_numbers`)."""
    key = cu.c[KEY]
    new = int(conn.execute(sa.select(sa.func.count()).where(unnumbered(key))).scalar_one())
    if not new:
        return 0
    base = sa.literal(int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(key), 0))).scalar_one()), sa.BigInteger)
    if clickhouse.is_clickhouse(conn.dialect.name):
        if clickhouse.on_cluster(conn):
            raise StoreError(
                f"This load brings {new:,} new customers, and numbering them is not built for a ClickHouse cluster "
                "yet: load into a single-node store"
            )
        rank = sa.func.row_number().over(partition_by=unnumbered(key), order_by=cu.c.customer_id)
        number = sa.case((unnumbered(key), base + rank), else_=key)
        clickhouse.rewrite(conn, cu, sa.select(*(number.label(c.name) if c.name == KEY else c for c in cu.columns)))
        return new
    rank = sa.func.row_number().over(order_by=cu.c.customer_id)
    numbered = sa.select(cu.c.customer_id, (base + rank).label("number")).where(unnumbered(key)).subquery("numbered")
    conn.execute(sa.update(cu).where(cu.c.customer_id == numbered.c.customer_id).values({KEY: numbered.c.number}))
    return new


def _differs(table: sa.Table) -> sa.ColumnElement[bool]:
    return sa.or_(*(mine.is_distinct_from(theirs) for mine, theirs in _pairs(table)))


def differing(conn: Connection, table: sa.Table) -> int:
    """How many rows of ``table`` hold copies of their customer's attributes that differ from the customer's."""
    joined = table.join(cu, table.c.customer_id == cu.c.customer_id)
    return int(conn.execute(sa.select(sa.func.count()).select_from(joined).where(_differs(table))).scalar_one())


def stamp(conn: Connection, tables: Iterable[sa.Table]) -> dict[str, int]:
    """Numbers the customers who have no number yet, then copies each customer's attributes, churn date and number
    onto the rows of ``tables`` whose copies differ (on a connection in a write transaction); returns the rows
    written per table. A row whose customer is unknown keeps empty copies."""
    written: dict[str, int] = {}
    if has_table(conn, cu):
        number_customers(conn)
    for table in tables:
        if not has_table(conn, table):
            continue
        if clickhouse.is_clickhouse(conn.dialect.name):
            written[table.name] = _rewrite(conn, table)
        else:
            values = dict(_pairs(table))
            matched = sa.update(table).where(table.c.customer_id == cu.c.customer_id, _differs(table))
            written[table.name] = int(conn.execute(matched.values(values)).rowcount or 0)
    return written


def _rewrite(conn: Connection, table: sa.Table) -> int:
    """ClickHouse: an UPDATE cannot read another table, so the table is written again with the copies taken from
    ``customers`` (a join) into a new table that is then exchanged with it; only when a copy differs."""
    count = differing(conn, table)
    if not count:
        return 0
    if clickhouse.on_cluster(conn):
        raise StoreError(
            f"This load changes the customers' attributes on {count:,} {table.name} rows, and writing them again is "
            "not built for a ClickHouse cluster yet: load into a single-node store"
        )
    theirs = {_copy_name(c): cu.c[c] for c in COPIED}
    theirs[KEY] = sa.func.coalesce(cu.c[KEY], 0)  # an unknown customer's row: 0, the column is not Nullable
    rows = sa.select(*(theirs.get(c.name, c).label(c.name) for c in table.columns)).select_from(
        table.outerjoin(cu, table.c.customer_id == cu.c.customer_id)
    )
    clickhouse.rewrite(conn, table, rows)
    return count


def with_copies(rows: sa.Subquery, customers: sa.ColumnElement[bool] | None = None) -> tuple[list[str], sa.Select]:
    """``rows`` (with a ``customer_id``) and their customer's attributes, as an INSERT ... SELECT takes them: (the
    column names, the select); ``customers``: a condition on ``customers`` that holds for every customer of
    ``rows`` (ClickHouse builds its join's table from what it is given: all customers, otherwise). A derived table
    is built with its copies so, instead of an UPDATE of every row after it (which DuckDB holds in memory until the
    load commits)."""
    names = ["customer_id", *COPIED]
    whose = sa.select(*(cu.c[n] for n in names)).where(*(() if customers is None else (customers,))).subquery("whose")
    theirs = [whose.c[c].label(_copy_name(c)) for c in COPIED]
    stmt = sa.select(*rows.c, *theirs).select_from(rows.outerjoin(whose, rows.c.customer_id == whose.c.customer_id))
    return [*(c.name for c in rows.c), *(c.name for c in theirs)], stmt


def stamped_frame(frame: pl.DataFrame, customers: pl.DataFrame) -> pl.DataFrame:
    """A fact's rows with their customers' attributes (from the frame of those customers), as the store keeps them:
    the sample's generator writes them so, block by block, with no UPDATE afterwards."""
    copies = customers.select("customer_id", *(pl.col(c).alias(_copy_name(c)) for c in COPIED))
    return frame.join(copies, on="customer_id", how="left", maintain_order="left")


def to_stamp(written: Iterable[str]) -> list[sa.Table]:
    """The fact tables a load of ``written`` tables leaves to stamp: every one after a customers load, else those
    loaded."""
    names = set(written)
    if "customers" in names:
        return list(schema.ATTRIBUTE_FACTS)
    return [t for t in schema.ATTRIBUTE_FACTS if t.name in names]
