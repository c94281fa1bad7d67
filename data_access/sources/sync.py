"""Keeping the map live: named sync jobs, each read through a mapping (a saved one, a TOML file or a source's name),
configured in ``.streamlit/secrets.toml`` (or ``--config FILE``)::

    [sync.jobs.desk]                  # a folder: each new export file in it is loaded once (by its content's hash)
    folder = "/srv/exports/zendesk"
    mapping = "desk"

    [sync.jobs.events]                # any SQLAlchemy URL: new rows by a cursor column, a batch at a time
    url = "postgresql+psycopg://reader@db/analytics"
    table = "posthog_events"          # or: query = "SELECT ... FROM ..."
    cursor = "timestamp"
    mapping = "posthog"

A file or a batch of rows lands with its mark (the file's hash, the cursor's new value) in the same transaction as
its rows and its entry in the load log, so a job that dies halfway loads the rest next time and nothing twice. A
refused file is marked too and not tried again until its content changes; a refused batch stops the job there.
"""

from __future__ import annotations

import hashlib
import io
import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema, store
from data_access.config import read_secrets, run_every
from data_access.i18n import _
from data_access.loading import ingest
from data_access.loading.ingest import LoadRejected
from data_access.sources import reading, saved
from data_access.sources.load import load
from data_access.sources.mapping import Mapping as SourceMapping

BATCH_ROWS = 100_000


@dataclass(frozen=True)
class Job:
    name: str
    mapping: str
    folder: str | None = None
    url: str | None = None
    table: str | None = None
    query: str | None = None
    cursor: str | None = None
    timezone: str | None = None
    batch_rows: int = BATCH_ROWS

    @classmethod
    def parse(cls, name: str, raw: Mapping[str, Any]) -> Job:
        known = {"folder", "url", "table", "query", "cursor", "mapping", "timezone", "batch_rows"}
        unknown = sorted(set(raw) - known)
        where = f"[sync.jobs.{name}]"
        if unknown:
            raise ValueError(f"{where}: unknown key {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        if not raw.get("mapping"):
            raise ValueError(
                f'{where}: say how to read it, e.g. mapping = "zendesk" (a source, a saved mapping, a file)'
            )
        if bool(raw.get("folder")) == bool(raw.get("url")):
            raise ValueError(f"{where}: give either folder = ... or url = ...")
        if raw.get("url") and (bool(raw.get("table")) == bool(raw.get("query")) or not raw.get("cursor")):
            raise ValueError(f"{where}: a SQL job needs table = ... or query = ..., and cursor = ...")
        return cls(name=name, **{k: v for k, v in raw.items() if k in known})


def jobs_from(config: Mapping[str, Any]) -> list[Job]:
    """The jobs of a configuration's ``[sync.jobs.NAME]`` tables."""
    raw = (config.get("sync") or {}).get("jobs") or {}
    return [Job.parse(str(name), dict(body)) for name, body in raw.items()]


def configured(path: str | None = None) -> list[Job]:
    """The jobs of ``path`` (a TOML file), else of the secrets file."""
    if path is None:
        return jobs_from(read_secrets())
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"No such sync configuration: {path}")
    return jobs_from(tomllib.loads(file.read_text(encoding="utf-8")))


@dataclass
class Outcome:
    """What one run of a job did."""

    job: str
    loaded_items: int = 0  # files or batches that landed
    refused_items: int = 0
    rows: int = 0
    unmapped: int = 0
    error: str | None = None

    def line(self) -> str:
        if self.error:
            return _("{job}: failed: {error}").format(job=self.job, error=self.error)
        return _("{job}: {loaded} loaded ({rows} rows, {unmapped} events unmapped), {refused} refused").format(
            job=self.job, loaded=self.loaded_items, rows=self.rows, unmapped=self.unmapped, refused=self.refused_items
        )


def _mark_file(conn: Connection, job: str, digest: str, name: str, status: str) -> None:
    conn = store.outside_staging(conn)
    store.ensure_table(conn, schema.sync_files)
    t = schema.sync_files
    conn.execute(sa.delete(t).where(t.c.job == job, t.c.digest == digest))
    conn.execute(sa.insert(t).values(job=job, digest=digest, file=name, status=status, read_at=store.utc_now()))


def _seen(engine: Engine, job: str) -> set[str]:
    t = schema.sync_files
    with store.connect(engine) as conn:
        if not store.has_table(conn, t):
            return set()
        return {str(d) for d in conn.execute(sa.select(t.c.digest).where(t.c.job == job)).scalars()}


def _folder(engine: Engine, job: Job, mapping: SourceMapping, outcome: Outcome) -> None:
    folder = Path(job.folder or "")
    if not folder.is_dir():
        raise FileNotFoundError(f"No such folder: {folder}")
    seen = _seen(engine, job.name)
    for path in sorted(p for p in folder.iterdir() if p.is_file() and reading.readable(p.name)):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        try:
            report = load(
                engine,
                mapping,
                [ingest.Source(path.name, data)],
                job=job.name,
                zone=job.timezone,
                origin=str(path),
                also=lambda conn, d=digest, n=path.name: _mark_file(conn, job.name, d, n, "loaded"),
            )
        except LoadRejected:
            with store.connect(engine, write=True) as conn:
                _mark_file(conn, job.name, digest, path.name, "refused")
            outcome.refused_items += 1
            continue
        outcome.loaded_items += 1
        outcome.rows += report.loaded
        outcome.unmapped += report.unmapped


def _encode(value: Any) -> str:
    if isinstance(value, datetime):
        return json.dumps({"datetime": value.isoformat()})
    if isinstance(value, date):
        return json.dumps({"date": value.isoformat()})
    return json.dumps({"value": value})


def _decode(text: str) -> Any:
    raw = json.loads(text)
    if "datetime" in raw:
        return datetime.fromisoformat(raw["datetime"])
    if "date" in raw:
        return date.fromisoformat(raw["date"])
    return raw["value"]


def _cursor(engine: Engine, job: str) -> Any:
    t = schema.sync_cursors
    with store.connect(engine) as conn:
        if not store.has_table(conn, t):
            return None
        text = conn.execute(sa.select(t.c.cursor).where(t.c.job == job)).scalar()
    return None if text is None else _decode(text)


def _mark_cursor(conn: Connection, job: str, value: Any) -> None:
    conn = store.outside_staging(conn)
    store.ensure_table(conn, schema.sync_cursors)
    t = schema.sync_cursors
    conn.execute(sa.delete(t).where(t.c.job == job))
    conn.execute(sa.insert(t).values(job=job, cursor=_encode(value), read_at=store.utc_now()))


def _relation(conn: Connection, job: Job) -> sa.FromClause:
    if job.table:
        schema_name, _dot, name = job.table.rpartition(".")
        return sa.Table(name, sa.MetaData(), schema=schema_name or None, autoload_with=conn)
    return sa.text(job.query or "").columns(sa.column(job.cursor or "")).subquery("source")


def _frame(result: sa.CursorResult) -> pl.DataFrame:
    rows = [dict(r) for r in result.mappings()]
    return pl.from_dicts(rows, infer_schema_length=None) if rows else pl.DataFrame()


def _batch(conn: Connection, job: Job, after: Any) -> pl.DataFrame:
    """The next rows past ``after`` in cursor order: up to a batch, and every row sharing the batch's last cursor
    value (so that the next batch can start strictly after it)."""
    source = _relation(conn, job)
    cursor = source.c[job.cursor or ""]
    every = [sa.literal_column("*")] if not job.table else list(source.c)
    base = sa.select(*every).select_from(source)
    past = base if after is None else base.where(cursor > sa.bindparam("after", after))
    rows = _frame(conn.execute(past.order_by(cursor).limit(job.batch_rows)))
    if rows.height < job.batch_rows:
        return rows
    last = rows[job.cursor or ""][-1]
    ties = _frame(conn.execute(base.where(cursor == sa.bindparam("last", last))))
    return pl.concat([rows.filter(pl.col(job.cursor or "") != last), ties], how="diagonal_relaxed")


def _sql(engine: Engine, job: Job, mapping: SourceMapping, outcome: Outcome) -> None:
    remote = sa.create_engine(job.url or "")
    try:
        while True:
            after = _cursor(engine, job.name)
            with remote.connect() as conn:
                rows = _batch(conn, job, after)
            if rows.height == 0:
                return
            newest = rows[job.cursor or ""].max()
            buffer = io.BytesIO()
            rows.write_parquet(buffer)
            origin = _("{job}: rows after {cursor}").format(job=job.name, cursor=after if after is not None else "-")
            try:
                report = load(
                    engine,
                    mapping,
                    [ingest.Source(f"{job.name}.parquet", buffer.getvalue())],
                    job=job.name,
                    zone=job.timezone,
                    origin=origin,
                    also=lambda conn, v=newest: _mark_cursor(conn, job.name, v),
                )
            except LoadRejected:
                outcome.refused_items += 1
                return  # the cursor stays: the same rows are tried again once the mapping or the rules are fixed
            outcome.loaded_items += 1
            outcome.rows += report.loaded
            outcome.unmapped += report.unmapped
    finally:
        remote.dispose()


def chosen(jobs: list[Job], only: tuple[str, ...] = ()) -> list[Job]:
    """The jobs named in ``only`` (all when it is empty); a name no job has is refused."""
    names = {j.name for j in jobs}
    missing = [n for n in only if n not in names]
    if missing:
        raise ValueError(f"no sync job named {', '.join(missing)} (configured: {', '.join(sorted(names)) or 'none'})")
    return [j for j in jobs if not only or j.name in only]


def run(engine: Engine, jobs: list[Job], only: tuple[str, ...] = ()) -> list[Outcome]:
    """Runs each job once (the named ones, or all); a job that fails says why and the others still run."""
    outcomes = []
    for job in chosen(jobs, only):
        outcome = Outcome(job.name)
        try:
            mapping = saved.resolve(engine, job.mapping)
            (_folder if job.folder else _sql)(engine, job, mapping, outcome)
        except (OSError, ValueError, sa.exc.SQLAlchemyError, store.StoreError) as exc:
            outcome.error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        outcomes.append(outcome)
    return outcomes


def schedule(engine: Engine, jobs: list[Job], every: timedelta, report: Callable[[list[Outcome]], None]) -> None:
    """Runs :func:`run` now and then every ``every``, in this process, until interrupted (APScheduler)."""
    run_every(lambda: report(run(engine, jobs)), every)
