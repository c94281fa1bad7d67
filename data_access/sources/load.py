"""Loading a source's files: read as they come, shaped by the source and its mapping, product events staged by the
rules, customers found by id or e-mail (the unknown ones created), checked against the contract, then written all
or nothing in one transaction with its entry in the load log. A re-load of an overlapping export changes nothing:
the vendor's id is the key. :func:`prepare` does everything but the write, for the Data page's preview."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import i18n, schema, store
from data_access.i18n import _, ngettext
from data_access.loading import ingest
from data_access.loading.ingest import LoadRejected, Problem, Problems, Progress, no_progress
from data_access.sources import identity, reading, rules
from data_access.sources.mapping import Mapping
from data_access.sources.shaping import EVENT, PROPERTY, shape, with_companions
from data_access.sources.spec import Source

PREVIEW_ROWS = 20


@dataclass
class Report:
    """What a load read, left out, created and wrote: shown after it, and kept in the load log."""

    source: str
    table: str
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    left_out: int = 0
    collapsed: int = 0
    duplicates: int = 0
    unmapped: int = 0
    unmapped_names: list[tuple[str, int]] = field(default_factory=list)
    new_customers: int = 0
    loaded: int = 0

    def lines(self) -> list[str]:
        n = i18n.number
        out = [
            _("{source}: {read} rows read from {files}, {loaded} loaded into {table}").format(
                source=self.source,
                read=n(self.rows_read),
                files=", ".join(self.files),
                loaded=n(self.loaded),
                table=self.table,
            )
        ]
        if self.collapsed:
            out.append(_("{n} line items folded into their orders").format(n=n(self.collapsed)))
        if self.left_out:
            out.append(_("{n} rows left out by the source's rules (not paid, cancelled...)").format(n=n(self.left_out)))
        if self.duplicates:
            out.append(_("{n} rows repeated an id already read (the last one kept)").format(n=n(self.duplicates)))
        if self.new_customers:
            out.append(
                ngettext(
                    "{n} customer was new to the store: created with unknown segment, channel, region and plan",
                    "{n} customers were new to the store: created with unknown segment, channel, region and plan",
                    self.new_customers,
                ).format(n=n(self.new_customers))
            )
        if self.unmapped:
            names = ", ".join(f"{name} ({n(count)})" for name, count in self.unmapped_names)
            out.append(
                _("{n} events no stage rule maps were not loaded; most frequent: {names}").format(
                    n=n(self.unmapped), names=names
                )
            )
        return out

    def detail(self) -> str:
        return json.dumps(
            {
                "left_out": self.left_out,
                "collapsed": self.collapsed,
                "duplicates": self.duplicates,
                "unmapped_names": self.unmapped_names,
            }
        )


@dataclass
class Prepared:
    """A load checked and ready to write: the new customers first, then the source's rows."""

    report: Report
    frames: list[tuple[str, pl.DataFrame]]
    preview: pl.DataFrame  # the first rows as they would be written


def prepare(
    engine: Engine,
    mapping: Mapping,
    files: list[ingest.Source],
    *,
    zone: str | None = None,
    defaults: dict[str, object] | None = None,
    progress: Progress = no_progress,
) -> Prepared:
    """Reads, shapes, stages, resolves and validates ``files``; raises :class:`LoadRejected` with every problem (and
    the report as far as it got, as its ``partial``)."""
    source = mapping.effective()
    report = Report(source.name, source.table, [f.name for f in files])
    try:
        return _prepare(engine, mapping, source, report, files, zone=zone, defaults=defaults, progress=progress)
    except LoadRejected as exc:
        exc.partial = report  # type: ignore[attr-defined]
        raise


def _prepare(
    engine: Engine,
    mapping: Mapping,
    source: Source,
    report: Report,
    files: list[ingest.Source],
    *,
    zone: str | None,
    defaults: dict[str, object] | None,
    progress: Progress,
) -> Prepared:
    table = schema.TABLES_BY_NAME[source.table]
    problems = Problems()
    if not files:
        problems.add(Problem("(no files)", _("give at least one export file of {source}").format(source=source.title)))
    given = {**mapping.defaults, **(defaults or {})}
    with store.connect(engine) as conn:
        staging = rules.read(conn) if source.family == "events" else []
        stages = rules.stage_ids(conn) if source.family == "events" else []
        wanted = tuple(sorted({r.property for r in staging if r.property}))
        shaped: list[pl.DataFrame] = []
        read: list[tuple[str, pl.DataFrame]] = []
        for i, file in enumerate(files):
            progress(0.4 * i / max(len(files), 1), _("reading {file}").format(file=file.name))
            raw = reading.read(file.name, file.data, source.header_rows, problems)
            if raw is not None:
                read.append((file.name, raw))
        for name, raw in with_companions(source, read):
            done = shape(
                source,
                raw,
                name,
                problems,
                zone=zone or mapping.timezone,
                time_format=mapping.time_format,
                defaults=given,
                properties=wanted,
            )
            if done is None:
                continue
            report.rows_read += done.rows_read
            report.left_out += done.left_out
            report.collapsed += done.collapsed
            report.duplicates += done.duplicates
            shaped.append(done.frame)
        if problems.total:
            raise LoadRejected(problems)
        frame = pl.concat(shaped, how="diagonal_relaxed") if len(shaped) > 1 else shaped[0]
        if len(shaped) > 1:  # an id in two files: the later file's row wins
            n = frame.height
            frame = frame.unique(subset=[table.primary_key.columns.keys()[0]], keep="last", maintain_order=True)
            report.duplicates += n - frame.height
        if source.family == "events":
            progress(0.5, _("turning product events into journey stages"))
            staged = rules.apply(frame, staging, stages)
            frame, report.unmapped, report.unmapped_names = staged.frame, staged.unmapped, staged.unmapped_names
        else:
            frame = frame.drop([c for c in frame.columns if c == EVENT or c.startswith(PROPERTY)])
        progress(0.6, _("finding each row's customer"))
        found = identity.resolve(conn, frame, schema.TIME_COLUMNS[source.table])
    name = ", ".join(report.files)
    clean = ingest.validate(table, found.frame, name, problems)
    customers = ingest.validate(schema.customers, found.new_customers, _("new customers"), problems)
    if problems.total or clean is None or customers is None:
        raise LoadRejected(problems)
    report.new_customers = customers.height
    report.loaded = clean.height
    frames = [("customers", customers)] if customers.height else []
    return Prepared(report, [*frames, (source.table, clean)], clean.head(PREVIEW_ROWS))


def _log(conn: Connection, report: Report, *, job: str, origin: str, status: str, refused: int, detail: str) -> None:
    conn = store.outside_staging(conn)
    store.ensure_table(conn, schema.load_log)
    conn.execute(
        sa.insert(schema.load_log).values(
            load_id=secrets.token_hex(8),
            loaded_at=store.utc_now(),
            job=job,
            source=report.source,
            target=report.table,
            origin=origin,
            rows_read=report.rows_read,
            loaded=report.loaded if status == "loaded" else 0,
            refused=refused,
            unmapped=report.unmapped,
            new_customers=report.new_customers if status == "loaded" else 0,
            status=status,
            detail=detail,
        )
    )


def load(
    engine: Engine,
    mapping: Mapping,
    files: list[ingest.Source],
    *,
    job: str,
    zone: str | None = None,
    defaults: dict[str, object] | None = None,
    origin: str | None = None,
    progress: Progress = no_progress,
    also: Callable[[Connection], None] | None = None,
) -> Report:
    """Loads ``files`` through ``mapping``, all or nothing; a refusal is logged too, then raised. ``also`` writes
    more in the load's transaction (a sync job's file or cursor)."""
    origin = origin or ", ".join(f.name for f in files)
    try:
        ready = prepare(engine, mapping, files, zone=zone, defaults=defaults, progress=progress)
    except LoadRejected as exc:
        log_refusal(engine, exc.partial, exc, job=job, origin=origin)  # type: ignore[attr-defined]
        raise
    report = ready.report
    total = sum(f.height for _, f in ready.frames)

    def logged(conn: Connection) -> None:
        _log(conn, report, job=job, origin=origin, status="loaded", refused=0, detail=report.detail())
        if also is not None:
            also(conn)

    try:
        ingest.write(
            engine,
            ready.frames,
            files=dict.fromkeys((n for n, _ in ready.frames), origin),
            total_rows=total,
            progress=lambda f, m: progress(0.7 + 0.3 * f, m),
            also=logged,
        )
    except LoadRejected as exc:
        log_refusal(engine, report, exc, job=job, origin=origin)
        raise
    return report


def log_refusal(engine: Engine, report: Report, exc: LoadRejected, *, job: str, origin: str) -> None:
    """A refused load's entry in the load log, in a transaction of its own (nothing else was written)."""
    with store.connect(engine, write=True) as conn:
        _log(conn, report, job=job, origin=origin, status="refused", refused=exc.problems.total, detail=exc.report())


def log_rows(engine: Engine, limit: int = 200) -> pl.DataFrame:
    """The newest entries of the load log."""
    t = schema.load_log
    with store.connect(engine) as conn:
        if not store.has_table(conn, t):
            return pl.DataFrame(schema={c.name: pl.String for c in t.columns})
        query = sa.select(*t.c).order_by(t.c.loaded_at.desc()).limit(limit)
        return store.fetch_frame(conn, query)


def unmapped_lately(engine: Engine) -> list[tuple[str, int]]:
    """The event names no stage rule mapped in the latest load of product events that landed."""
    t = schema.load_log
    with store.connect(engine) as conn:
        if not store.has_table(conn, t):
            return []
        query = (
            sa.select(t.c.detail)
            .where(t.c.target == schema.journey_events.name, t.c.status == "loaded")
            .order_by(t.c.loaded_at.desc())
            .limit(1)
        )
        detail = conn.execute(query).scalar()
    names = json.loads(detail).get("unmapped_names", []) if detail else []
    return [(str(name), int(n)) for name, n in names]
