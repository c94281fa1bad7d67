"""``bench --statements``: each page's slowest SQL statements, cold, on a seeded store of any kind, and on ClickHouse
what the engine says it reads for each (``EXPLAIN indexes = 1``: the parts and granules its sort key and skip
indexes let it skip). It is how the README's "slowest statements" write-up is made, on the store it names."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import store
from data_access.config import StoreLocation
from data_access.filters import Filters
from data_access.store import clickhouse

TOP = 5  # statements shown per page


def _recorder(engine: Engine) -> list[tuple[float, str, Any]]:
    """Every statement the engine runs from now on, as (seconds, SQL with its parameters bound, ClauseElement)."""
    seen: list[tuple[float, str, Any]] = []

    @sa.event.listens_for(engine, "before_execute")
    def _start(conn: Any, clause: Any, multiparams: Any, params: Any, options: Any) -> None:
        conn.info.setdefault("cjm_started", []).append(time.perf_counter())

    @sa.event.listens_for(engine, "after_execute")
    def _stop(conn: Any, clause: Any, multiparams: Any, params: Any, options: Any, result: Any) -> None:
        started = conn.info["cjm_started"].pop()
        if isinstance(clause, sa.TextClause) and params:  # shown with its values, as the database got them
            clause = clause.bindparams(**params)
        if isinstance(clause, sa.sql.ClauseElement):
            seen.append((time.perf_counter() - started, _sql(clause, conn.dialect), clause))

    return seen


def _sql(clause: sa.sql.ClauseElement, dialect: sa.Dialect) -> str:
    try:
        return str(clause.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except Exception:  # noqa: BLE001 - a value with no literal form: shown with its placeholders
        return str(clause.compile(dialect=dialect))


def _explain(engine: Engine, sql: str) -> str:
    """What ClickHouse reads for ``sql`` (``EXPLAIN indexes = 1``): each table read with the granules its sort key
    lets through out of all ("journey_events 580/580"), and the joins and groupings of the plan."""
    try:
        with store.connect(engine) as conn:
            lines = [str(r[0]) for r in conn.exec_driver_sql(f"EXPLAIN indexes = 1 {sql}").all()]
    except (sa.exc.DBAPIError, store.StoreError) as exc:  # a catalogue lookup whose value went as a driver parameter
        return f"no plan ({str(getattr(exc, 'orig', exc)).splitlines()[0][:80]})"
    reads, table = [], ""
    for line in lines:
        text = line.strip(" │└─")
        if text.startswith("ReadFromMergeTree"):
            table = text.split("(")[-1].rstrip(")").split(".")[-1]
        elif text.startswith("Granules:") and "/" in text and table:
            reads.append(f"{table} {text.split(':')[1].strip()}")
            table = ""
    joins = sum(1 for line in lines if line.strip(" │└─").startswith("Join"))
    groupings = sum(1 for line in lines if line.strip(" │└─").startswith("Aggregating"))
    return f"reads {', '.join(reads) or 'no table'} (granules); {joins} join(s), {groupings} grouping(s)"


def main(
    url: str,
    pages: dict[str, list[tuple[str, Callable[[Engine, Filters], object], Any]]],
    cases: dict[str, Filters],
    out: Callable[[str], object] = sys.stdout.write,
    *,
    explain: bool = True,
) -> dict[str, list[tuple[float, str]]]:
    """Runs every page's queries once per filter case on a new engine (cold) and prints the ``TOP`` slowest
    statements of each; returns them by "case / page"."""
    on_clickhouse = clickhouse.is_clickhouse(sa.make_url(url).get_backend_name())
    found: dict[str, list[tuple[float, str]]] = {}
    for case, filters in cases.items():
        for page, queries in pages.items():
            engine = store.create_store_engine(url, read_only=True)
            with store.connect(engine) as conn:
                conn.exec_driver_sql("SELECT 1")  # the embedded server's start is not a statement's cost
            seen = _recorder(engine)
            for _name, cold, _cached in queries:
                cold(engine, filters)
            slowest = sorted(seen, key=lambda s: -s[0])[:TOP]
            found[f"{case} / {page}"] = [(seconds, sql) for seconds, sql, _ in slowest]
            out(f"\n== {page}, {case}: {len(seen)} statements, {sum(s[0] for s in seen) * 1000:,.0f} ms in all\n")
            for seconds, sql, _clause in slowest:
                out(f"{seconds * 1000:8.1f} ms  {' '.join(sql.split())[:300]}\n")
                if explain and on_clickhouse:
                    out(f"{'':12}{_explain(engine, sql)}\n")
            engine.dispose()
    return found


def run(
    location: StoreLocation,
    customers: int,
    seed: int,
    pages: Sequence[str] | None,
    *,
    reuse: bool,
    progress: Callable[[float, str], None],
) -> int:
    """The command line's entry (``bench --statements``): the benchmark's store, seeded unless ``reuse`` finds it."""
    from data_access.ops import bench

    url = bench.seeded_store(location, customers, seed, reuse=reuse, progress=progress, title="Statements")
    chosen = {p: q for p, q in bench.PAGES.items() if p != bench.SIDEBAR and (not pages or p in pages)}
    main(url, chosen, bench.FILTER_CASES)
    return 0
