"""Loading a company's own files (CSV, Parquet, Excel named after the tables) and the sample data.

Every file is read and validated before anything is written; the write runs in one transaction that also
checks the references between tables, so a rejected load leaves the store exactly as it was. Rows whose key
already exists are replaced, so loading the same file twice does not duplicate anything.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import i18n, metrics, schema, store
from data_access.config import SETTINGS
from data_access.i18n import _
from data_access.loading.problems import LoadRejected, Problem, Problems
from data_access.queries import activity, funnel, kpis
from data_access.store import attributes

Progress = Callable[[float, str], None]
SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "excel", ".xls": "excel"}
MODES = ("append", "replace")
# A load of these rebuilds the derived tables built from them (data_access.store.derived): the funnel's attempts and
# each stage's customers from the events and the stages, each customer's months of activity from the events, the
# orders and the customers' churn dates.
_FROM_EVENTS = {"journey_events", "stages"}
DERIVED_FROM = _FROM_EVENTS | activity.BUILT_FROM
TIME_FORMATS_TZ = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z")  # ISO with an offset ("Z" made "+00:00")
TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")  # ISO without one


_DTYPES = {
    "text": pl.String,
    "integer": pl.Int64,
    "number": pl.Float64,
    "boolean": pl.Boolean,
    "timestamp": pl.Datetime("us"),
}


def typed_frame(table_name: str, rows: list[dict[str, object]]) -> pl.DataFrame:
    """Rows (dicts, absent keys = null) as a frame with every column of the table in the contract's types."""
    table = schema.TABLES_BY_NAME[table_name]
    dtypes = {str(c.name): _DTYPES[schema.type_name(c)] for c in schema.contract_columns(table)}
    return pl.DataFrame([{name: row.get(name) for name in dtypes} for row in rows], schema=dtypes, orient="row")


def no_progress(_fraction: float, _message: str) -> None:
    return None


def as_boolean(text: pl.Expr) -> pl.Expr:
    """true/t/1/yes/y and false/f/0/no/n (any case) as booleans; anything else null."""
    low = text.str.to_lowercase()
    true, false = ("true", "t", "1", "yes", "y"), ("false", "f", "0", "no", "n")
    return pl.when(low.is_in(true)).then(True).when(low.is_in(false)).then(False)


@dataclass(frozen=True)
class Source:
    """A file to load: its name (which names the table) and its bytes."""

    name: str
    data: bytes

    @classmethod
    def from_path(cls, path: Path) -> Source:
        return cls(path.name, path.read_bytes())


def table_for(name: str) -> sa.Table | None:
    stem = Path(name).name.split(".")[0]
    return schema.TABLES_BY_NAME.get(stem)


# what a file of each kind starts with (and a Parquet file ends with), so that a file is not trusted by its name
MAGIC = {"parquet": b"PAR1", "xlsx": b"PK\x03\x04", "xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"}
BINARY_STARTS = (*MAGIC.values(), b"%PDF", b"\x7fELF", b"MZ", b"\x1f\x8b", b"\x89PNG", b"\xff\xd8\xff")


def sniffed_problem(kind: str, data: bytes) -> str | None:
    """Why ``data`` is not a file of ``kind`` whatever its name says (None when it looks like one): a CSV must be
    text (no NUL byte, no binary format's signature), a Parquet or Excel file must carry its format's signature."""
    if kind == "csv":
        head = data[:65536]
        if b"\x00" in head or head.startswith(BINARY_STARTS):
            return _("is not a text file, though its name ends in .csv: save it as UTF-8 CSV")
        return None
    if kind == "parquet":
        ok = data.startswith(MAGIC["parquet"]) and data.endswith(MAGIC["parquet"])
        return None if ok else _("is not a Parquet file, though its name says so")
    if not data.startswith((MAGIC["xlsx"], MAGIC["xls"])):
        return _("is not an Excel workbook, though its name says so")
    return None


def upload_problem(name: str, size: int) -> str | None:
    """Why an upload of ``size`` bytes is refused before it is read (None when it may be read)."""
    if size > SETTINGS.upload_max_mb * 1024 * 1024:
        return _(
            "{name} is larger than {mb} MB (CJM_UPLOAD_MAX_MB); load it with `python -m data_access ingest` instead"
        ).format(name=name, mb=i18n.number(SETTINGS.upload_max_mb))
    return None


def read_source(source: Source, problems: Problems) -> pl.DataFrame | None:
    """The file's rows as a frame, or None with the reason added to ``problems``."""
    kind = SUFFIXES.get(Path(source.name).suffix.lower())
    if kind is None:
        problems.add(Problem(source.name, "unsupported file type (use .csv, .parquet or .xlsx)"))
        return None
    if not source.data:
        problems.add(Problem(source.name, "the file is empty"))
        return None
    wrong = sniffed_problem(kind, source.data)
    if wrong:
        problems.add(Problem(source.name, wrong))
        return None
    try:
        if kind == "csv":
            try:
                text = source.data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = source.data[: exc.start].count(b"\n")  # data row of the bad byte (header is line 0)
                problems.add(Problem(source.name, "not UTF-8 text: save the file as UTF-8 CSV", row=line or None))
                return None
            frame = pl.read_csv(io.StringIO(text), infer_schema=False)
        elif kind == "parquet":
            frame = pl.read_parquet(io.BytesIO(source.data))
        else:
            frame = pl.read_excel(io.BytesIO(source.data), engine="calamine")
    except Exception as exc:  # noqa: BLE001 - any reader failure is reported as a problem with the file
        problems.add(
            Problem(
                source.name, _("cannot be read as {kind}: {error}").format(kind=kind, error=str(exc).splitlines()[0])
            )
        )
        return None
    if frame.height == 0:
        problems.add(Problem(source.name, "the file has a header but no rows"))
        return None
    return frame


def _as_text(series: pl.Series) -> pl.Series:
    text = series.cast(pl.String).str.strip_chars()
    return pl.select(pl.when(text != "").then(text).alias(series.name)).to_series()


def _coerce(series: pl.Series, kind: str) -> pl.Series:
    """The column converted to the contract's type; values that do not convert become null."""
    if kind == "timestamp" and isinstance(series.dtype, pl.Datetime):
        if series.dtype.time_zone is not None:
            series = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return series.cast(pl.Datetime("us"))
    if kind == "timestamp" and isinstance(series.dtype, pl.Date):
        return series.cast(pl.Datetime("us"))
    if kind == "boolean" and series.dtype == pl.Boolean:
        return series
    if kind in ("integer", "number") and series.dtype.is_numeric():
        if kind == "integer":
            as_float = series.cast(pl.Float64)
            return pl.Series(series.name, as_float).cast(pl.Int64, strict=False).set(as_float != as_float.round(), None)
        return series.cast(pl.Float64)
    text = _as_text(series)
    if kind == "text":
        return text
    if kind == "integer":
        as_float = text.cast(pl.Float64, strict=False)
        whole = as_float == as_float.round()
        return as_float.cast(pl.Int64, strict=False).set(~whole.fill_null(True), None)
    if kind == "number":
        return text.cast(pl.Float64, strict=False)
    if kind == "boolean":
        return text.to_frame().select(as_boolean(pl.col(text.name))).to_series()
    # timestamp: "2025-03-02 10:15" and "2025-03-02T10:15" alike; an offset is converted, a naive value is UTC.
    iso = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace(r"Z$", "+00:00")
    parsed = [
        iso.str.to_datetime(f, strict=False, time_zone="UTC").dt.replace_time_zone(None) for f in TIME_FORMATS_TZ
    ] + [iso.str.to_datetime(f, strict=False) for f in TIME_FORMATS]
    return pl.select(pl.coalesce([p.cast(pl.Datetime("us")) for p in parsed]).alias(text.name)).to_series()


def _made_up_event_ids(frame: pl.DataFrame) -> pl.Series:
    """A key from the row's content (and its rank among identical rows), so a re-load makes the same keys."""
    content = ("customer_id", "stage_id", "occurred_at", "touchpoint", "action")
    parts = frame.select(
        pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in content], separator="|").alias("k")
    ).with_columns(pl.int_range(pl.len()).over("k").cast(pl.String).alias("nth"))
    keys = [f"{k}|{nth}" for k, nth in parts.iter_rows()]
    return pl.Series("event_id", ["h" + hashlib.blake2b(k.encode(), digest_size=10).hexdigest() for k in keys])


def validate(table: sa.Table, frame: pl.DataFrame, file: str, problems: Problems) -> pl.DataFrame | None:
    """The frame with the contract's columns and types, or None when any row is refused."""
    before = problems.total
    contract = schema.contract_columns(table)
    names = {c.name for c in contract}
    given = list(frame.columns)
    for extra in sorted(set(given) - names):
        expected = ", ".join(c.name for c in contract)
        problems.add(Problem(file, _("unknown column (expected: {columns})").format(columns=expected), extra))
    for c in contract:
        if c.name not in given and c.info["required"]:
            problems.add(Problem(file, "required column is missing", c.name))
    if problems.total > before:
        return None
    out: dict[str, pl.Series] = {}
    for c in contract:
        kind = schema.type_name(c)
        if c.name not in given:
            out[c.name] = pl.Series(c.name, [None] * frame.height, dtype=_DTYPES[kind])
            continue
        raw = frame[c.name]
        value = _coerce(raw, kind).alias(c.name)
        present = _as_text(raw).is_not_null() if raw.dtype == pl.String else raw.is_not_null()
        problems.add_rows(
            file,
            c.name,
            present & value.is_null(),
            lambda i, r=raw, k=kind: _("{value} is not a valid {kind}").format(value=repr(r[i]), kind=_(k)),
        )
        if c.info["required"] or (c.primary_key and not c.info["made_up"]):
            problems.add_rows(file, c.name, ~present, lambda _i: "required value is missing")
        allowed = c.info["enum"]
        if allowed is not None:
            problems.add_rows(
                file,
                c.name,
                value.is_not_null() & ~value.is_in(list(allowed)),
                lambda i, v=value, a=allowed: _("{value} is not one of {allowed}").format(
                    value=repr(v[i]), allowed=", ".join(map(str, a))
                ),
            )
        bounds = c.info["range"]
        if bounds is not None:
            lo, hi = bounds
            outside = pl.Series([False] * frame.height)
            if lo is not None:
                outside = outside | (value < lo)
            if hi is not None:
                outside = outside | (value > hi)
            words = f">= {lo}" if hi is None else _("between {lo} and {hi}").format(lo=lo, hi=hi)
            problems.add_rows(
                file,
                c.name,
                outside,
                lambda i, v=value, w=words: _("{value} is not {range}").format(value=v[i], range=w),
            )
        out[c.name] = value
    clean = pl.DataFrame(out)
    if problems.total > before:
        return None
    if table is schema.survey_responses:
        for name, (lo, hi) in schema.SURVEY_RANGES.items():
            wrong = (clean["survey"] == name) & ((clean["score"] < lo) | (clean["score"] > hi))
            problems.add_rows(
                file,
                "score",
                wrong,
                lambda i, n=name, a=lo, b=hi: _("{value} is outside the {survey} range {lo}-{hi}").format(
                    value=clean["score"][i], survey=n, lo=a, hi=b
                ),
            )
    if table is schema.survey_responses:
        is_exit = clean["survey"] == schema.EXIT_SURVEY
        problems.add_rows(
            file, "reason", is_exit & clean["reason"].is_null(), lambda _i: "an exit answer needs a reason"
        )
        problems.add_rows(
            file,
            "reason",
            ~is_exit & clean["reason"].is_not_null(),
            lambda i: _("a reason belongs to exit answers only, not to {survey}").format(survey=clean["survey"][i]),
        )
    if table is schema.experiment_info:
        staged = clean["primary_metric"].is_in(["conversion", "csat"])
        problems.add_rows(
            file,
            "stage_id",
            staged & clean["stage_id"].is_null(),
            lambda i: _("a {metric} experiment needs the stage it is measured at").format(
                metric=clean["primary_metric"][i]
            ),
        )
        problems.add_rows(
            file,
            "end_at",
            clean["end_at"].is_not_null() & (clean["end_at"] < clean["start_at"]),
            lambda _i: "the experiment ends before it starts",
        )
    if table is schema.kpi_targets:
        unknown = ~clean["metric"].is_in(list(metrics.TARGET_NAMES))
        problems.add_rows(
            file,
            "metric",
            unknown,
            lambda i: _("{metric} is not a known metric ({known})").format(
                metric=repr(clean["metric"][i]), known=", ".join(metrics.TARGET_NAMES)
            ),
        )
        _warn_on_the_worse_side(clean, file, problems)
    if table is schema.stage_rules:
        alone = clean["property"].is_null() != clean["value"].is_null()
        problems.add_rows(file, "value", alone, lambda _i: "a property and its value go together: give both or neither")
        clean = clean.with_columns(pl.col("property", "value").fill_null(""))  # stored as "" (part of the key)
    if table is schema.journey_events:
        clean = clean.with_columns(pl.coalesce(pl.col("event_id"), _made_up_event_ids(clean)).alias("event_id"))
    keys = schema.key_columns(table)
    first_row = clean.select(keys).with_row_index("i").group_by(keys, maintain_order=True).agg(pl.col("i").min())
    dupes = clean.select(keys).join(first_row, on=keys, how="left", nulls_equal=True).with_row_index("row")
    repeated = dupes["i"] != dupes["row"]
    problems.add_rows(
        file, ", ".join(keys), repeated, lambda i: _("duplicate key: same as row {n}").format(n=dupes["i"][i] + 1)
    )
    return None if problems.total > before else clean


def _warn_on_the_worse_side(clean: pl.DataFrame, file: str, problems: Problems) -> None:
    """A warn level beyond the target in the good direction would make amber mean better than green."""
    better = clean["metric"].replace_strict(metrics.HIGHER_IS_BETTER, default=None, return_dtype=pl.Boolean)
    wrong = (better & (clean["warn"] > clean["target"])) | (~better & (clean["warn"] < clean["target"]))
    problems.add_rows(
        file,
        "warn",
        wrong,
        lambda i: (
            _("warn {warn} is better than the target {target} ({metric}: higher is better)")
            if better[i]
            else _("warn {warn} is better than the target {target} ({metric}: lower is better)")
        ).format(warn=f"{clean['warn'][i]:g}", target=f"{clean['target'][i]:g}", metric=clean["metric"][i]),
    )


def reference_problems(conn: sa.Connection, loaded: dict[str, tuple[str, pl.DataFrame]], problems: Problems) -> None:
    """References between tables, checked in the database after the write and before the commit."""
    for (child, column), (parent, parent_column) in schema.REFERENCES.items():
        if child not in loaded and parent not in loaded:
            continue
        total, first = store.orphans(conn, child, column, SETTINGS.max_errors_shown)
        if not total:
            continue
        if child in loaded:
            file, frame = loaded[child]
            mask = frame[column].is_in(first)
            where = f"{parent}.{parent_column}"
            problems.add_rows(
                file,
                column,
                mask,
                lambda i, f=frame, c=column, w=where: _("{value} is not in {where}").format(
                    value=repr(f[c][i]), where=w
                ),
            )
            problems.total += max(total - int(mask.sum()), 0)  # rows whose values lie beyond the first ones
        else:
            file = loaded[parent][0]
            problems.add(
                Problem(
                    file,
                    _("{n} {child} value(s) would lose their {parent} row, e.g. {examples}").format(
                        n=total, child=child, parent=parent, examples=", ".join(map(repr, first[:5]))
                    ),
                    column,
                ),
                total,
            )


def write(
    engine: Engine,
    frames: Iterable[tuple[str, pl.DataFrame]],
    *,
    mode: str = "append",
    files: dict[str, str] | None = None,
    total_rows: int | None = None,
    progress: Progress = no_progress,
    also: Callable[[Connection], None] | None = None,
) -> dict[str, int]:
    """Writes validated frames in one transaction, in chunks; returns rows written per table. In ``replace``
    mode each table is emptied before its first frame; in ``append`` mode rows with an existing key are
    replaced. Raises :class:`LoadRejected` (and writes nothing) when a reference points nowhere. ``also`` writes
    more in the same transaction once the rows are checked (the load log's entry)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    written: dict[str, int] = {}
    kept: dict[str, tuple[str, pl.DataFrame]] = {}
    done = 0
    chunk = SETTINGS.ingest_chunk_rows
    with store.load_transaction(engine) as conn:  # readers keep the old data until it lands whole
        for name, frame in frames:
            table = schema.TABLES_BY_NAME[name]
            if name not in written and mode == "replace":
                store.empty_table(conn, table)
            for start in range(0, max(frame.height, 1), chunk):
                part = frame.slice(start, chunk)
                if mode == "append":
                    if table is schema.customers:
                        part = store.kept_numbers(conn, part)
                    store.delete_rows_with_keys(conn, table, part)
                store.bulk_insert(conn, table, part)
                done += part.height
                if total_rows:
                    progress(
                        min(done / total_rows, 1.0),
                        _("{table}: {done} of {total} rows written").format(
                            table=name, done=i18n.number(done), total=i18n.number(total_rows)
                        ),
                    )
            written[name] = written.get(name, 0) + frame.height
            kept[name] = ((files or {}).get(name, name), frame)
        problems = Problems()
        reference_problems(conn, kept, problems)
        if problems.total:
            raise LoadRejected(problems)  # leaving the block rolls the transaction back
        if also is not None:
            also(conn)
        progress(1.0, _("copying the customers' attributes onto their rows"))
        attributes.stamp(conn, attributes.to_stamp(written))
        if DERIVED_FROM & set(written):
            progress(1.0, "deriving the funnel's attempts, each stage's customers and each customer's months")
            built = refresh_derived(conn, set(written))  # in the same transaction: the store never holds a stale copy
        else:
            built = {}
        if "customers" in written:  # the derived tables not built again get the customers' new copies
            attributes.stamp(conn, [t for t in schema.ATTRIBUTE_DERIVED if t.name not in built])
    if set(written) & AUDIENCE_FACTS:
        from data_access.audiences import membership  # reads the queries that read this module's tables

        progress(1.0, _("recomputing the audiences"))
        membership.refresh(engine)
    return written


AUDIENCE_FACTS = {"customers", "journey_events", "tickets", "survey_responses", "orders"}  # what an audience reads


def refresh_derived(conn: Connection, written: set[str] | None = None) -> dict[str, int]:
    """Rebuilds the derived tables (``data_access.store.derived``) on a connection in a write transaction, every one
    or those built from the ``written`` tables; returns the rows of each."""
    built = {}
    if written is None or written & _FROM_EVENTS:
        built[str(schema.funnel_attempts.name)] = funnel.refresh_attempts(conn)
        built[str(schema.stage_customers.name)] = kpis.refresh_stage_customers(conn)
    if written is None or written & activity.BUILT_FROM:
        built[str(schema.customer_activity.name)] = activity.refresh(conn)
    return built


def ingest(
    engine: Engine, sources: list[Source], *, mode: str = "append", progress: Progress = no_progress
) -> dict[str, int]:
    """Validates every file, then loads them all or nothing. Raises :class:`LoadRejected`."""
    problems = Problems()
    if not sources:
        problems.add(Problem("(no files)", "give at least one file named after a table, e.g. customers.csv"))
    frames: dict[str, tuple[str, pl.DataFrame]] = {}
    for i, source in enumerate(sources):
        progress(0.3 * i / max(len(sources), 1), _("checking {file}").format(file=source.name))
        table = table_for(source.name)
        if table is None:
            problems.add(
                Problem(
                    source.name,
                    _("the file name names no table (use one of: {tables})").format(
                        tables=", ".join(schema.TABLES_BY_NAME)
                    ),
                )
            )
            continue
        if table.name in frames:
            problems.add(
                Problem(
                    source.name,
                    _("a second file for table {table} ({other})").format(
                        table=table.name, other=frames[table.name][0]
                    ),
                )
            )
            continue
        raw = read_source(source, problems)
        if raw is None:
            continue
        clean = validate(table, raw, source.name, problems)
        if clean is not None:
            frames[table.name] = (source.name, clean)
    if problems.total:
        raise LoadRejected(problems)
    ordered = [(str(t.name), frames[t.name][1]) for t in schema.TABLES if t.name in frames]
    total = sum(f.height for _, f in ordered)

    def scaled(fraction: float, message: str) -> None:
        progress(0.3 + 0.65 * fraction, message)

    written = write(
        engine, ordered, mode=mode, files={n: f for n, (f, _) in frames.items()}, total_rows=total, progress=scaled
    )
    progress(1.0, _("loaded {n} rows").format(n=i18n.number(total)))
    return written


def seed(
    engine: Engine, customers: int, seed_value: int, progress: Progress = no_progress, lang: str = "en"
) -> dict[str, int]:
    """Replaces the store's contents with the generated sample company (its words in ``lang``: en or ru)."""
    from sample_data.generate import BLOCK, generate

    blocks = max((customers + BLOCK - 1) // BLOCK, 1)
    seen = {"blocks": 0}

    def frames() -> Iterable[tuple[str, pl.DataFrame]]:
        for name, frame in generate(customers, seed_value, lang):
            if name == "customers":
                seen["blocks"] += 1
                progress(
                    min(seen["blocks"] / blocks, 1.0) * 0.95,
                    _("generating customers: {done} of {total}").format(
                        done=i18n.number(min(seen["blocks"] * BLOCK, customers)), total=i18n.number(customers)
                    ),
                )
            yield name, frame

    written: dict[str, int] = {}
    with store.connect(engine) as conn:
        # Emptied in one transaction, then a commit per generated block: memory stays bounded at any size
        # (one transaction holding every row would grow with N). An interrupted seed leaves part of the
        # sample; running it again starts over.
        store.upgrade(conn, fill=False)  # no copies to write onto rows that go next
        store.clear_tables(conn, list(schema.TABLES))
        conn.commit()
        block_customers, numbered = pl.DataFrame(), 0
        for name, frame in frames():
            table = schema.TABLES_BY_NAME[name]
            if name == "customers":  # each block's customers come before their rows, numbered as they come
                frame = frame.with_columns(
                    pl.int_range(numbered + 1, numbered + 1 + frame.height, dtype=pl.Int64).alias(schema.CUSTOMER_KEY)
                )
                numbered += frame.height
                block_customers = frame
            elif table in schema.ATTRIBUTE_FACTS:
                frame = attributes.stamped_frame(frame, block_customers)
            store.bulk_insert(conn, table, frame)
            conn.commit()
            written[name] = written.get(name, 0) + frame.height
    progress(0.96, "deriving the funnel's attempts, each stage's customers and each customer's months")
    with store.write_transaction(engine) as conn:
        refresh_derived(conn)
    from data_access.audiences import membership
    from sample_data import story, story_ru

    progress(0.98, _("recomputing the audiences"))
    membership.seeded(engine, story_ru.audiences() if lang == "ru" else story.AUDIENCES)
    progress(1.0, _("sample store ready: {n} customers").format(n=i18n.number(customers)))
    return written
