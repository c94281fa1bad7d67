"""Product events become journey events by the ``stage_rules`` the CX team keeps (Maps and targets, or
``stage_rules.csv``): an event's name, or a pattern with ``*`` and ``?``, optionally with one property equal to a
value, names a stage. The most specific rule wins: an exact name before a pattern, a rule with a property before one
without, a longer pattern before a shorter one. An event named exactly like a stage's key is that stage when no rule
says otherwise. Events no rule maps are not loaded; the load report counts them by name."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import schema, store
from data_access.sources.shaping import EVENT, PROPERTY

TOP_UNMAPPED = 10


@dataclass(frozen=True)
class Rule:
    event: str
    property: str
    value: str
    stage_id: str

    @property
    def pattern(self) -> bool:
        return any(c in self.event for c in "*?[")

    def order(self) -> tuple[bool, bool, int]:
        return (self.pattern, not self.property, -len(self.event))

    def matches(self, event: str, properties: dict[str, str | None]) -> bool:
        named = fnmatch.fnmatchcase(event, self.event) if self.pattern else event == self.event
        return named and (not self.property or properties.get(self.property) == self.value)


def read(conn: Connection) -> list[Rule]:
    """The store's rules, most specific first (none on a store made before the table existed)."""
    if not store.has_table(conn, schema.stage_rules):
        return []
    t = schema.stage_rules
    rows = conn.execute(sa.select(t.c.event, t.c.property, t.c.value, t.c.stage_id)).all()
    return sorted((Rule(*(str(v or "") for v in row)) for row in rows), key=Rule.order)


def stage_ids(conn: Connection) -> list[str]:
    return [str(v) for v in conn.execute(sa.select(schema.stages.c.stage_id)).scalars()]


@dataclass(frozen=True)
class Staged:
    frame: pl.DataFrame  # the events a rule maps, with their stage_id
    unmapped: int
    unmapped_names: list[tuple[str, int]]  # the most frequent unmapped event names and their counts


def apply(frame: pl.DataFrame, rules: list[Rule], stages: list[str]) -> Staged:
    """``frame`` (with the event's name and the properties the rules test) with each event's stage; unmapped
    events dropped and counted. Each distinct name and property values is matched once, then joined back."""
    keys = [EVENT, *(c for c in frame.columns if c.startswith(PROPERTY))]
    combos = frame.group_by(keys).len()
    known = set(stages)
    found: list[str | None] = []
    for row in combos.iter_rows(named=True):
        event = row[EVENT] or ""
        props = {k.removeprefix(PROPERTY): (None if row[k] is None else str(row[k])) for k in keys[1:]}
        rule = next((r for r in rules if r.matches(event, props)), None)
        found.append(rule.stage_id if rule else (event if event in known else None))
    combos = combos.with_columns(pl.Series("stage_id", found, dtype=pl.String))
    joined = frame.drop("stage_id", strict=False).join(
        combos.select([*keys, "stage_id"]), on=keys, how="left", nulls_equal=True
    )
    missing = combos.filter(pl.col("stage_id").is_null())
    names = (
        missing.group_by(EVENT).agg(pl.col("len").sum()).sort(["len", EVENT], descending=[True, False])
        if missing.height
        else missing
    )
    top = [(str(n), int(c)) for n, c in names.select(EVENT, "len").head(TOP_UNMAPPED).iter_rows()]
    kept = joined.filter(pl.col("stage_id").is_not_null()).drop(keys)
    return Staged(kept, int(missing["len"].sum()) if missing.height else 0, top)
