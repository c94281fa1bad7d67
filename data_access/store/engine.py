"""The store's engines and connections: engines (read-only where the dialect allows it), connections that wait
out a DuckDB file lock, side-by-side queries, result frames and small status queries. The only module that knows
how each dialect opens."""

from __future__ import annotations

import contextvars
import fcntl
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from data_access import schema
from data_access.config import SETTINGS
from data_access.i18n import _
from data_access.store import clickhouse


def _NO_STORE() -> str:
    return _("No store at {path}. Create it with: python -m data_access seed --db {url}")


class StoreError(Exception):
    """A problem with the store, worded for the person at the keyboard (shown as one line, never a traceback)."""


class StoreBusy(StoreError):
    """The embedded DuckDB file is locked by another process for longer than the lock timeout."""


class QueryTimeout(StoreError):
    """A dashboard query ran past the statement timeout and was stopped, so that it cannot hold the store up."""


# what each database says when it stops a statement at its timeout
_TIMEOUT_TEXTS = (
    "TIMEOUT_EXCEEDED",
    "canceling statement due to statement timeout",
    "max_statement_time exceeded",
    "INTERRUPT",
    "interrupted",
)


def backend_name(url: str) -> str:
    """The database kind of a URL: duckdb, sqlite, postgresql, mysql..."""
    return parse_url(url).get_backend_name()


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and the Data page."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given, it holds no parsed password
        return url


def parse_url(url: str) -> sa.URL:
    try:
        return make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(
            _("Not a database URL: {url} (expected e.g. duckdb:///path/cjm.duckdb)").format(url=repr(url))
        ) from exc


def _file_path(url: sa.URL) -> Path | None:
    db = url.database
    if not db or db == ":memory:" or url.get_backend_name() not in ("duckdb", "sqlite"):
        return None
    return Path(db)


def file_path(url: str) -> Path | None:
    """The file of an embedded store (DuckDB, SQLite), None for a server database."""
    return _file_path(parse_url(url))


def create_store_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine for ``url``. ``read_only`` asks the database itself to refuse writes where it can."""
    u = parse_url(url)
    backend = u.get_backend_name()
    try:
        if backend == "duckdb":
            path = _file_path(u)
            if read_only and path is not None and not path.exists():
                raise StoreError(_NO_STORE().format(path=path, url=url))
            # Short-lived connections: DuckDB lets one process write or many read, so the dashboard must not
            # keep the file open between queries, or a load from the command line could never start.
            engine = sa.create_engine(u, poolclass=sa.NullPool, connect_args={"read_only": read_only})

            @sa.event.listens_for(engine, "connect")
            def _quiet(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.execute("SET enable_progress_bar = false")  # it would draw on the user's terminal
                # bounded, spilling to <file>.tmp beyond the bound: the pages' queries, and loads apart
                bound = SETTINGS.read_memory_mb if read_only else SETTINGS.write_memory_mb
                dbapi_conn.execute(f"SET memory_limit = '{int(bound)}MB'")

            if read_only:
                _interrupt_after(engine, SETTINGS.statement_timeout_seconds)
            return engine
        if backend == "sqlite":
            path = _file_path(u)
            if read_only and path is not None:
                if not path.exists():
                    raise StoreError(_NO_STORE().format(path=path, url=url))
                uri = f"file:{path}?mode=ro"
                engine = sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
                _interrupt_after(engine, SETTINGS.statement_timeout_seconds)
                return engine
            return sa.create_engine(u)
        if backend == "postgresql":
            args: dict[str, Any] = {"connect_timeout": 5}
            if read_only:
                timeout_ms = int(SETTINGS.statement_timeout_seconds * 1000)
                args["options"] = f"-c default_transaction_read_only=on -c statement_timeout={timeout_ms}"
            return sa.create_engine(u, connect_args=args, pool_pre_ping=True)
        if clickhouse.is_clickhouse(backend):
            return _clickhouse_engine(u, read_only=read_only)
        if backend in ("mysql", "mariadb"):
            engine = sa.create_engine(u, connect_args={"connect_timeout": 5}, pool_pre_ping=True, pool_recycle=3600)
            if read_only:

                @sa.event.listens_for(engine, "connect")
                def _read_only(dbapi_conn: Any, _record: Any) -> None:
                    with dbapi_conn.cursor() as cur:
                        cur.execute("SET SESSION TRANSACTION READ ONLY")
                        try:  # MariaDB: seconds; MySQL has max_execution_time (ms, SELECT only) instead
                            cur.execute("SET SESSION max_statement_time = %s", (SETTINGS.statement_timeout_seconds,))
                        except Exception:  # noqa: BLE001 - MySQL does not know the variable
                            cur.execute(
                                "SET SESSION max_execution_time = %s", (int(SETTINGS.statement_timeout_seconds * 1000),)
                            )

            return engine
        return sa.create_engine(u, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise StoreError(
            _("The driver for {backend} is not installed ({module}); see requirements.txt").format(
                backend=backend, module=exc.name
            )
        ) from exc


def _clickhouse_engine(u: sa.URL, *, read_only: bool) -> Engine:
    """chDB keeps one embedded server per process, on one folder: the URL may name a ``database`` in it
    (``chdb:///path?database=name``), made on first use. A server URL names its database in the path."""
    # readonly = 2: reads only, while the session's settings may still be set
    settings: dict[str, Any] = (
        {"max_execution_time": SETTINGS.statement_timeout_seconds, "readonly": 2} if read_only else {}
    )
    if u.get_backend_name() == "chdb":
        # the server runs in this process: a load's groupings and sorts spill to disk beyond half its bound, and a
        # page's beyond half its share of the read bound (its statements run PARALLEL_QUERIES at a time)
        bound = SETTINGS.read_memory_mb // PARALLEL_QUERIES if read_only else SETTINGS.write_memory_mb
        spill = bound * 1_000_000 // 2
        settings |= {"max_bytes_before_external_group_by": spill, "max_bytes_before_external_sort": spill}
        if not read_only:
            settings["enable_materialized_cte"] = 1  # the funnel attempts' levels, run once each (queries.funnel)
        database = u.query.get("database")
        if database:
            settings["database"] = database
            u = u.difference_update_query(["database"])
        if read_only and u.database and u.database != ":memory:" and not Path(u.database).exists():
            raise StoreError(_NO_STORE().format(path=u.database, url=u))
        engine = sa.create_engine(u)
        sa.event.listen(engine, "connect", clickhouse.on_connect(settings))
        sa.event.listen(engine, "do_execute", clickhouse.arrow_instead)
        sa.event.listen(engine, "do_execute_no_params", clickhouse.arrow_instead_no_params)
        return engine
    # a server: the settings travel with every HTTP request of the client (clickhouse-connect's generic args)
    return sa.create_engine(u, pool_pre_ping=True, connect_args={**clickhouse.SESSION_SETTINGS, **settings})


def _interrupt_after(engine: Engine, seconds: float) -> None:
    """DuckDB and SQLite have no statement timeout: each statement of ``engine`` is interrupted from a timer after
    ``seconds`` (both connections have ``interrupt()``)."""

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _arm(conn: Connection, *_args: Any) -> None:
        timer = threading.Timer(seconds, conn.connection.dbapi_connection.interrupt)
        timer.daemon = True
        timer.start()
        conn.info["cjm_timer"] = timer

    def _disarm(conn: Connection) -> None:
        timer = conn.info.pop("cjm_timer", None)
        if timer is not None:
            timer.cancel()

    sa.event.listen(engine, "after_cursor_execute", lambda conn, *_args: _disarm(conn))
    sa.event.listen(engine, "handle_error", lambda context: _disarm(context.connection) if context.connection else None)


def _is_lock_error(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc))
    return (
        "Could not set lock on file" in text
        or "database is locked" in text
        # DuckDB in this process has the file open read-only while a save opens it to write, or the other way round
        or "different configuration than existing connections" in text
        # two threads of this process opening the same file at the same moment (a page's statements side by side)
        or "Unique file handle conflict" in text
    )


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _busy(url: sa.URL) -> StoreBusy:
    return StoreBusy(
        _(
            "The store {url} is in use by another process that is writing to it (for example `python -m "
            "data_access ingest` or `seed`). Wait for it to finish and retry; waited {seconds} s."
        ).format(url=safe_url(str(url)), seconds=f"{SETTINGS.lock_timeout_seconds:.0f}")
    )


def duckdb_file(engine: Engine) -> Path | None:
    """The file of an embedded DuckDB store that this engine may write, None otherwise."""
    if engine.url.get_backend_name() != "duckdb":
        return None
    return _file_path(engine.url)


@contextmanager
def file_lock(lock_file: Path, seconds: float, busy: Callable[[], StoreError]) -> Iterator[None]:
    """An exclusive lock on ``lock_file`` across threads and processes, waited for up to ``seconds`` (polled with a
    growing pause of at most 1 s); past that, ``busy()`` is raised."""
    deadline = time.monotonic() + seconds
    delay = 0.05
    with open(lock_file, "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise busy() from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def writer_lock(path: Path, url: sa.URL) -> Iterator[None]:
    """One writer at a time on an embedded DuckDB file, across threads and processes (readers are not held up):
    a write in place waits for a load that writes into a copy (:func:`load_transaction`), so that the copy, when it
    takes the file's place, cannot drop that write. Waits up to the lock timeout, then :class:`StoreBusy`."""
    with file_lock(path.with_name(f".{path.name}.writer"), SETTINGS.lock_timeout_seconds, lambda: _busy(url)):
        yield


def data_version(url: str) -> tuple[int, int, int] | None:
    """For an embedded store, its file's identity and last change (inode, modification time, size): a load or a
    write from any process changes it. None for a server database."""
    path = file_path(url)
    if path is None:
        return None
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_size)


@contextmanager
def connect(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """A connection (in a transaction when ``write``), waiting up to the lock timeout while another process
    holds the embedded file. Connection failures become :class:`StoreError` with one readable line."""
    path = duckdb_file(engine) if write else None
    if path is not None and path.exists():
        with writer_lock(path, engine.url), connect(engine, write=False) as conn, conn.begin():
            yield conn
        return
    deadline = time.monotonic() + SETTINGS.lock_timeout_seconds
    delay = 0.05
    while True:
        try:
            conn = engine.connect()
            break
        except sa.exc.DBAPIError as exc:
            if _is_lock_error(exc):
                if time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
                    continue
                raise _busy(engine.url) from exc
            raise StoreError(
                _("Cannot reach the store {url}: {error}").format(url=safe_url(str(engine.url)), error=_first_line(exc))
            ) from exc
    try:
        if write:
            with conn.begin():
                yield conn
        else:
            yield conn
    except sa.exc.DBAPIError as exc:
        if any(t in str(getattr(exc, "orig", exc)) for t in _TIMEOUT_TEXTS):
            raise QueryTimeout(
                _(
                    "The query ran longer than {seconds} s and was stopped (CJM_STATEMENT_TIMEOUT), so that it does "
                    "not hold the store up for everyone: narrow the period or the filters."
                ).format(seconds=f"{SETTINGS.statement_timeout_seconds:g}")
            ) from exc
        raise StoreError(
            _("The store {url} could not answer: {error}").format(url=safe_url(str(engine.url)), error=_first_line(exc))
        ) from exc
    finally:
        conn.close()


PARALLEL_QUERIES = 2  # independent queries of one page run this many at a time, each on its own connection


def side_by_side(
    engine: Engine, queries: dict[str, Callable[[Connection], Any]], *, parallel: bool = True
) -> dict[str, Any]:
    """Runs independent queries at the same time, each on its own connection, and returns their results by name
    (an error in one is raised here). On the 2-core benchmark machine two at a time cut a page's cold time by
    about a quarter; the slowest should come first. ``parallel=False`` runs them one after the other on one
    connection (a background job on a writing DuckDB engine, where connections opened and closed at once by two
    threads can collide on the file)."""
    if len(queries) <= 1 or PARALLEL_QUERIES <= 1 or not parallel:
        with connect(engine) as conn:
            return {name: query(conn) for name, query in queries.items()}

    def run(query: Callable[[Connection], Any]) -> Any:
        with connect(engine) as conn:
            return query(conn)

    with ThreadPoolExecutor(max_workers=PARALLEL_QUERIES, thread_name_prefix="queries") as pool:
        # each in a copy of this context: the session's language reaches the messages raised there
        futures = {name: pool.submit(contextvars.copy_context().run, run, query) for name, query in queries.items()}
        return {name: future.result() for name, future in futures.items()}


def table_columns(conn: Connection, table: sa.Table) -> set[str]:
    """The columns the store's ``table`` has, from an empty result (the same on every dialect: duckdb-engine's
    inspector asks catalog tables that DuckDB no longer has)."""
    return set(conn.execute(sa.select(sa.text("*")).select_from(table).limit(0)).keys())


def has_column(conn: Connection, table: sa.Table, column: str) -> bool:
    """Whether the store's ``table`` has ``column`` (a store made before the column was added to the contract, and
    opened read-only, may not have it until its next load)."""
    return column in table_columns(conn, table)


def contact_columns(conn: Connection) -> list[sa.ColumnElement]:
    """The customers' ``email`` and ``customer_name`` for a list of customers (empty on a store made before the
    contract had them and opened read-only, until its next load adds them)."""
    c = schema.customers.c
    present = table_columns(conn, schema.customers)
    return [
        (c.email if "email" in present else sa.cast(sa.null(), sa.String)).label("email"),
        (c["name"] if "name" in present else sa.cast(sa.null(), sa.String)).label("customer_name"),
    ]


def has_table(conn: Connection, table: sa.Table) -> bool:
    """Whether the store has ``table`` yet (the app's own tables are made on first write)."""
    return sa.inspect(conn).has_table(table.name, schema=clickhouse.staging_database(conn))


def utc_now() -> datetime:
    """Now, as timestamps are stored: UTC without tzinfo."""
    return datetime.now(UTC).replace(tzinfo=None)


def missing_tables(engine: Engine, *, optional: bool = False) -> list[str]:
    """The contract's tables the store lacks: the ones every page needs, or with ``optional`` the others too
    (offers and experiments, which a store made before them, or a company without them, does not have)."""
    with connect(engine) as conn:
        inspector = sa.inspect(conn)
        wanted = schema.TABLES if optional else schema.CORE_TABLES
        return [t.name for t in wanted if not inspector.has_table(t.name)]


def outdated_tables(engine: Engine) -> list[str]:
    """The tables of a store made by an earlier version that lack the customer attributes on their rows, or the
    customers' numbers (``store.attributes``): an upgrade adds and fills them (``python -m data_access init``, or
    any load)."""
    with connect(engine) as conn:
        return [
            t.name
            for t in (schema.customers, *schema.ATTRIBUTE_TABLES)
            if has_table(conn, t)
            and not {c.name for c in t.columns if c.info.get("store_only")} <= table_columns(conn, t)
        ]


def fetch_frame(conn: Connection, stmt: sa.Executable, schema_overrides: dict[str, Any] | None = None) -> pl.DataFrame:
    """Run a (result-sized) statement and return its rows as a Polars frame, with columns even when empty. On chDB
    the rows come as Arrow (:func:`clickhouse.fetch_arrow`), in the types the other stores' rows take."""
    overrides = schema_overrides or {}
    if conn.dialect.name == "chdb":
        table = clickhouse.fetch_arrow(conn, stmt)
        if table.num_rows == 0:
            return _no_rows(table.column_names, overrides)
        frame = clickhouse.as_fetched(pl.from_arrow(table))
        wanted = {c: t for c, t in overrides.items() if c in frame.columns}
        return frame.cast(wanted) if wanted else frame
    return rows_frame(conn.execute(stmt), overrides)


def _no_rows(columns: list[str], overrides: dict[str, Any]) -> pl.DataFrame:
    """An empty result: its columns, typed where the caller said, Null otherwise (the same on every store)."""
    return pl.DataFrame(schema={c: overrides.get(c, pl.Null) for c in columns})


def rows_frame(result: sa.CursorResult, schema_overrides: dict[str, Any] | None = None) -> pl.DataFrame:
    """A result's rows, fetched through the DB-API cursor, as a Polars frame."""
    columns = list(result.keys())
    rows = result.fetchall()
    if not rows:
        return _no_rows(columns, schema_overrides or {})
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema=columns,
        orient="row",
        infer_schema_length=None,
        schema_overrides=schema_overrides,
    )


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table (0 for a table that does not exist yet)."""
    missing = set(missing_tables(engine, optional=True))
    counts: dict[str, int] = {}
    with connect(engine) as conn:
        for table in schema.TABLES:
            if table.name in missing:
                counts[str(table.name)] = 0
            else:
                counts[str(table.name)] = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    return counts


def time_range(engine: Engine, table_name: str = "journey_events") -> tuple[datetime, datetime] | None:
    """Earliest and latest timestamp of a table's time column, or None when it is empty."""
    table = schema.TABLES_BY_NAME[table_name]
    column = table.c[schema.TIME_COLUMNS[table_name]]
    with connect(engine) as conn:
        lo, hi = conn.execute(sa.select(sa.func.min(column), sa.func.max(column))).one()
    return None if lo is None else (lo, hi)


def freshness(engine: Engine) -> datetime | None:
    """The newest timestamp in any table: how recent the data is (one connection, one query)."""
    with connect(engine) as conn:
        inspector = sa.inspect(conn)
        newest = [
            sa.select(sa.func.max(schema.TABLES_BY_NAME[name].c[column])).scalar_subquery()
            for name, column in schema.TIME_COLUMNS.items()
            if inspector.has_table(name)
        ]
        if not newest:
            return None
        found = [v for v in conn.execute(sa.select(*newest)).one() if v is not None]
    if not found:
        return None
    return max(v if isinstance(v, datetime) else datetime.fromisoformat(str(v)) for v in found)


def orphans(conn: Connection, child: str, column: str, limit: int) -> tuple[int, list[str]]:
    """(how many rows, first distinct values) of ``child.column`` with no matching parent row."""
    parent_name, parent_column = schema.REFERENCES[(child, column)]
    c = schema.TABLES_BY_NAME[child].c[column]
    p = schema.TABLES_BY_NAME[parent_name].c[parent_column]
    wildcard = schema.REFERENCE_WILDCARDS.get((child, column))
    allowed = c != sa.literal(wildcard) if wildcard is not None else sa.true()
    orphan = sa.and_(c.is_not(None), allowed, ~sa.exists().where(p == c))
    total = int(conn.execute(sa.select(sa.func.count()).where(orphan)).scalar_one())
    if not total:
        return 0, []
    first = conn.execute(sa.select(c).where(orphan).distinct().order_by(c).limit(limit)).scalars()
    return total, [str(v) for v in first]


T = TypeVar("T")


def with_writer(url: str, action: Callable[[Engine], T]) -> T:
    """Runs ``action`` with an engine that may write to the store at ``url``, then lets the engine go."""
    writer = create_store_engine(url)
    try:
        return action(writer)
    finally:
        writer.dispose()
