"""Customer attributes on the facts (as PostHog's "persons on events"): every row of the journey events, survey
answers, tickets, orders, offers and experiment assignments, and of the derived tables built from the events, carries
its customer's filter attributes (``customer_segment``, ``customer_persona``... :data:`schema.ATTRIBUTE_TABLES`),
so that a customer filter is a predicate on the table being read (:meth:`Filters.customer_clause`) instead of a
semi-join of every row on the customer key. The columns are the store's business, not the contract's: no file
carries them.

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


def _pairs(table: sa.Table) -> list[tuple[sa.ColumnElement, sa.ColumnElement]]:
    """(the table's copy, the customer's attribute) per dimension."""
    own = schema.stored_attributes(table)
    assert own is not None, f"{table.name} carries no customer attributes"
    return [(own[d], cu.c[d]) for d in schema.FILTER_DIMENSIONS]


def _differs(table: sa.Table) -> sa.ColumnElement[bool]:
    return sa.or_(*(mine.is_distinct_from(theirs) for mine, theirs in _pairs(table)))


def differing(conn: Connection, table: sa.Table) -> int:
    """How many rows of ``table`` hold copies of their customer's attributes that differ from the customer's."""
    joined = table.join(cu, table.c.customer_id == cu.c.customer_id)
    return int(conn.execute(sa.select(sa.func.count()).select_from(joined).where(_differs(table))).scalar_one())


def stamp(conn: Connection, tables: Iterable[sa.Table]) -> dict[str, int]:
    """Copies each customer's attributes onto the rows of ``tables`` whose copies differ (on a connection in a write
    transaction); returns the rows written per table. A row whose customer is unknown keeps empty copies."""
    written: dict[str, int] = {}
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
    theirs = {schema.attribute_column(d): cu.c[d] for d in schema.FILTER_DIMENSIONS}
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
    names = ["customer_id", *schema.FILTER_DIMENSIONS]
    whose = sa.select(*(cu.c[n] for n in names)).where(*(() if customers is None else (customers,))).subquery("whose")
    theirs = [whose.c[d].label(schema.attribute_column(d)) for d in schema.FILTER_DIMENSIONS]
    stmt = sa.select(*rows.c, *theirs).select_from(rows.outerjoin(whose, rows.c.customer_id == whose.c.customer_id))
    return [*(c.name for c in rows.c), *(c.name for c in theirs)], stmt


def stamped_frame(frame: pl.DataFrame, customers: pl.DataFrame) -> pl.DataFrame:
    """A fact's rows with their customers' attributes (from the frame of those customers), as the store keeps them:
    the sample's generator writes them so, block by block, with no UPDATE afterwards."""
    copies = customers.select(
        "customer_id", *(pl.col(d).alias(schema.attribute_column(d)) for d in schema.FILTER_DIMENSIONS)
    )
    return frame.join(copies, on="customer_id", how="left", maintain_order="left")


def to_stamp(written: Iterable[str]) -> list[sa.Table]:
    """The fact tables a load of ``written`` tables leaves to stamp: every one after a customers load, else those
    loaded."""
    names = set(written)
    if "customers" in names:
        return list(schema.ATTRIBUTE_FACTS)
    return [t for t in schema.ATTRIBUTE_FACTS if t.name in names]
