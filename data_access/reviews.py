"""Saved KPI reviews: a review's periods, customer filters, figures and notes as they were when saved, so that it
opens later with the same numbers after new data arrives, and the next review can see what was tried. Saved in one
transaction; a name is saved once (saving it again replaces it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema, store
from data_access.filters import EVERYONE, AudienceChoice, Filters, Period, Scope
from data_access.loading.ingest import LoadRejected, Problem, Problems
from data_access.queries import review

kr = schema.kpi_reviews
NOTE_COLUMNS = ("done", "planned")  # per KPI: what was done since the last review, what is planned
MAX_NAME = kr.c.name.type.length
ROW_SCHEMA = review.ROW_SCHEMA | dict.fromkeys(NOTE_COLUMNS, pl.String)  # a saved row: the figures, the notes


@dataclass(frozen=True)
class SavedReview:
    name: str
    saved_at: datetime
    a: Period
    b: Period
    filters: Filters  # the customer filters (no period)
    data_as_of: datetime | None  # how fresh the data was when it was saved
    frame: pl.DataFrame  # :data:`ROW_SCHEMA`


def with_notes(frame: pl.DataFrame, notes: pl.DataFrame | None = None) -> pl.DataFrame:
    """The review's rows with the note columns (from ``notes``: stage_id, metric, done, planned; empty elsewhere).
    Without ``notes``, a frame that has them keeps its own."""
    if notes is None and set(NOTE_COLUMNS) <= set(frame.columns):
        out = frame
    elif notes is None or notes.height == 0:
        out = frame.with_columns(*(pl.lit(None, pl.String).alias(c) for c in NOTE_COLUMNS))
    else:
        kept = notes.select("stage_id", "metric", *(pl.col(c).cast(pl.String) for c in NOTE_COLUMNS))
        out = frame.drop([c for c in NOTE_COLUMNS if c in frame.columns]).join(
            kept, on=["stage_id", "metric"], how="left"
        )
    return out.select(pl.col(c).cast(t) for c, t in ROW_SCHEMA.items())


def _refused(reason: str) -> LoadRejected:
    problems = Problems()
    problems.add(Problem("review", reason, "name"))
    return LoadRejected(problems)


def save(engine: Engine, name: str, a: Period, b: Period, filters: Filters, frame: pl.DataFrame) -> int:
    """Saves (or replaces) the review ``name`` with its rows and notes and how fresh the data is; returns the rows
    saved. Refuses an empty or too long name and periods without both ends (:class:`LoadRejected`)."""
    clean = (name or "").strip()
    if not clean or len(clean) > MAX_NAME:
        raise _refused(f"a saved review needs a name of 1 to {MAX_NAME} characters")
    if None in (a.start, a.end, b.start, b.end) or a.end_inclusive or b.end_inclusive:
        raise _refused("a saved review needs two periods of whole days")
    rows = with_notes(frame)
    customers = {dim: list(values) for dim, values in filters.dimension_values().items()}
    if filters.scope.segments:  # the figures are of the saver's segments only: say so, for whoever opens it
        limit = set(filters.scope.segments)
        customers["segment"] = sorted(limit & set(filters.segment) if filters.segment else limit)
    if filters.audience is not None:  # the audience as it stood: its caption stays true of the frozen figures
        chosen = filters.audience
        customers["audience"] = {  # type: ignore[assignment]
            "key": chosen.key,
            "name": chosen.name,
            "members": chosen.members,
            "computed_at": chosen.computed_at.isoformat() if chosen.computed_at else None,
        }
    data_as_of = store.freshness(engine)
    with store.write_transaction(engine, (kr,)) as conn:
        conn.execute(sa.delete(kr).where(kr.c.name == clean))
        conn.execute(
            sa.insert(kr).values(
                name=clean,
                saved_at=store.utc_now(),
                a_start=a.start,
                a_end=a.end,
                b_start=b.start,
                b_end=b.end,
                customers=json.dumps(customers, sort_keys=True),
                data_as_of=data_as_of,
                figures=json.dumps(rows.to_dicts()),
            )
        )
    return rows.height


def _within(customers: dict[str, list[str]], scope: Scope) -> bool:
    """Whether a saved review's customers lie inside ``scope``: a viewer limited to some segments sees only the
    reviews of those segments."""
    if not scope.segments:
        return True
    chosen = customers.get("segment") or []
    return bool(chosen) and set(chosen) <= set(scope.segments)


def saved(conn: Connection, scope: Scope = EVERYONE) -> pl.DataFrame:
    """The saved reviews the scope may see, newest first: name, saved_at."""
    columns = {"name": pl.String, "saved_at": pl.Datetime("us")}
    if not store.has_table(conn, kr):
        return pl.DataFrame(schema=columns)
    stmt = sa.select(kr.c.name, kr.c.saved_at, kr.c.customers).order_by(kr.c.saved_at.desc(), kr.c.name)
    rows = [(r.name, r.saved_at) for r in conn.execute(stmt) if _within(json.loads(r.customers), scope)]
    return pl.DataFrame(rows, schema=columns, orient="row")


def opened(conn: Connection, name: str, scope: Scope = EVERYONE) -> SavedReview | None:
    """A saved review as it was, or None when there is none of that name the scope may see."""
    if not store.has_table(conn, kr):
        return None
    row = conn.execute(sa.select(kr).where(kr.c.name == name)).one_or_none()
    if row is None or not _within(json.loads(row.customers), scope):
        return None
    loaded = json.loads(row.customers)
    kept = loaded.pop("audience", None)
    values = {dim: tuple(v) for dim, v in loaded.items()}
    audience = None
    if kept:
        when = datetime.fromisoformat(kept["computed_at"]) if kept.get("computed_at") else None
        audience = AudienceChoice(kept["key"], kept.get("name", ""), int(kept.get("members", 0)), when)
    frame = pl.DataFrame(json.loads(row.figures), schema=ROW_SCHEMA) if row.figures else None
    return SavedReview(
        name=row.name,
        saved_at=row.saved_at,
        a=Period(row.a_start, row.a_end),
        b=Period(row.b_start, row.b_end),
        filters=Filters(audience=audience, **values),
        data_as_of=row.data_as_of,
        frame=frame if frame is not None else pl.DataFrame(schema=ROW_SCHEMA),
    )


def notes_before(conn: Connection, name: str | None = None, scope: Scope = EVERYONE) -> pl.DataFrame:
    """The notes of the newest saved review (other than ``name``): stage_id, metric, done, planned, review; what was
    tried last time, for the next review to see."""
    empty = pl.DataFrame(
        schema={
            "stage_id": pl.String,
            "metric": pl.String,
            "done": pl.String,
            "planned": pl.String,
            "review": pl.String,
        }
    )
    for other in saved(conn, scope)["name"].to_list():
        if other == name:
            continue
        review = opened(conn, other, scope)
        if review is None:
            continue
        notes = review.frame.filter(pl.col("done").is_not_null() | pl.col("planned").is_not_null())
        return notes.select("stage_id", "metric", "done", "planned", pl.lit(other).alias("review"))
    return empty
