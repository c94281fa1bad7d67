"""Writing to the store: the contract's tables made and upgraded, transactions that land whole or not at all (a
load into a copy of an embedded DuckDB file, staging tables on ClickHouse), bulk inserts and deletes by key."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema
from data_access.store import attributes, clickhouse
from data_access.store.engine import connect, create_store_engine, duckdb_file, has_table, table_columns, writer_lock


@contextmanager
def load_transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction for a load (ingest, an upload, rebuilding the derived tables). On an embedded DuckDB
    file the load writes into a copy of the file, which takes the file's place when the block ends without an
    error: the dashboard and other readers keep reading the old file meanwhile, never wait for the load, and see
    the new data from their next query; a failed load leaves the file as it was. (It needs the file's size again
    on the disk while it runs.) Elsewhere, :func:`write_transaction`: the database's own transaction does that."""
    path = duckdb_file(engine)
    wal = path.with_name(path.name + ".wal") if path is not None else None
    if path is None or not path.exists() or (wal is not None and wal.exists()):
        # a new file has no readers yet; a file with a log of unfinished writes is loaded in place
        with write_transaction(engine) as conn:
            yield conn
        return
    with writer_lock(path, engine.url):
        copy = path.with_name(f".{path.name}.loading-{uuid.uuid4().hex[:8]}")
        shutil.copyfile(path, copy)
        shutil.copymode(path, copy)
        shadow = create_store_engine(str(engine.url.set(database=str(copy))))
        try:
            with write_transaction(shadow) as conn:
                yield conn
            with connect(shadow) as conn:  # every change into the file itself before it takes the store's place
                conn.exec_driver_sql("CHECKPOINT")
            shadow.dispose()
            os.replace(copy, path)  # atomic: a reader opens the old file or the new one, never half of one
        finally:
            shadow.dispose()
            for leftover in (copy, copy.with_name(copy.name + ".wal"), copy.with_name(f".{copy.name}.writer")):
                leftover.unlink(missing_ok=True)


def init_store(engine: Engine) -> None:
    """Create every table of the contract that is missing (existing tables and rows are left alone) and add the
    optional columns that a store made by an earlier version lacks."""
    with connect(engine, write=True) as conn:
        upgrade(conn)


def upgrade_store(engine: Engine) -> None:
    """Brings a store made by an earlier version up to date (:func:`upgrade`) as a load does: on an embedded DuckDB
    file in a copy that takes its place, so that readers never see it half-done."""
    with load_transaction(engine):
        pass


def upgrade(conn: Connection, *, fill: bool = True) -> list[str]:
    """On a connection in a write transaction: creates the missing tables, then adds each optional (nullable)
    column that an existing table lacks, empty (the customer attributes on the facts are then copied in); returns
    the ``table.column`` names added. Identifiers
    and types come from the schema module, never from input."""
    on_clickhouse = clickhouse.is_clickhouse(conn.dialect.name)
    if on_clickhouse:
        clickhouse.create_tables(conn, [t for t in schema.metadata.sorted_tables if not has_table(conn, t)])
    else:
        schema.metadata.create_all(conn, checkfirst=True)
    added = []
    for table in (*schema.TABLES, *schema.ATTRIBUTE_DERIVED):
        if table not in schema.TABLES and not has_table(conn, table):
            continue  # a derived table is made when it is built
        present = table_columns(conn, table)
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            if on_clickhouse:
                conn.exec_driver_sql(clickhouse.add_column_ddl(table, column))
            else:
                spec = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
                conn.execute(
                    sa.DDL(f"ALTER TABLE {conn.dialect.identifier_preparer.format_table(table)} ADD COLUMN {spec}")
                )
            added.append(f"{table.name}.{column.name}")
    # a store made before the customer attributes on the facts: copied onto every row now, in this transaction
    # (unless the caller empties the tables next: ``fill`` False)
    if fill:
        copied = [t for t in schema.ATTRIBUTE_TABLES if any(f"{t.name}.{c}" in added for c in schema.COPY_COLUMNS)]
        attributes.stamp(conn, copied)
    return added


@contextmanager
def write_transaction(engine: Engine, also: tuple[sa.Table, ...] = ()) -> Iterator[Connection]:
    """A connection for a write that must land whole or not at all, with the contract's tables up to date. On the
    transactional stores it is one transaction; on ClickHouse, which has none, the statements write into staging
    copies of the contract's and the derived tables (and of the app's tables in ``also``) that are swapped in when
    the block ends without an error (:func:`clickhouse.staged`)."""
    with connect(engine, write=True) as conn:
        upgrade(conn)
        if not clickhouse.is_clickhouse(conn.dialect.name):
            yield conn
            return
        staged_tables = list(dict.fromkeys((*schema.TABLES, *schema.DERIVED_TABLES, *also)))
        with clickhouse.staged(conn, staged_tables, database=f"cjm_staging_{uuid.uuid4().hex[:12]}") as staged:
            yield staged


def outside_staging(conn: Connection) -> Connection:
    """The connection as it writes the app's own tables during a load: on ClickHouse a load writes into staging
    copies of the contract's tables (:func:`write_transaction`), and the app's tables are written where they are."""
    return conn.execution_options(schema_translate_map=None) if clickhouse.staging_database(conn) else conn


def ensure_table(conn: Connection, table: sa.Table) -> None:
    """Creates ``table`` if the store lacks it (the app's own tables are made on first write)."""
    if clickhouse.is_clickhouse(conn.dialect.name):
        if not has_table(conn, table):
            clickhouse.create_tables(conn, [table], database=clickhouse.staging_database(conn))
    else:
        table.create(conn, checkfirst=True)


def recreate_table(conn: Connection, table: sa.Table) -> None:
    """Drops ``table`` with its rows, if there, and makes it anew in its current shape."""
    if clickhouse.is_clickhouse(conn.dialect.name):
        name = conn.dialect.identifier_preparer.format_table(clickhouse.rendered(conn, table))
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        clickhouse.create_tables(conn, [table], database=clickhouse.staging_database(conn))
    else:
        table.drop(conn, checkfirst=True)
        table.create(conn)


def delete_where(conn: Connection, table: sa.Table, condition: sa.ColumnElement[bool]) -> int:
    """Deletes the rows of ``table`` that meet ``condition``; returns how many."""
    return _changed(conn, table, condition, sa.delete(table).where(condition))


def update_where(conn: Connection, table: sa.Table, condition: sa.ColumnElement[bool], **values: Any) -> int:
    """Sets ``values`` on the rows of ``table`` that meet ``condition``; returns how many."""
    return _changed(conn, table, condition, sa.update(table).where(condition).values(**values))


def _changed(conn: Connection, table: sa.Table, condition: sa.ColumnElement[bool], change: sa.Executable) -> int:
    """Runs a DELETE or UPDATE and returns the rows it changed: its row count, or on ClickHouse, which reports
    none, the rows counted just before (there a race of two writers is not settled by the count)."""
    if not clickhouse.is_clickhouse(conn.dialect.name):
        return conn.execute(change).rowcount
    count = int(conn.execute(sa.select(sa.func.count()).select_from(table).where(condition)).scalar_one())
    if count:
        conn.execute(change)
    return count


_GENERIC_BATCH = 5_000  # rows per executemany batch on server databases


def delete_rows_with_keys(conn: Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Deletes the rows of ``table`` whose primary key appears in ``frame`` (what makes a re-load idempotent)."""
    keys = schema.key_columns(table)
    if conn.dialect.name == "duckdb":
        with _registered(conn, frame.select(keys)) as chunk:
            match = sa.and_(*(chunk.c[k] == table.c[k] for k in keys))
            conn.execute(sa.delete(table).where(sa.exists(sa.select(sa.literal(1)).select_from(chunk).where(match))))
        return
    key_tuple = sa.tuple_(*(table.c[k] for k in keys)) if len(keys) > 1 else table.c[keys[0]]
    for start in range(0, frame.height, 1_000):
        part = frame.slice(start, 1_000).select(keys)
        values = list(part.iter_rows()) if len(keys) > 1 else part.to_series().to_list()
        conn.execute(sa.delete(table).where(key_tuple.in_(values)))


def kept_numbers(conn: Connection, frame: pl.DataFrame) -> pl.DataFrame:
    """A frame of customers about to replace their rows in the store (a load in append mode), with the numbers the
    store gave them (``customer_key``): a customer keeps their number across loads, so their rows' copies stay
    as they are; new customers are numbered after the load (``attributes.number_customers``)."""
    key, cu = schema.CUSTOMER_KEY, schema.customers
    if key in frame.columns or key not in table_columns(conn, cu):
        return frame
    pick = sa.select(cu.c.customer_id, cu.c[key]).where(sa.not_(attributes.unnumbered(cu.c[key])))
    found: list[tuple[Any, ...]] = []
    if conn.dialect.name == "duckdb":
        with _registered(conn, frame.select("customer_id")) as chunk:
            found = [tuple(r) for r in conn.execute(pick.join_from(chunk, cu, chunk.c.customer_id == cu.c.customer_id))]
    else:
        for start in range(0, frame.height, 1_000):
            ids = frame["customer_id"].slice(start, 1_000).to_list()
            found += [tuple(r) for r in conn.execute(pick.where(cu.c.customer_id.in_(ids)))]
    numbers = pl.DataFrame(found, schema={"customer_id": pl.String, key: pl.Int64}, orient="row")
    return frame.join(numbers, on="customer_id", how="left", maintain_order="left")


@contextmanager
def _registered(conn: Connection, frame: pl.DataFrame) -> Iterator[sa.TableClause]:
    """DuckDB only: ``frame`` visible to SQL as a table for the duration (zero-copy through Arrow)."""
    raw = conn.connection.dbapi_connection
    name = "_cjm_chunk"
    raw.register(name, frame.to_arrow())
    try:
        yield sa.table(name, *(sa.column(c) for c in frame.columns))
    finally:
        raw.unregister(name)


def bulk_insert(conn: Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Inserts ``frame`` (columns named as in the contract, types already coerced) into ``table``."""
    if frame.height == 0:
        return
    if clickhouse.is_clickhouse(conn.dialect.name):
        clickhouse.insert_frame(conn, table, frame)
        return
    if conn.dialect.name == "duckdb":
        with _registered(conn, frame) as chunk:
            conn.execute(sa.insert(table).from_select(frame.columns, sa.select(*(chunk.c[c] for c in frame.columns))))
        return
    for start in range(0, frame.height, _GENERIC_BATCH):
        conn.execute(table.insert(), frame.slice(start, _GENERIC_BATCH).to_dicts())


def clear_tables(conn: Connection, tables: list[sa.Table]) -> None:
    """Empties tables, children first."""
    for table in reversed(tables):
        empty_table(conn, table)


def empty_table(conn: Connection, table: sa.Table) -> None:
    """Deletes every row of ``table`` (ClickHouse: TRUNCATE, its DELETE is a rewrite of every part)."""
    if clickhouse.is_clickhouse(conn.dialect.name):
        name = conn.dialect.identifier_preparer.format_table(clickhouse.rendered(conn, table))
        conn.exec_driver_sql(f"TRUNCATE TABLE {name}")
    else:
        conn.execute(sa.delete(table))
