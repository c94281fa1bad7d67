"""The store's faults, survived: a PostgreSQL server that stops and starts again under the running app, a query
held up past the statement timeout, and a password in the store's URL that never reaches a page or a log.

The PostgreSQL server here is the test's own (initdb into a temporary folder, pg_ctl start and stop), so that it
can be stopped without disturbing anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from data_access import schema, store
from data_access.loading import ingest
from data_access.ops import loadtest

PASSWORD = "s3cret-Pa55"  # trust authentication takes any password: it is only there to be kept out of sight


@dataclass
class Server:
    folder: Path
    port: int
    bin: Path

    def pg_ctl(self, *args: str) -> None:
        as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.folder), "-w", "-t", "60", *args)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl("-o", options, "-l", str(self.folder / "server.log"), "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:{self.port}/postgres"


def as_postgres(*command: str) -> None:
    """Runs a PostgreSQL tool as the postgres user when the tests run as root (initdb refuses root)."""
    if os.geteuid() == 0:
        command = ("runuser", "-u", "postgres", "--", *command)
    subprocess.run(command, check=True, capture_output=True, timeout=120)


@pytest.fixture
def own_postgres() -> Iterator[Server]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        reason = "no PostgreSQL server binaries (initdb) on this machine"
        if os.environ.get("CJM_REQUIRE_SERVERS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="cjm-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = Server(folder, loadtest.free_port(), Path(found[-1]).parent)
    as_postgres(str(server.bin / "initdb"), "-D", str(folder), "-A", "trust", "-U", "postgres", "--no-sync")
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def view(base: str, page: str, number: int = 0) -> tuple[float, list[str], list[str]]:
    async with loadtest.Session(base, number) as session:
        return await session.view(page, timeout=90)


def test_postgres_stopping_and_starting_under_the_app(own_postgres: Server, tmp_path: Path) -> None:
    engine = store.create_store_engine(own_postgres.url)
    ingest.seed(engine, 300, 42)
    engine.dispose()
    port = loadtest.free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "app.log"
    app = loadtest.start_app(own_postgres.url, port, env={"CJM_STATEMENT_TIMEOUT": "3"}, log=log)
    texts_seen: list[str] = []
    try:
        _s, errors, texts = asyncio.run(view(base, "overview"))
        assert not errors, errors
        texts_seen += texts

        # a query held up past the statement timeout: a message naming the page and the filters; another session,
        # on a page that does not need the held table, is served meanwhile
        holder = sa.create_engine(own_postgres.url)
        with holder.connect() as conn:
            conn.execute(sa.text(f"LOCK TABLE {schema.tickets.name} IN ACCESS EXCLUSIVE MODE"))

            async def both() -> list[tuple[float, list[str], list[str]]]:
                return list(await asyncio.gather(view(base, "support", 1), view(base, "funnel", 2)))

            (held_s, held_errors, held), (free_s, free_errors, free) = asyncio.run(both())
            conn.rollback()
        holder.dispose()
        texts_seen += held + free
        assert len(held_errors) == 1, held_errors
        assert "Support quality, with the filters all segments" in held_errors[0]
        assert "ran longer than 3 s and was stopped" in held_errors[0]
        assert 3 <= held_s < 30
        assert not free_errors, free_errors
        assert free_s < held_s  # it did not wait for the held one

        # the server stops: a page that must ask it says so in one line
        own_postgres.stop()
        _s, errors, texts = asyncio.run(view(base, "retention"))
        texts_seen += texts
        assert len(errors) == 1 and errors[0].startswith("Cannot reach the store"), errors

        # and starts again: the next page view draws its figures at once, without restarting the app
        own_postgres.start()
        started = time.monotonic()
        seconds, errors, texts = asyncio.run(view(base, "retention"))
        assert not errors, errors
        assert time.monotonic() - started < 10, seconds
        assert any("cohort" in t.lower() for t in texts), texts[:10]
        _s, errors, _t = asyncio.run(view(base, "support"))  # the page that timed out works again too
        assert not errors, errors
    finally:
        loadtest.stop_app(app)
    assert not [t for t in texts_seen if PASSWORD in t]
    assert PASSWORD not in log.read_text()  # nor in the server's log
    assert "***" in " ".join(texts_seen)  # the store's URL was shown, masked
