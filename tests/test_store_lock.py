"""DuckDB allows one writing process or many reading ones. The dashboard keeps no connection open between
queries, so a load from the command line can start while it runs, and a page that asks while a load is
writing waits for it (up to the lock timeout) and then says plainly what is going on."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from data_access import schema, store
from data_access.filters import Filters
from data_access.loading import ingest
from data_access.queries.kpis import stage_kpis
from tests.test_cli import cli


def hold_write_lock(path: str, seconds: float) -> subprocess.Popen[str]:
    """Another process with the file open for writing, like a running ``ingest``."""
    code = textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({path!r})
        print("locked", flush=True)
        time.sleep({seconds})
        con.close()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_the_dashboard_waits_for_a_short_write(tiny_duck: str) -> None:
    reader = store.create_store_engine(tiny_duck, read_only=True)
    writer = hold_write_lock(str(store.file_path(tiny_duck)), 1.5)
    started = time.monotonic()
    frame = stage_kpis(reader, Filters())
    assert time.monotonic() - started >= 0.5  # it waited for the lock ...
    assert frame.height == 3  # ... and then answered
    writer.wait()


def test_a_long_write_gives_a_plain_message(tiny_duck: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store.engine, "SETTINGS", dataclasses.replace(store.engine.SETTINGS, lock_timeout_seconds=0.5))
    reader = store.create_store_engine(tiny_duck, read_only=True)
    writer = hold_write_lock(str(store.file_path(tiny_duck)), 5)
    try:
        with pytest.raises(store.StoreBusy, match="in use by another process that is writing"):
            stage_kpis(reader, Filters())
    finally:
        writer.kill()
        writer.wait()


def test_ingest_from_the_command_line_while_the_dashboard_runs(tiny_duck: str, tmp_path: Path) -> None:
    reader = store.create_store_engine(tiny_duck, read_only=True)
    assert stage_kpis(reader, Filters()).height == 3  # the dashboard has read ...
    (tmp_path / "stages.csv").write_text("stage_id,name,position,in_funnel\nd,Stage D,4,false\n")
    done = cli("ingest", str(tmp_path / "stages.csv"), "--db", tiny_duck)  # ... and a load still gets in
    assert done.returncode == 0, done.stderr
    assert stage_kpis(reader, Filters()).height == 4  # the next page view sees the new row


def test_the_dashboard_cannot_write(tiny_duck: str) -> None:
    reader = store.create_store_engine(tiny_duck, read_only=True)
    with pytest.raises(store.StoreError, match="could not answer"), store.connect(reader, write=True) as conn:
        conn.execute(sa.delete(schema.stages))


def test_the_dashboards_queries_are_bounded_in_memory(tiny_duck: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read-only engine caps DuckDB at CJM_READ_MEMORY_MB (beyond it, joins and groupings spill to disk); a
    query still gives its figures under a tight cap."""
    monkeypatch.setattr(store.engine, "SETTINGS", dataclasses.replace(store.engine.SETTINGS, read_memory_mb=64))
    reader = store.create_store_engine(tiny_duck, read_only=True)
    with store.connect(reader) as conn:
        limit = conn.execute(sa.text("SELECT current_setting('memory_limit')")).scalar_one()
    assert limit == "61.0 MiB"  # 64 MB (10**6 bytes) in DuckDB's binary units
    assert stage_kpis(reader, Filters()).height == 3


def test_loads_are_bounded_in_memory(tiny_duck: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writing engine caps DuckDB at CJM_WRITE_MEMORY_MB (seeding, loads and the derived tables' builds);
    the derived tables are still built under a tight cap."""
    monkeypatch.setattr(store.engine, "SETTINGS", dataclasses.replace(store.engine.SETTINGS, write_memory_mb=64))
    writer = store.create_store_engine(tiny_duck)
    with store.write_transaction(writer) as conn:
        limit = conn.execute(sa.text("SELECT current_setting('memory_limit')")).scalar_one()
        built = ingest.refresh_derived(conn)
    assert limit == "61.0 MiB"
    assert built["stage_customers"] > 0


def test_read_only_on_every_store(tiny: sa.Engine, store_url: str) -> None:
    reader = store.create_store_engine(store_url, read_only=True)
    with pytest.raises(store.StoreError, match="could not answer"), store.connect(reader, write=True) as conn:
        conn.execute(sa.delete(schema.stages))
    assert stage_kpis(reader, Filters()).height == 3
    reader.dispose()


SLOW = {  # a statement that runs for seconds on each store
    "duckdb": "SELECT count(*) FROM range(100000000000)",
    "postgresql": "SELECT pg_sleep(5)",
    "mysql": "SELECT sleep(5)",
    "chdb": "SELECT sum(sipHash64(number)) FROM numbers(100000000000)",
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n",
}


def test_a_dashboard_query_is_stopped_at_the_statement_timeout(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    kind = store.backend_name(store_url)
    monkeypatch.setattr(
        store.engine, "SETTINGS", dataclasses.replace(store.engine.SETTINGS, statement_timeout_seconds=0.5)
    )
    reader = store.create_store_engine(store_url, read_only=True)
    started = time.monotonic()
    stopped = pytest.raises(store.QueryTimeout, match=r"ran longer than 0.5 s and was stopped")
    with stopped, store.connect(reader) as conn:
        conn.execute(sa.text(SLOW[kind])).all()
    assert time.monotonic() - started < 4
    assert stage_kpis(reader, Filters()).height == 0  # the next query runs as usual
    reader.dispose()
    writer = store.create_store_engine(store_url)  # loads are not cut short
    with store.connect(writer) as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    writer.dispose()


def _stage_ids(url: str) -> list[str]:
    reader = store.create_store_engine(url, read_only=True)
    with store.connect(reader) as conn:
        found = sorted(conn.execute(sa.select(schema.stages.c.stage_id)).scalars())
    reader.dispose()
    return found


def test_a_load_while_the_dashboard_reads_stops_no_reader_and_loses_no_write(
    tiny_duck: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load writes into a copy of the DuckDB file that takes its place at the end: a reader, in the same process
    or another, reads the old data during the load without waiting, and the new data after it. A write in place
    that comes during the load waits for it, and lands after it instead of being dropped with the old file."""
    import threading

    from data_access.loading import ingest

    monkeypatch.setattr(store.engine, "SETTINGS", dataclasses.replace(store.engine.SETTINGS, lock_timeout_seconds=20))
    writer = store.create_store_engine(tiny_duck)
    half_way, go_on = threading.Event(), threading.Event()

    def frames():  # a load that stops half-way until the test has looked
        yield "stages", ingest.typed_frame("stages", [{"stage_id": "d", "name": "D", "position": 4, "in_funnel": 0}])
        half_way.set()
        assert go_on.wait(30)
        yield "stages", ingest.typed_frame("stages", [{"stage_id": "e", "name": "E", "position": 5, "in_funnel": 0}])

    load = threading.Thread(target=lambda: ingest.write(writer, frames()))
    load.start()
    assert half_way.wait(30)
    started = time.monotonic()
    assert _stage_ids(tiny_duck) == ["a", "b", "c"]  # the old data, at once (not waiting for the load) ...
    code = f"from tests.test_store_lock import _stage_ids; print(_stage_ids({tiny_duck!r}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert other.stdout.strip() == "['a', 'b', 'c']", other.stderr  # ... in another process too
    assert time.monotonic() - started < 15

    def note() -> None:  # a write in place during the load (a saved map cell, a grant...)
        with store.connect(writer, write=True) as conn:
            conn.execute(sa.insert(schema.stages).values(stage_id="z", name="Z", position=26, in_funnel=False))

    edit = threading.Thread(target=note)
    edit.start()
    time.sleep(0.5)
    assert edit.is_alive()  # it waits for the load
    go_on.set()
    load.join(30)
    edit.join(30)
    assert _stage_ids(tiny_duck) == ["a", "b", "c", "d", "e", "z"]  # the load whole, and the write after it
    assert sorted(p.name for p in Path(store.file_path(tiny_duck)).parent.iterdir() if "loading" in p.name) == []
    writer.dispose()


def test_a_failed_load_leaves_the_file_as_it_was(tiny_duck: str) -> None:
    from data_access.loading import ingest

    writer = store.create_store_engine(tiny_duck)
    before = store.data_version(tiny_duck)
    from datetime import datetime

    bad = ingest.typed_frame(
        "journey_events",
        [{"event_id": "x", "customer_id": "nobody", "stage_id": "a", "occurred_at": datetime(2025, 3, 1)}],
    )
    with pytest.raises(ingest.LoadRejected):
        ingest.write(writer, [("journey_events", bad)])
    assert store.data_version(tiny_duck) == before
    assert _stage_ids(tiny_duck) == ["a", "b", "c"]
    writer.dispose()
