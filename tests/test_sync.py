"""Sync jobs: a folder's new export files loaded once each, a SQL source's new rows loaded once each by a cursor."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from data_access import schema, sources, store
from data_access.loading import ingest
from data_access.loading.ingest import Source
from data_access.ops import cli
from data_access.sources import sync
from tests.conftest import make_store_url, put
from tests.test_sources import CUSTOMERS, STAGE_RULES, ZENDESK


@pytest.fixture
def shop(duck_url: str) -> str:
    engine = store.create_store_engine(duck_url)
    put(
        engine,
        stages=[
            {"stage_id": s, "name": s, "position": i, "in_funnel": True}
            for i, s in enumerate(("awareness", "decision", "onboarding"), 1)
        ],
        customers=CUSTOMERS,
    )
    ingest.ingest(engine, [Source("stage_rules.csv", STAGE_RULES.encode())])
    return duck_url


def rows(url: str, table: sa.Table) -> int:
    with store.connect(store.create_store_engine(url)) as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_a_folder_job_loads_each_new_file_once(shop: str, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "week1.csv").write_text(ZENDESK, encoding="utf-8")
    (folder / "notes.md").write_text("not an export")
    jobs = [sync.Job("desk", mapping="zendesk", folder=str(folder), timezone="Europe/Berlin")]
    engine = store.create_store_engine(shop)
    first = sync.run(engine, jobs)
    assert (first[0].loaded_items, first[0].rows, first[0].error) == (1, 5, None)
    again = sync.run(engine, jobs)
    assert (again[0].loaded_items, again[0].refused_items) == (0, 0)  # the same file: nothing to do
    week2 = ZENDESK.splitlines()[0] + "\nz9;ann@example.com;;2026-03-09 10:00;;Mail;Tier 1;;0;1;;;;\n"
    (folder / "week2.csv").write_text(week2, encoding="utf-8")
    (folder / "broken.csv").write_text(week2.replace("Tier 1", "Billing"), encoding="utf-8")
    third = sync.run(engine, jobs)
    assert (third[0].loaded_items, third[0].refused_items, third[0].rows) == (1, 1, 1)
    assert sync.run(engine, jobs)[0].refused_items == 0  # a refused file is not tried again until it changes
    assert rows(shop, schema.tickets) == 6
    log = sources.log_rows(engine)
    assert sorted(log["status"].to_list()) == ["loaded", "loaded", "refused"]
    assert set(log["job"].to_list()) == {"desk"}


@pytest.mark.parametrize(("kind", "how"), [("sqlite", "table"), ("postgresql", "table"), ("sqlite", "query")])
def test_a_sql_job_reads_new_rows_once_by_its_cursor(shop: str, tmp_path: Path, kind: str, how: str) -> None:
    remote_url = f"sqlite:///{tmp_path / 'analytics.db'}" if kind == "sqlite" else make_store_url(kind, tmp_path)
    remote = sa.create_engine(remote_url)
    events = sa.Table(
        "posthog_events",
        sa.MetaData(),
        sa.Column("uuid", sa.String),
        sa.Column("event", sa.String),
        sa.Column("distinct_id", sa.String),
        sa.Column("timestamp", sa.DateTime),
    )
    events.metadata.drop_all(remote)
    events.metadata.create_all(remote)

    def add(*batch: tuple[str, str, str, str]) -> None:
        with remote.begin() as conn:
            conn.execute(
                sa.insert(events),
                [
                    {"uuid": u, "event": e, "distinct_id": d, "timestamp": datetime.fromisoformat(t)}
                    for u, e, d, t in batch
                ],
            )

    add(
        ("e1", "ad_clicked", "k1", "2026-03-01 10:00"),
        ("e2", "signed_up", "k1", "2026-03-02 10:00"),
        ("e3", "ad_clicked", "k2", "2026-03-02 10:00"),  # the same time as e2: a batch never splits a cursor value
        ("e4", "pageview", "k2", "2026-03-03 10:00"),
    )
    where = (
        {"table": "posthog_events"} if how == "table" else {"query": "SELECT * FROM posthog_events WHERE event <> 'x'"}
    )
    job = sync.Job("events", mapping="posthog", url=remote_url, cursor="timestamp", batch_rows=2, **where)
    engine = store.create_store_engine(shop)
    first = sync.run(engine, [job])[0]
    assert (first.rows, first.unmapped, first.error) == (3, 1, None)
    assert first.loaded_items >= 2  # batches of at most two rows, and every row of the last cursor value
    assert sync.run(engine, [job])[0].rows == 0
    add(("e5", "onboarding_started", "k1", "2026-03-04 10:00"))
    assert sync.run(engine, [job])[0].rows == 1
    assert rows(shop, schema.journey_events) == 4
    remote.dispose()


def test_the_sync_command_reads_its_jobs_and_says_what_it_did(shop: str, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "t.csv").write_text(ZENDESK, encoding="utf-8")
    config = tmp_path / "sync.toml"
    config.write_text(
        f'[sync.jobs.desk]\nfolder = "{folder}"\nmapping = "zendesk"\ntimezone = "Europe/Berlin"\n', encoding="utf-8"
    )
    assert cli.main(["sync", "--db", shop, "--config", str(config)]) == 0
    assert "desk: 1 loaded (5 rows, 0 events unmapped), 0 refused" in capsys.readouterr().out
    config.write_text('[sync.jobs.desk]\nfolder = "x"\n', encoding="utf-8")
    assert cli.main(["sync", "--db", shop, "--config", str(config)]) == 2
    assert "say how to read it" in capsys.readouterr().err


def test_the_sources_benchmark_loads_the_same_events_both_ways(capsys) -> None:
    from data_access.ops import bench_sources

    assert bench_sources.main(2_000, 7, lambda _line: None) == 0
    out = capsys.readouterr().out
    assert "| load of 2,000 journey events (DuckDB) |" in out
    assert "the same events per stage in both stores: yes" in out


def test_sync_every_keeps_a_folder_flowing_in(shop: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    folder = tmp_path / "drop"
    folder.mkdir()
    config = tmp_path / "sync.toml"
    config.write_text(
        f'[sync.jobs.desk]\nfolder = "{folder}"\nmapping = "zendesk"\ntimezone = "Europe/Berlin"\n', encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CJM_")}
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "data_access", "sync", "--every", "1s", "--config", str(config), "--db", shop]
    proc = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(4)  # runs that find nothing
        (folder / "later.csv").write_text(ZENDESK, encoding="utf-8")  # dropped while it runs
        deadline = time.monotonic() + 60
        while rows(shop, schema.tickets) < 5 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)  # more runs, which must load nothing again
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert rows(shop, schema.tickets) == 5, out
    assert out.count("desk: 1 loaded (5 rows") == 1, out
    assert out.count("desk: 0 loaded (0 rows") >= 2, out
