"""The audiences kept in the store (``audiences``): made, listed, read and removed, each rule checked (its
audiences known, no cycle, no deeper than two levels) before it is stored; and an audience's members at a time."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema, store
from data_access.audiences.compile import inline, members_query
from data_access.audiences.rules import Node, RuleError, parse, refs

t = schema.audiences
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Audience:
    key: str
    name: str
    owner: str
    rule: dict
    created_at: datetime | None = None


def _rows(conn: Connection) -> dict[str, Audience]:
    if not store.has_table(conn, t):
        return {}
    rows = conn.execute(sa.select(t.c.key, t.c.name, t.c.owner, t.c.rule, t.c.created_at)).all()
    return {str(k): Audience(str(k), str(n), str(o), json.loads(r), c) for k, n, o, r, c in rows}


def _resolver(known: dict[str, Audience]):
    def resolve(key: str) -> Node:
        if key not in known:
            raise RuleError(f"audience: unknown audience {key} (known: {', '.join(sorted(known)) or 'none'})")
        return parse(known[key].rule)

    return resolve


def checked(conn: Connection, audience: Audience) -> Audience:
    """The audience if its key, name and rule may be stored; :class:`RuleError` (with the bad part's path) if not."""
    if not KEY.match(audience.key or ""):
        raise RuleError(f"key: {audience.key!r} is not a key (lower case letters, digits, - and _; at most 64)")
    if not (audience.name or "").strip():
        raise RuleError("name: an audience needs a name")
    node = parse(audience.rule)
    known = {k: a for k, a in _rows(conn).items() if k != audience.key}
    inline(node, _resolver(known), (audience.key,))  # unknown audiences, cycles and depth, before anything is stored
    return audience


def add(engine: Engine, audience: Audience) -> Audience:
    """Stores (or replaces) the audience, checked first; nothing is stored when it is refused."""
    with store.connect(engine, write=True) as conn:
        store.ensure_table(conn, t)
        checked(conn, audience)
        conn.execute(sa.delete(t).where(t.c.key == audience.key))
        conn.execute(
            sa.insert(t).values(
                key=audience.key,
                name=audience.name.strip(),
                owner=audience.owner,
                rule=json.dumps(audience.rule, sort_keys=True),
                created_at=store.utc_now(),
            )
        )
    return audience


def listed(engine: Engine) -> list[Audience]:
    with store.connect(engine) as conn:
        return sorted(_rows(conn).values(), key=lambda a: a.key)


def get(engine: Engine, key: str) -> Audience:
    with store.connect(engine) as conn:
        known = _rows(conn)
    if key not in known:
        raise RuleError(f"audience: unknown audience {key} (known: {', '.join(sorted(known)) or 'none'})")
    return known[key]


def remove(engine: Engine, key: str) -> None:
    """Removes the audience; refused while another audience names it."""
    with store.connect(engine, write=True) as conn:
        known = _rows(conn)
        if key not in known:
            raise RuleError(f"audience: unknown audience {key}")
        users = sorted(k for k, a in known.items() if key in refs(parse(a.rule)))
        if users:
            raise RuleError(f"audience {key}: {', '.join(users)} name(s) it; remove or change them first")
        for table, column, what in (
            (schema.alert_audiences, "rule_id", "alert rule"),
            (schema.audience_subscriptions, "destination", "destination"),
        ):
            if store.has_table(conn, table):
                named = conn.execute(sa.select(table.c[column]).where(table.c.audience == key)).scalars().all()
                if named:
                    raise RuleError(f"audience {key}: {what} {', '.join(map(str, named))} uses it; remove that first")
        store.delete_where(conn, t, t.c.key == key)
        for table in (schema.audience_members, schema.audience_state):
            if store.has_table(conn, table):
                store.delete_where(conn, table, table.c.audience == key)


def members(engine: Engine, key: str, as_of: datetime) -> pl.DataFrame:
    """The audience's members at ``as_of``: customer_id, email, segment, plan."""
    with store.connect(engine) as conn:
        known = _rows(conn)
        resolve = _resolver(known)
        query = members_query(resolve(key), as_of, resolve).subquery("members")
        cu = schema.customers
        rows = sa.select(cu.c.customer_id, cu.c.email, cu.c.segment, cu.c.plan).where(
            cu.c.customer_id.in_(sa.select(query.c.customer_id))
        )
        return store.fetch_frame(conn, rows.order_by(cu.c.customer_id))


def preview(engine: Engine, rule: dict, as_of: datetime, segments: tuple[str, ...] = ()) -> int:
    """How many customers ``rule`` holds at ``as_of`` (of ``segments``, when given), checked as :func:`add` checks
    it; nothing is stored."""
    with store.connect(engine) as conn:
        known = _rows(conn)
        node = parse(rule)
        resolve = _resolver(known)
        inline(node, resolve)
        query = members_query(node, as_of, resolve).subquery("preview")
        count = sa.select(sa.func.count()).select_from(query)
        if segments:
            cu = schema.customers
            count = count.where(query.c.customer_id.in_(sa.select(cu.c.customer_id).where(cu.c.segment.in_(segments))))
        return int(conn.execute(count).scalar_one())
