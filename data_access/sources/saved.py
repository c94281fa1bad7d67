"""Mappings saved by name in the store (``source_mappings``), for the Data page, ``ingest --mapping NAME`` and the
sync jobs. What is saved is the mapping's TOML text, checked before it is saved."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema, store
from data_access.i18n import _
from data_access.sources.mapping import Mapping, MappingError

t = schema.source_mappings
NAME_LENGTH = 80


def checked_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > NAME_LENGTH:
        raise MappingError(_("a mapping's name has 1 to {n} characters").format(n=NAME_LENGTH))
    return name


def save(engine: Engine, name: str, mapping: Mapping, who: str) -> None:
    """Saves (or replaces) ``name``, in a transaction of its own."""
    name = checked_name(name)
    with store.connect(engine, write=True) as conn:
        store.ensure_table(conn, t)
        conn.execute(sa.delete(t).where(t.c.name == name))
        conn.execute(
            sa.insert(t).values(
                name=name, source=mapping.source, body=mapping.to_toml(), saved_by=who, saved_at=store.utc_now()
            )
        )


def listed(engine: Engine) -> pl.DataFrame:
    """Every saved mapping: name, source, saved_by, saved_at."""
    columns = {"name": pl.String, "source": pl.String, "saved_by": pl.String, "saved_at": pl.Datetime("us")}
    with store.connect(engine) as conn:
        if not store.has_table(conn, t):
            return pl.DataFrame(schema=columns)
        return store.fetch_frame(conn, sa.select(t.c.name, t.c.source, t.c.saved_by, t.c.saved_at).order_by(t.c.name))


def body(engine: Engine, name: str) -> str | None:
    with store.connect(engine) as conn:
        if not store.has_table(conn, t):
            return None
        return conn.execute(sa.select(t.c.body).where(t.c.name == name)).scalar()


def remove(engine: Engine, name: str) -> int:
    with store.connect(engine, write=True) as conn:
        if not store.has_table(conn, t):
            return 0
        return store.delete_where(conn, t, t.c.name == name)


def resolve(engine: Engine | None, given: str) -> Mapping:
    """A mapping by ``given``: a TOML file's path, else a saved mapping's name, else a source's name (its preset)."""
    from data_access.sources.catalogue import BY_NAME

    path = Path(given)
    if path.suffix.lower() == ".toml" or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"No such mapping file: {given}")
        return Mapping.parse(path.read_text(encoding="utf-8"), path.name)
    text = body(engine, given) if engine is not None else None
    if text is not None:
        return Mapping.parse(text, given)
    if given in BY_NAME:
        return Mapping(given)
    raise MappingError(
        _("{name} is neither a mapping file, a saved mapping nor a source (sources: {known})").format(
            name=repr(given), known=", ".join(BY_NAME)
        )
    )
