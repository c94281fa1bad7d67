"""Editing the journey maps and the targets from the app: every save is checked against the data contract (a stage
that exists, a known lane, a known metric, numbers where numbers belong, warn on the worse side of the target) and
written in one transaction, so a refused or failed save leaves the store as it was.

- A map is saved whole: its rows are replaced by the edited cells (an emptied cell is removed).
- Maps can be renamed, copied (``current`` as the start of an ``ideal`` map) and deleted.
- The targets are saved whole: the edited table replaces ``kpi_targets``.
- The stage rules (product events to journey stages) are saved whole, as the targets are.
- CSV import takes the contract's columns: a ``journey_map`` file replaces the maps it names, a ``kpi_targets`` or
  ``stage_rules`` file replaces every target or rule. Export writes the same columns back.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import exports, i18n, schema, store
from data_access.i18n import _, ngettext
from data_access.loading import ingest
from data_access.loading.ingest import LoadRejected, Problem, Problems
from data_access.queries import journey, kpis

jm = schema.journey_map
kt = schema.kpi_targets
sr = schema.stage_rules
RULE_COLUMNS = [c.name for c in sr.columns]
MAP_COLUMNS = [c.name for c in jm.columns]
TARGET_COLUMNS = [c.name for c in kt.columns]
MAX_NAME = jm.c.map.type.length


def _refuse(where: str, reason: str, column: str | None = None) -> LoadRejected:
    problems = Problems()
    problems.add(Problem(where, reason, column))
    return LoadRejected(problems)


def checked_name(name: str | None) -> str:
    """A map name as it will be stored, or :class:`LoadRejected` saying why it cannot be one."""
    clean = (name or "").strip()
    if not clean:
        raise _refuse(_("map name"), _("a map needs a name"), "map")
    if len(clean) > MAX_NAME:
        raise _refuse(_("map name"), _("a map name has at most {n} characters").format(n=MAX_NAME), "map")
    return clean


def _validated(table: sa.Table, frame: pl.DataFrame, where: str) -> pl.DataFrame:
    problems = Problems()
    clean = ingest.validate(table, frame, where, problems)
    if clean is None or problems.total:
        raise LoadRejected(problems)
    return clean


def _cells_frame(name: str, cells: pl.DataFrame) -> pl.DataFrame:
    """The edited cells (stage_id, lane, text) as map rows; an empty cell is no row."""
    text = pl.col("text").cast(pl.String).str.strip_chars()
    return (
        cells.select(
            pl.lit(name).alias("map"), pl.col("stage_id").cast(pl.String), pl.col("lane").cast(pl.String), text
        )
        .filter(text.is_not_null() & (text != ""))
        .select(MAP_COLUMNS)
    )


def _replace(engine: Engine, table: sa.Table, where: sa.ColumnElement[bool], frame: pl.DataFrame, file: str) -> int:
    """Deletes the rows ``where`` selects and writes ``frame`` in one transaction; the references are checked
    before the commit (a stage that does not exist refuses the whole save)."""
    with store.write_transaction(engine) as conn:
        conn.execute(sa.delete(table).where(where))
        if frame.height:
            store.bulk_insert(conn, table, frame)
        problems = Problems()
        ingest.reference_problems(conn, {table.name: (file, frame)}, problems)
        if problems.total:
            raise LoadRejected(problems)  # leaving the block rolls back
    return frame.height


def map_names(engine: Engine) -> list[str]:
    with store.connect(engine) as conn:
        return journey.map_names(conn)


def map_rows(engine: Engine, name: str | None = None) -> pl.DataFrame:
    """The rows of one map (every map when None) in the contract's columns, for export."""
    stmt = sa.select(*(jm.c[c] for c in MAP_COLUMNS)).order_by(jm.c.map, jm.c.stage_id, jm.c.lane)
    if name is not None:
        stmt = stmt.where(jm.c.map == name)
    with store.connect(engine) as conn:
        return store.fetch_frame(conn, stmt, dict.fromkeys(MAP_COLUMNS, pl.String))


def save_map(engine: Engine, name: str, cells: pl.DataFrame, *, was: str | None = None) -> int:
    """Replaces map ``name`` (and ``was``, when it is being renamed) with ``cells``; returns the cells kept."""
    name = checked_name(name)
    if was is not None and was != name and name in map_names(engine):
        raise _refuse(_("map name"), _("there is already a map called {name}").format(name=repr(name)), "map")
    rows = _validated(jm, _cells_frame(name, cells), f"map {name}")
    return _replace(engine, jm, jm.c.map.in_({name, was or name}), rows, f"map {name}")


def rename_map(engine: Engine, was: str, name: str) -> int:
    cells = map_rows(engine, was)
    if cells.height == 0:
        raise _refuse(_("map name"), _("there is no map called {name}").format(name=repr(was)), "map")
    return save_map(engine, name, cells.drop("map"), was=was)


def copy_map(engine: Engine, source: str, name: str) -> int:
    """A new map with the cells of ``source`` (the start of an ideal map from the current one)."""
    name = checked_name(name)
    if name in map_names(engine):
        raise _refuse(_("map name"), _("there is already a map called {name}").format(name=repr(name)), "map")
    return save_map(engine, name, map_rows(engine, source).drop("map"))


def delete_map(engine: Engine, name: str) -> int:
    with store.connect(engine, write=True) as conn:
        return store.delete_where(conn, jm, jm.c.map == name)


def target_rows(engine: Engine) -> pl.DataFrame:
    with store.connect(engine) as conn:
        return kpis.target_list(conn)


def save_targets(engine: Engine, frame: pl.DataFrame) -> int:
    """Replaces every target with ``frame`` (stage_id, metric, target, warn); rows left wholly empty are dropped."""
    kept = frame.select(TARGET_COLUMNS).filter(~pl.all_horizontal(pl.all().is_null()))
    return _replace(engine, kt, sa.true(), _validated(kt, kept, "targets"), "targets")


def rule_rows(engine: Engine) -> pl.DataFrame:
    """Every stage rule (event, property, value, stage_id), empty property and value as empty cells."""
    with store.connect(engine) as conn:
        if not store.has_table(conn, sr):
            return pl.DataFrame(schema=dict.fromkeys(RULE_COLUMNS, pl.String))
        query = sa.select(*sr.c).order_by(sr.c.event, sr.c.property, sr.c.value)
        frame = store.fetch_frame(conn, query, dict.fromkeys(RULE_COLUMNS, pl.String))
    return frame.with_columns(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in ("property", "value"))


def save_rules(engine: Engine, frame: pl.DataFrame) -> int:
    """Replaces every stage rule with ``frame``; rows left wholly empty are dropped."""
    kept = frame.select(RULE_COLUMNS).filter(~pl.all_horizontal(pl.all().is_null()))
    return _replace(engine, sr, sa.true(), _validated(sr, kept, _("stage rules")), _("stage rules"))


def import_file(engine: Engine, source: ingest.Source) -> str:
    """A ``journey_map``, ``kpi_targets`` or ``stage_rules`` file: checked, then saved in one transaction. Returns
    what changed."""
    table = ingest.table_for(source.name)
    if table not in (jm, kt, sr):
        raise _refuse(source.name, _("name the file journey_map.csv, kpi_targets.csv or stage_rules.csv"))
    problems = Problems()
    raw = ingest.read_source(source, problems)
    if raw is None:
        raise LoadRejected(problems)
    rows = _validated(table, exports.unneutral_frame(raw), source.name)  # our own export's text comes back as it was
    if table is sr:
        written = _replace(engine, sr, sa.true(), rows, source.name)
        return ngettext("{n} stage rule (all replaced)", "{n} stage rules (all replaced)", written).format(
            n=i18n.number(written)
        )
    if table is kt:
        written = _replace(engine, kt, sa.true(), rows, source.name)
        return ngettext("{n} target (all replaced)", "{n} targets (all replaced)", written).format(
            n=i18n.number(written)
        )
    names = sorted(set(rows["map"].to_list()))
    written = _replace(engine, jm, jm.c.map.in_(names), rows, source.name)
    return ngettext("{n} cell of {maps}", "{n} cells of {maps}", written).format(
        n=i18n.number(written), maps=", ".join(names) or _("no map")
    )
