"""Serving many people: sessions that open at once on a new server, and replicas behind the proxy of deploy/.

The sessions here are the load benchmark's client (:mod:`data_access.ops.loadtest`): Streamlit's own websocket
protocol, no browser, so that a test can open several at the same instant.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from data_access import store
from data_access.loading import ingest
from data_access.ops import loadtest
from tests.conftest import make_store_url

ROOT = Path(__file__).resolve().parent.parent
TITLES = {"retention": "Retention", "funnel": "Funnel", "support": "Support quality", "why_leave": "Why they leave"}


def seeded(kind: str, tmp_path: Path, customers: int = 400) -> str:
    url = make_store_url(kind, tmp_path)
    engine = store.create_store_engine(url)
    ingest.seed(engine, customers, 42)
    engine.dispose()
    return url


async def first_views(base: str, pages: list[str]) -> list[tuple[float, list[str], list[str]]]:
    """Each page as the very first request of its own session, all sent at the same moment."""

    async def one(number: int, page: str) -> tuple[float, list[str], list[str]]:
        async with loadtest.Session(base, number) as session:
            return await session.view(page, timeout=90)

    return list(await asyncio.gather(*(one(n, p) for n, p in enumerate(pages))))


def figures(base: str) -> list[str]:
    """The Overview's headline metrics (label=value), as one session sees them."""

    async def read() -> list[str]:
        async with loadtest.Session(base, 0) as session:
            _seconds, errors, texts = await session.view("overview", timeout=90)
        assert not errors, errors
        return sorted(t for t in texts if "=" in t)

    return asyncio.run(read())


def test_sessions_opening_at_once_on_a_new_server_all_get_their_page(tmp_path: Path) -> None:
    """A new server's first runs start in Streamlit's pages-folder layout; every session that started so must
    rerun through app.py, not only the first (the others were shown "Your role does not give you this page")."""
    url = seeded("duckdb", tmp_path)
    port = loadtest.free_port()
    app = loadtest.start_app(url, port, log=tmp_path / "app.log")
    try:
        pages = [*TITLES, *TITLES]
        seen = asyncio.run(first_views(f"http://127.0.0.1:{port}", pages))
    finally:
        loadtest.stop_app(app)
    for page, (_seconds, errors, texts) in zip(pages, seen, strict=True):
        assert not errors, (page, errors)
        assert TITLES[page] in texts, (page, texts[:5])


def _free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports on loopback."""
    for _ in range(50):
        first = loadtest.free_port()
        if first + count > 65535:
            continue
        taken = False
        for port in range(first, first + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    taken = True
                    break
        if not taken:
            return first
    raise RuntimeError("no run of free ports")


def _caddy() -> None:
    if shutil.which("caddy") is None:
        reason = "caddy is not installed (apt-get install caddy; .ci/run installs it)"
        if os.environ.get("CJM_REQUIRE_SERVERS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def replicas(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """``deploy/replicas.sh 2`` on a seeded store of the kind in the test's parameter: (proxy, [replicas])."""
    _caddy()
    url = seeded(request.param, tmp_path)
    proxy_port, first = _free_ports(1), _free_ports(2)
    env = {
        **os.environ,
        "CJM_DATABASE_URL": url,
        "CJM_PORT": str(proxy_port),
        "CJM_FIRST_REPLICA_PORT": str(first),
        "XDG_CONFIG_HOME": str(tmp_path),  # where caddy writes its autosave
        "XDG_DATA_HOME": str(tmp_path),
    }
    log = open(tmp_path / "replicas.log", "wb")  # noqa: SIM115 - closed below
    script = subprocess.Popen(
        [str(ROOT / "deploy" / "replicas.sh"), "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    bases = [f"http://127.0.0.1:{first}", f"http://127.0.0.1:{first + 1}"]
    proxy = f"http://127.0.0.1:{proxy_port}"
    try:
        for base in (*bases, proxy):
            loadtest.wait_healthy(base, process=script, seconds=120)
        yield proxy, bases
    finally:
        script.send_signal(signal.SIGTERM)  # the script stops its replicas and the proxy
        try:
            script.wait(30)
        finally:
            os.killpg(script.pid, signal.SIGKILL) if script.poll() is None else None
            log.close()
        time.sleep(0.5)
        assert not [base for base in (*bases, proxy) if _answers(base)]  # nothing is left running


@pytest.mark.parametrize("replicas", ["duckdb", "postgresql"], indirect=True)
def test_two_replicas_behind_the_proxy_serve_the_same_figures(replicas: tuple[str, list[str]]) -> None:
    proxy, bases = replicas
    each = [figures(base) for base in bases]
    assert each[0] and any(t.startswith("Active customers=") for t in each[0]), each[0]
    assert each[0] == each[1]
    assert figures(proxy) == each[0]
    with urllib.request.urlopen(f"{proxy}/", timeout=10) as answer:  # the proxy pins a browser to one replica
        assert any(c.startswith("cjm_replica=") for c in answer.headers.get_all("Set-Cookie") or [])
    # several sessions at once through the proxy: every one drawn, no error
    seen = asyncio.run(first_views(proxy, ["overview", "support", "funnel", "retention"]))
    assert all(not errors for _s, errors, _t in seen), [errors for _s, errors, _t in seen]


def test_a_load_from_the_command_line_while_people_browse(tmp_path: Path) -> None:
    """Sessions keep drawing their pages while ``ingest`` loads into the DuckDB file they read, see the old data
    until the load lands, and the new data on their next page after it (their cached results are forgotten)."""
    import polars as pl
    import sqlalchemy as sa

    from data_access import schema
    from tests.test_cli import cli

    url = seeded("duckdb", tmp_path)
    reader = store.create_store_engine(url, read_only=True)
    with store.connect(reader) as conn:
        customer, stage = conn.execute(
            sa.select(schema.journey_events.c.customer_id, schema.journey_events.c.stage_id).limit(1)
        ).one()
    reader.dispose()
    rows = 100_000
    pl.DataFrame(
        {
            "event_id": [f"load-{i}" for i in range(rows)],
            "customer_id": [customer] * rows,
            "stage_id": [stage] * rows,
            "occurred_at": ["2030-01-02T03:04:00"] * rows,
        }
    ).write_csv(tmp_path / "journey_events.csv")
    port = loadtest.free_port()
    base = f"http://127.0.0.1:{port}"
    app = loadtest.start_app(url, port, log=tmp_path / "app.log")

    async def browse(stop: asyncio.Event) -> list[tuple[str, list[str], list[str]]]:
        seen = []
        async with loadtest.Session(base, 1) as session:
            while not stop.is_set():
                for page in ("data", "overview", "support", "funnel"):
                    _seconds, errors, texts = await session.view(page, timeout=60)
                    seen.append((page, errors, texts))
        return seen

    async def scenario() -> tuple[list, subprocess.CompletedProcess[str], list[str]]:
        stop = asyncio.Event()
        browsing = asyncio.create_task(browse(stop))
        await asyncio.sleep(2)
        done = await asyncio.to_thread(cli, "ingest", str(tmp_path / "journey_events.csv"), "--db", url)
        stop.set()
        seen = await browsing
        async with loadtest.Session(base, 2) as session:
            _seconds, errors, after = await session.view("data", timeout=60)
        assert not errors, errors
        return seen, done, after

    try:
        seen, done, after = asyncio.run(scenario())
    finally:
        loadtest.stop_app(app)
    assert done.returncode == 0, done.stderr
    assert len(seen) >= 4
    assert [(page, errors) for page, errors, _texts in seen if errors] == []
    newest = next(t for t in after if "Newest data" in t)
    assert "2030-01-02 03:04" in newest, newest  # the load is read at once, not after the cache's lifetime


def test_the_loadtest_command_prints_its_table(tmp_path: Path) -> None:
    from tests.test_cli import cli

    url = seeded("duckdb", tmp_path, customers=200)
    done = cli("loadtest", "--sessions", "3", "--rounds", "1", "--think", "0", "--db", url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("| page | alone median s | 3 at once median s | 3 at once p95 s |")
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ")}
    assert set(loadtest.PAGES) <= set(rows)
    every = [cell.strip() for cell in rows["**every page**"].split("|")[2:-1]]
    assert float(every[0]) > 0 and every[-1] == "0"  # timed, and no error
    assert "3 sessions on 1 server process(es), 36 page views" in done.stdout
    assert "starting app process 1 of 1" in done.stderr


def test_the_loadtest_command_refuses_a_missing_store(tmp_path: Path) -> None:
    from tests.test_cli import cli

    refused = cli("loadtest", "--sessions", "2", "--db", f"duckdb:///{tmp_path / 'missing.duckdb'}")
    assert refused.returncode != 0
    assert "No store at" in refused.stderr and "Traceback" not in refused.stderr
