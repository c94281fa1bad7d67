"""Fixtures: a store of every supported kind, and tiny hand-checkable data sets.

PostgreSQL and MariaDB are used over loopback (default ports). Where they are not running, their tests are
skipped with the reason; with CJM_REQUIRE_SERVERS=1 (set by .ci/run) a missing server fails the run instead.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit.testing.v1.app_test as app_test_module
from sqlalchemy.engine import Engine
from streamlit.runtime.pages_manager import PagesManager

from data_access import schema, store
from data_access.loading import ingest

SERVER_URLS = {
    "postgresql": os.environ.get("CJM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mariadb": os.environ.get("CJM_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}
BACKENDS = ("duckdb", "sqlite", "postgresql", "mariadb", "chdb", "clickhouse")
# A ClickHouse server, where one is given (none runs in CI: its store tests are skipped there, with the reason).
CLICKHOUSE_URL = os.environ.get("CJM_TEST_CLICKHOUSE_URL")
# chDB runs one embedded server per process, on one folder: every chDB store of the test run is a database in it.
# (in the environment: this module is imported both as conftest and as tests.conftest, and both must agree)
CHDB_FOLDER = Path(os.environ.setdefault("CJM_TEST_CHDB_FOLDER", tempfile.mkdtemp(prefix="cjm-chdb-")))
_server_dbs: dict[str, str] = {}


def _server_database(kind: str) -> str:
    """A fresh database on the server for this test session (made once, dropped at exit)."""
    if kind in _server_dbs:
        return _server_dbs[kind]
    admin = sa.make_url(SERVER_URLS[kind])
    name = f"cjm_test_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))  # name is ours, not user input
    except sa.exc.OperationalError as exc:
        reason = f"{kind} is not reachable at {admin.render_as_string(hide_password=True)}: {exc.orig}"
        if os.environ.get("CJM_REQUIRE_SERVERS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    finally:
        engine.dispose()
    _server_dbs[kind] = admin.set(database=name).render_as_string(hide_password=False)
    return _server_dbs[kind]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _clickhouse_dbs:
        engine = sa.create_engine(CLICKHOUSE_URL)
        with engine.connect() as conn:
            for name in _clickhouse_dbs:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        engine.dispose()
    for kind, url in _server_dbs.items():
        name = sa.make_url(url).database
        engine = sa.create_engine(SERVER_URLS[kind], isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        engine.dispose()


def _clickhouse_database() -> str:
    """A fresh database on the ClickHouse server of CJM_TEST_CLICKHOUSE_URL for one test (dropped at exit)."""
    if not CLICKHOUSE_URL:
        pytest.skip(
            "no ClickHouse server for the tests: set CJM_TEST_CLICKHOUSE_URL=clickhousedb://user@host:8123/default "
            "to run the store tests against one (chDB, the same engine embedded, runs them in CI)"
        )
    admin = sa.make_url(CLICKHOUSE_URL)
    name = f"cjm_test_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(admin)
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")  # name is ours, not user input
    engine.dispose()
    _clickhouse_dbs.append(name)
    return admin.set(database=name).render_as_string(hide_password=False)


_clickhouse_dbs: list[str] = []


_chdb_keeper: list[object] = []


def _keep_chdb_up() -> None:
    """One connection held for the whole run: chDB stops its embedded server when the last connection closes and
    starts it again (reading every database's metadata) on the next, which made each test's engines pay a start."""
    if not _chdb_keeper:
        import chdb.dbapi

        _chdb_keeper.append(chdb.dbapi.connect(path=str(CHDB_FOLDER)))


def make_store_url(kind: str, tmp_path) -> str:
    if kind == "duckdb":
        return f"duckdb:///{tmp_path / 'store.duckdb'}"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    if kind == "chdb":
        _keep_chdb_up()
        return f"chdb:///{CHDB_FOLDER}?database=t_{uuid.uuid4().hex[:12]}"
    if kind == "clickhouse":
        return _clickhouse_database()
    url = _server_database(kind)
    engine = sa.create_engine(url)
    schema.metadata.drop_all(engine)
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty store (tables created) of each supported kind."""
    url = make_store_url(request.param, tmp_path)
    engine = store.create_store_engine(url)
    store.init_store(engine)
    engine.dispose()
    yield url
    if request.param == "chdb":  # one embedded server holds them all: a test's database goes with the test
        drop_chdb_database(url)


def drop_chdb_database(url: str) -> None:
    name = sa.make_url(url).query["database"]
    engine = sa.create_engine(f"chdb:///{CHDB_FOLDER}")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}` SYNC")
    engine.dispose()


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    e = store.create_store_engine(store_url)
    yield e
    e.dispose()


@pytest.fixture
def duck_url(tmp_path) -> str:
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    e = store.create_store_engine(url)
    store.init_store(e)
    e.dispose()
    return url


def put(engine: Engine, **tables: list[dict[str, object]]) -> None:
    """Writes rows (dicts) into tables, in contract order."""
    frames = [(t.name, ingest.typed_frame(t.name, tables[t.name])) for t in schema.TABLES if t.name in tables]
    ingest.write(engine, frames, mode="append")


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


# A tiny company, small enough to check every figure by hand (see test_metrics.py for the arithmetic).
TINY = {
    "stages": [
        {"stage_id": "a", "name": "Stage A", "position": 1, "in_funnel": True},
        {"stage_id": "b", "name": "Stage B", "position": 2, "in_funnel": True},
        {"stage_id": "c", "name": "Stage C", "position": 3, "in_funnel": False},
    ],
    "customers": [
        {
            "customer_id": "c1",
            "signup_at": ts("2025-01-01"),
            "segment": "B2C",
            "channel": "ads",
            "region": "EU",
            "plan": "basic",
            "persona": "P1",
        },
        {
            "customer_id": "c2",
            "signup_at": ts("2025-01-01"),
            "segment": "B2C",
            "channel": "web",
            "region": "EU",
            "plan": "basic",
        },
        {
            "customer_id": "c3",
            "signup_at": ts("2025-01-01"),
            "segment": "B2B",
            "channel": "sales",
            "region": "NA",
            "plan": "team",
        },
        {
            "customer_id": "c4",
            "signup_at": ts("2025-01-01"),
            "segment": "B2B",
            "channel": "sales",
            "region": "NA",
            "plan": "team",
        },
    ],
    "journey_events": [
        {"event_id": "e1", "customer_id": "c1", "stage_id": "a", "occurred_at": ts("2025-03-01 10:00")},
        {"event_id": "e2", "customer_id": "c1", "stage_id": "a", "occurred_at": ts("2025-03-02 10:00")},
        {"event_id": "e3", "customer_id": "c2", "stage_id": "a", "occurred_at": ts("2025-03-31 23:59:59")},
        {"event_id": "e4", "customer_id": "c3", "stage_id": "b", "occurred_at": ts("2025-03-05 00:00")},
        {"event_id": "e5", "customer_id": "c4", "stage_id": "a", "occurred_at": ts("2025-04-01 00:00")},
    ],
    "survey_responses": [
        # stage a CSAT: 5, 4, 3, 2, 5 -> 3 of 5 score 4-5 = 60 %
        {
            "response_id": "r1",
            "customer_id": "c1",
            "stage_id": "a",
            "survey": "csat",
            "score": 5,
            "responded_at": ts("2025-03-01"),
        },
        {
            "response_id": "r2",
            "customer_id": "c1",
            "stage_id": "a",
            "survey": "csat",
            "score": 4,
            "responded_at": ts("2025-03-02"),
        },
        {
            "response_id": "r3",
            "customer_id": "c2",
            "stage_id": "a",
            "survey": "csat",
            "score": 3,
            "responded_at": ts("2025-03-03"),
        },
        {
            "response_id": "r4",
            "customer_id": "c3",
            "stage_id": "a",
            "survey": "csat",
            "score": 2,
            "responded_at": ts("2025-03-04"),
        },
        {
            "response_id": "r5",
            "customer_id": "c4",
            "stage_id": "a",
            "survey": "csat",
            "score": 5,
            "responded_at": ts("2025-03-31 23:59:59"),
        },
        # stage a NPS: 10, 9, 8, 6, 0 -> 2 promoters, 2 detractors of 5 = 0
        {
            "response_id": "r6",
            "customer_id": "c1",
            "stage_id": "a",
            "survey": "nps",
            "score": 10,
            "responded_at": ts("2025-03-01"),
        },
        {
            "response_id": "r7",
            "customer_id": "c2",
            "stage_id": "a",
            "survey": "nps",
            "score": 9,
            "responded_at": ts("2025-03-01"),
        },
        {
            "response_id": "r8",
            "customer_id": "c2",
            "stage_id": "a",
            "survey": "nps",
            "score": 8,
            "responded_at": ts("2025-03-01"),
        },
        {
            "response_id": "r9",
            "customer_id": "c3",
            "stage_id": "a",
            "survey": "nps",
            "score": 6,
            "responded_at": ts("2025-03-01"),
        },
        {
            "response_id": "r10",
            "customer_id": "c4",
            "stage_id": "a",
            "survey": "nps",
            "score": 0,
            "responded_at": ts("2025-03-01"),
        },
        # stage b NPS: 10, 10, 9, 7 -> 3 promoters of 4 = 75
        *[
            {
                "response_id": f"r{11 + i}",
                "customer_id": "c3",
                "stage_id": "b",
                "survey": "nps",
                "score": s,
                "responded_at": ts("2025-03-10"),
            }
            for i, s in enumerate((10, 10, 9, 7))
        ],
        # stage b CES: 7, 5, 6 -> mean 6, sd 1
        *[
            {
                "response_id": f"r{15 + i}",
                "customer_id": "c3",
                "stage_id": "b",
                "survey": "ces",
                "score": s,
                "responded_at": ts("2025-03-10"),
            }
            for i, s in enumerate((7, 5, 6))
        ],
        # outside March: must not count in a March period
        {
            "response_id": "r18",
            "customer_id": "c1",
            "stage_id": "a",
            "survey": "csat",
            "score": 1,
            "responded_at": ts("2025-04-01 00:00"),
        },
    ],
    "tickets": [
        # stage a FCR: t1 yes; t2 two contacts; t3 reopened; t4 still open (not counted) -> 1 of 3
        {
            "ticket_id": "t1",
            "customer_id": "c1",
            "stage_id": "a",
            "opened_at": ts("2025-03-01"),
            "resolved_at": ts("2025-03-01 02:00"),
            "entry_channel": "chat",
            "final_line": 1,
            "bot_resolved": False,
            "contacts": 1,
            "reopened": False,
            "category": "technical",
        },
        {
            "ticket_id": "t2",
            "customer_id": "c2",
            "stage_id": "a",
            "opened_at": ts("2025-03-02"),
            "resolved_at": ts("2025-03-03"),
            "entry_channel": "phone",
            "final_line": 2,
            "bot_resolved": False,
            "contacts": 2,
            "reopened": False,
            "category": "financial",
        },
        {
            "ticket_id": "t3",
            "customer_id": "c3",
            "stage_id": "a",
            "opened_at": ts("2025-03-03"),
            "resolved_at": ts("2025-03-04"),
            "entry_channel": "bot",
            "final_line": 1,
            "bot_resolved": True,
            "contacts": 1,
            "reopened": True,
            "category": "technical",
        },
        {
            "ticket_id": "t4",
            "customer_id": "c4",
            "stage_id": "a",
            "opened_at": ts("2025-03-04"),
            "entry_channel": "email",
            "final_line": 3,
            "bot_resolved": False,
            "contacts": 1,
            "reopened": False,
            "category": "other",
        },
    ],
    "kpi_targets": [
        {"stage_id": "*", "metric": "csat", "target": 80.0, "warn": 70.0},
        {"stage_id": "*", "metric": "nps", "target": 30.0, "warn": -10.0},
        {"stage_id": "b", "metric": "nps", "target": 70.0, "warn": 50.0},
    ],
}


@pytest.fixture
def tiny_duck(duck_url: str) -> str:
    """The tiny company in an embedded DuckDB file (for tests that run other processes against it)."""
    engine = store.create_store_engine(duck_url)
    put(engine, **TINY)
    engine.dispose()
    return duck_url


@pytest.fixture
def tiny(engine: Engine) -> Engine:
    put(engine, **TINY)
    return engine


class NavigationPages(PagesManager):
    """AppTest resets ``PagesManager.uses_pages_directory`` before every run, and with a ``pages/`` folder beside
    app.py it then runs the page script alone on reruns, skipping app.py (the sidebar filters). The real server
    sets the flag to False for good once ``st.navigation`` runs. Resetting this subclass instead keeps the
    server's behaviour: every run goes through app.py."""


@pytest.fixture(autouse=True)
def runs_like_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's AppTest runs go through app.py every time, as on the server (for every test, so that no
    module that runs the app can forget it)."""
    monkeypatch.setattr(app_test_module, "PagesManager", NavigationPages)
    monkeypatch.setattr(PagesManager, "uses_pages_directory", False)
