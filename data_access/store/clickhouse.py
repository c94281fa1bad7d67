"""ClickHouse, embedded (chDB, ``chdb:///path/to/dir``) or a server (``clickhousedb://user:pass@host:8123/db``):
what differs from the other stores, in one place.

- Tables: ``MergeTree`` ordered as :data:`ORDER_BY` says (events by customer and time, answers and tickets by
  time), ``Nullable`` only where the contract allows an empty value, ``LowCardinality(String)`` for the
  dimensions in :data:`LOW_CARDINALITY`, timestamps as ``DateTime64(6)`` (microseconds, as on the other stores).
  With a cluster name the tables are ``ReplicatedMergeTree`` on every node plus a ``Distributed`` table over
  them, sharded by ``cityHash64(customer_id)`` so that one customer's rows live on one shard.
- Sessions: ``cast_keep_nullable`` (a CAST of NULL stays NULL, as in SQL), ``join_use_nulls`` (an outer join's
  missing side is NULL, not 0 or ''), ``mutations_sync`` (a DELETE is done when it returns), UTC, and no JIT
  compilation of expressions.
- Loads: ClickHouse has no multi-statement transaction, so a load writes into staging copies of the tables
  (``store.write_transaction``) and swaps them in with ``EXCHANGE TABLES`` once everything was checked.
- Rows arrive through Parquet (a temporary file that chDB reads itself, or ``clickhouse-connect``'s Arrow insert
  on a server), never row by row. On chDB, query results leave as Arrow too (:func:`fetch_arrow`): its DB-API cursor
  decodes every value in Python, which costs about half a second for 70,000 rows of eleven columns.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import schema
from data_access.store.dialect import CLICKHOUSE

SESSION_SETTINGS: dict[str, str | int] = {
    "distributed_product_mode": "local",  # on a cluster, joins and INs on the customer stay on each shard
    "cast_keep_nullable": 1,
    "join_use_nulls": 1,
    "mutations_sync": 2,
    "session_timezone": "UTC",
    "allow_experimental_correlated_subqueries": 1,
    # no JIT: each expression is compiled to machine code at its third use, tens of ms inside that query, and the
    # dashboard's many statements over a few million rows gain nothing back (at 1M customers the Overview's second
    # cold run in a process took 1.34-1.52 s with it, 0.90-1.02 s without; the KPI review's first 0.86-1.13 s
    # against 0.71-0.77 s)
    "compile_expressions": 0,
    "compile_aggregate_expressions": 0,
    "compile_sort_description": 0,
}

# The sorting key of each table (MergeTree's ORDER BY): what the queries filter and join on first.
ORDER_BY: dict[str, tuple[str, ...]] = {
    "stages": ("stage_id",),
    "customers": ("customer_id",),
    "journey_events": ("customer_id", "occurred_at", "event_id"),
    "survey_responses": ("responded_at", "response_id"),
    "tickets": ("opened_at", "ticket_id"),
    "orders": ("customer_id", "ordered_at", "order_id"),
    "kpi_targets": ("stage_id", "metric"),
    "journey_map": ("map", "stage_id", "lane"),
    "business_events": ("occurred_at", "name"),
    "offers": ("customer_id", "offered_at", "offer_id"),
    "experiment_info": ("experiment",),
    "experiments": ("experiment", "customer_id"),
    # read by a period of first steps, never by customer: in time order a half-year reads a quarter of the granules
    # (the KPI review's funnel statements at 1M: about 130-240 ms by customer, 55-120 ms by time)
    "funnel_attempts": ("entered_at", "customer_id"),
    "stage_customers": ("stage_id", "customer_id"),
    "customer_activity": ("customer_id",),
    "audit_log": ("logged_at", "entry_id"),
}

# Short repeated texts: dictionary-encoded.
LOW_CARDINALITY = frozenset(
    {
        "stage_id",
        "segment",
        "persona",
        "channel",
        "region",
        "plan",
        "touchpoint",
        # free text, but in practice event names (tens to hundreds): dictionary-encoded, the unsubscribe spike reads
        # a twentieth of the bytes (at 1M customers about 114 -> 79 ms a statement)
        "action",
        "survey",
        "reason",
        "entry_channel",
        "category",
        "offer_type",
        "variant",
        "lane",
        "metric",
    }
)


# The app's own tables whose rows an UPDATE changes (alert rules, deliveries): ClickHouse's lightweight UPDATE
# needs the block columns.
UPDATED = frozenset({"alert_rules", "notifications", "audience_members", "audience_pushes"})
UPDATABLE = "enable_block_number_column = 1, enable_block_offset_column = 1"


def is_clickhouse(dialect_name: str) -> bool:
    return dialect_name in CLICKHOUSE


def column_type(column: sa.Column) -> str:
    """The ClickHouse type of a contract column."""
    t = column.type
    if column.name == schema.CUSTOMER_KEY and column.info.get("store_only"):
        return "UInt64"  # not Nullable: a null map makes every grouping by it slower; 0 is "none yet"
    if isinstance(t, sa.DateTime):
        base = "DateTime64(6)"
    elif isinstance(t, sa.Boolean):
        base = "Bool"
    elif isinstance(t, sa.BigInteger):
        base = "Int64"
    elif isinstance(t, sa.Integer):
        base = "Int32"
    elif isinstance(t, sa.Float):
        base = "Float64"
    else:
        base = "String"
    if column.nullable:
        base = f"Nullable({base})"
    dimension = column.info.get("store_only") or (column.table in schema.TABLES and column.name in LOW_CARDINALITY)
    if dimension and base.removeprefix("Nullable(").startswith("String"):
        base = f"LowCardinality({base})"
    return base


def _is_identifier(name: str) -> bool:
    return name.replace("_", "").replace("-", "").isalnum()


def _quote(name: str) -> str:
    if not _is_identifier(name):
        raise ValueError(f"not an identifier: {name!r}")  # names come from the schema module, never from input
    return f"`{name}`"


def _order_by(table: sa.Table) -> str:
    columns = ORDER_BY.get(table.name) or tuple(schema.key_columns(table))
    return f"({', '.join(_quote(c) for c in columns)})" if columns else "tuple()"


def create_table_ddl(
    table: sa.Table, *, name: str | None = None, database: str | None = None, cluster: str | None = None
) -> list[str]:
    """The statements that create ``table`` (as ``name``). On a cluster, a table with customers' rows is a
    ``ReplicatedMergeTree`` table ``<name>_local`` on every shard plus a ``Distributed`` table ``<name>`` over
    them, sharded by ``cityHash64(customer_id)``: one customer's events, answers, tickets and orders live on one
    shard, so a join on the customer runs shard by shard (``distributed_product_mode = 'local'``). A table without
    customers (stages, targets, the map, the app's own tables) is one ``ReplicatedMergeTree`` whose replicas are
    every node, so each shard joins its whole copy."""
    name = name or table.name
    columns = ",\n    ".join(f"{_quote(c.name)} {column_type(c)}" for c in table.columns)
    prefix = f"{_quote(database)}." if database else ""
    settings = f"\nSETTINGS {UPDATABLE}" if table.name in UPDATED else ""
    body = f"\n(\n    {columns}\n)\n"
    if cluster is None:
        engine = f"ENGINE = MergeTree\nORDER BY {_order_by(table)}{settings}"
        return [f"CREATE TABLE IF NOT EXISTS {prefix}{_quote(name)}{body}{engine}"]
    on = f" ON CLUSTER {_quote(cluster)}"
    if not is_sharded(table):
        path = f"/clickhouse/tables/all/{{database}}/{name}"
        return [
            f"CREATE TABLE IF NOT EXISTS {prefix}{_quote(name)}{on}{body}"
            f"ENGINE = ReplicatedMergeTree('{path}', '{{replica}}')\nORDER BY {_order_by(table)}{settings}"
        ]
    local = f"{name}_local"
    path = f"/clickhouse/tables/{{shard}}/{{database}}/{local}"
    db_arg = f"'{database}'" if database else "currentDatabase()"
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}{_quote(local)}{on}{body}"
        f"ENGINE = ReplicatedMergeTree('{path}', '{{replica}}')\nORDER BY {_order_by(table)}{settings}",
        f"CREATE TABLE IF NOT EXISTS {prefix}{_quote(name)}{on} AS {prefix}{_quote(local)}\n"
        f"ENGINE = Distributed({_quote(cluster)}, {db_arg}, '{local}', cityHash64(`customer_id`))",
    ]


def is_sharded(table: sa.Table) -> bool:
    """On a cluster: whether the table's rows are spread over the shards by customer (else every node has all)."""
    return "customer_id" in table.c


def cluster_ddl(cluster: str, *, database: str | None = None) -> list[str]:
    """Every statement of ``init --cluster``: the store's tables on an existing cluster (:func:`create_table_ddl`)."""
    if not _is_identifier(cluster):
        raise ValueError(f"not a cluster name: {cluster!r}")
    return [
        ddl
        for table in schema.metadata.sorted_tables
        for ddl in create_table_ddl(table, database=database, cluster=cluster)
    ]


def create_tables(
    conn: Connection, tables: tuple[sa.Table, ...] | list[sa.Table], *, database: str | None = None
) -> None:
    for table in tables:
        for statement in create_table_ddl(table, database=database):
            conn.exec_driver_sql(statement)


def on_cluster(conn: Connection) -> bool:
    """Whether the store's tables were made by ``init --cluster`` (journey events are a Distributed table)."""
    engine = conn.execute(
        sa.text("SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = :name"),
        {"name": schema.journey_events.name},
    ).scalar()
    return engine == "Distributed"


def staging_database(conn: Connection) -> str | None:
    """The staging database this connection's statements write into while a load runs, else None."""
    mapping = conn.get_execution_options().get("schema_translate_map") or {}
    return mapping.get(None)


def add_column_ddl(table: sa.Table, column: sa.Column) -> str:
    return f"ALTER TABLE {_quote(table.name)} ADD COLUMN IF NOT EXISTS {_quote(column.name)} {column_type(column)}"


def _parquet_frame(table: sa.Table, frame: pl.DataFrame) -> pl.DataFrame:
    """The frame in the table's column order with the stored types (timestamps in microseconds)."""
    columns = [c.name for c in table.columns if c.name in frame.columns]
    out = frame.select(columns)
    casts = {
        c: pl.Datetime("us") for c in columns if isinstance(table.c[c].type, sa.DateTime) and out.schema[c] != pl.Null
    }
    return out.with_columns(pl.col(c).cast(t) for c, t in casts.items()) if casts else out


def insert_frame(conn: Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Inserts ``frame`` into ``table`` (named as the table is rendered on this connection, staging included)."""
    frame = _parquet_frame(table, frame)
    target = conn.dialect.identifier_preparer.format_table(rendered(conn, table))
    columns = ", ".join(_quote(c) for c in frame.columns)
    if conn.dialect.name == "chdb":
        with tempfile.TemporaryDirectory(prefix="cjm-load-") as folder:
            path = Path(folder) / "chunk.parquet"
            frame.write_parquet(path)
            literal = str(path).replace("\\", "\\\\").replace("'", "\\'")
            conn.exec_driver_sql(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM file('{literal}', Parquet)")
        return
    client = conn.connection.dbapi_connection.client  # clickhouse-connect's HTTP client
    client.insert_arrow(target, frame.to_arrow())


def rendered(conn: Connection, table: sa.Table) -> sa.Table:
    """``table`` as this connection names it: a staging copy while a load runs (``schema_translate_map``)."""
    database = staging_database(conn)
    if database is None:
        return table
    return sa.Table(table.name, sa.MetaData(), schema=database)


@contextmanager
def staged(conn: Connection, tables: list[sa.Table], *, database: str) -> Iterator[Connection]:
    """A load on ClickHouse, all or nothing: copies of ``tables`` in the database ``database`` (made here,
    filled with hard links to the tables' current parts, no rows copied), a connection whose statements name those
    copies, then on success ``EXCHANGE TABLES`` of each copy with its original. On an error the copies are
    dropped and the store is as it was."""
    if on_cluster(conn):  # EXCHANGE TABLES is per node: a cluster's load writes through its Distributed tables
        yield conn
        return
    prefix = _quote(database)
    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {prefix}")
    conn.exec_driver_sql(f"CREATE DATABASE {prefix}")
    try:
        for table in tables:
            copy, original = f"{prefix}.{_quote(table.name)}", _quote(table.name)
            # made like the original as it is (an earlier version's sort key included: ATTACH needs the same one),
            # not as this version would make it; a derived table rebuilt in the load gets this version's
            conn.exec_driver_sql(f"CREATE TABLE {copy} AS {original}")
            conn.exec_driver_sql(f"ALTER TABLE {copy} ATTACH PARTITION ALL FROM {original}")
        yield conn.execution_options(schema_translate_map={None: database})
        current = conn.exec_driver_sql("SELECT currentDatabase()").scalar_one()
        for table in tables:
            conn.exec_driver_sql(
                f"EXCHANGE TABLES {_quote(current)}.{_quote(table.name)} AND {prefix}.{_quote(table.name)}"
            )
    finally:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {prefix}")


def rewrite(conn: Connection, table: sa.Table, rows: sa.Select) -> None:
    """Writes ``table`` again as ``rows`` (every column, in the table's order): into a new table made like it, which
    then takes its place (``EXCHANGE TABLES``, atomic) while the old rows are dropped. Inside a load it is the staging
    copy that is written again. Not on a cluster (:func:`on_cluster`), where a table is a Distributed table over
    every shard's."""
    database = staging_database(conn)
    prefix = f"{_quote(database)}." if database else ""
    fresh = f"{table.name}_rewritten"
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {prefix}{_quote(fresh)}")
    [ddl] = create_table_ddl(table, name=fresh, database=database)
    conn.exec_driver_sql(ddl)
    target = sa.Table(fresh, sa.MetaData(), *(sa.Column(c.name, c.type) for c in table.columns))
    conn.execute(sa.insert(target).from_select([c.name for c in table.columns], rows))
    conn.exec_driver_sql(f"EXCHANGE TABLES {prefix}{_quote(table.name)} AND {prefix}{_quote(fresh)}")
    conn.exec_driver_sql(f"DROP TABLE {prefix}{_quote(fresh)}")


def on_connect(settings: dict[str, Any]) -> Any:
    """A ``connect`` listener that applies ``settings`` (and SESSION_SETTINGS) to every new chDB connection."""
    wanted = {**SESSION_SETTINGS, **settings}

    def _apply(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        try:
            database = wanted.get("database")
            for key, value in wanted.items():
                if key in ("database", "readonly"):
                    continue
                text = str(value) if isinstance(value, int | float) else "'" + str(value).replace("'", "\\'") + "'"
                cur.execute(f"SET {key} = {text}")
            if database:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS {_quote(str(database))}")
                cur.execute(f"USE {_quote(str(database))}")
            if "readonly" in wanted:  # last: it forbids what comes after it
                cur.execute(f"SET readonly = {int(wanted['readonly'])}")
        finally:
            cur.close()

    return _apply


ARROW_OPTION = "cjm_arrow"  # execution option: chDB hands this statement's rows over as an Arrow table
_ARROW_RESULT = "cjm_arrow_result"


def arrow_instead(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    """A ``do_execute`` (and ``do_execute_no_params``) listener on chDB engines: a statement executed with
    :data:`ARROW_OPTION` runs here instead of on the DB-API cursor, its parameters bound exactly as the cursor binds
    them, through chDB's Arrow output on the same session (its settings and timeout apply); the table waits on the
    connection for :func:`fetch_arrow`, and the cursor is left unexecuted (returning True tells SQLAlchemy the
    statement ran; it once ran an empty statement instead, a second round trip of about 1 ms for every query). Errors
    are raised as the cursor raises them."""
    if not context.execution_options.get(ARROW_OPTION):
        return False
    conn = context.root_connection
    sql = cursor.mogrify(statement, parameters)
    session = conn.connection.dbapi_connection._conn._conn  # chdb-sqlalchemy's wrapper > chdb.dbapi > the session
    try:
        conn.info[_ARROW_RESULT] = session.query(sql, "ArrowTable")
    except Exception as exc:  # chDB raises bare exceptions; the driver's DatabaseError is what SQLAlchemy wraps
        raise conn.dialect.loaded_dbapi.DatabaseError(str(exc)) from exc
    return True


def arrow_instead_no_params(cursor: Any, statement: str, context: Any) -> bool:
    """:func:`arrow_instead` for a statement without parameters."""
    return arrow_instead(cursor, statement, None, context)


def fetch_arrow(conn: Connection, stmt: sa.Executable) -> Any:
    """``stmt``'s rows as a ``pyarrow.Table``, on a chDB connection (see :func:`arrow_instead`)."""
    conn.info.pop(_ARROW_RESULT, None)
    conn.execute(stmt, execution_options={ARROW_OPTION: True}).close()  # this statement only
    return conn.info.pop(_ARROW_RESULT)


def as_fetched(frame: pl.DataFrame) -> pl.DataFrame:
    """An Arrow result in the types the other stores' rows take in Polars: integers as Int64, floats as Float64,
    timestamps as naive UTC microseconds, a column with no value as Null."""
    casts: dict[str, Any] = {}
    for name, dtype in frame.schema.items():
        if frame.height and frame[name].null_count() == frame.height:
            casts[name] = pl.Null
        elif dtype.is_integer():
            casts[name] = pl.Int64
        elif dtype == pl.Float32:
            casts[name] = pl.Float64
        elif isinstance(dtype, pl.Categorical | pl.Enum):
            casts[name] = pl.String
    frame = frame.with_columns(
        pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None).dt.cast_time_unit("us")
        if dtype.time_zone  # type: ignore[union-attr]
        else pl.col(name).dt.cast_time_unit("us")
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime)
    )
    return frame.cast(casts) if casts else frame
