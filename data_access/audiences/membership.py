"""Membership over time: each recompute compares an audience's members at its as-of time with the members on record,
writes who entered (a new row) and who left (``left_at`` set), and the time it was computed, in one transaction,
all in SQL. There is no "computing" flag that a recompute which died could leave behind: the store holds the last
recompute that landed, and says when."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import access, schema, store
from data_access.audiences.book import Audience, _resolver, _rows, add
from data_access.audiences.compile import members_query
from data_access.audiences.rules import RuleError
from data_access.filters import EVERYONE, AudienceChoice, Scope

log = logging.getLogger(__name__)
am, st = schema.audience_members, schema.audience_state


@dataclass(frozen=True)
class Change:
    audience: str
    entered: int
    left: int
    members: int


def recompute(engine: Engine, as_of: datetime, keys: tuple[str, ...] = ()) -> list[Change]:
    """Brings each audience's membership (the named ones, or all) up to ``as_of``."""
    changes = []
    with store.connect(engine, write=True) as conn:
        for table in (am, st):
            store.ensure_table(conn, table)
        known = _rows(conn)
        missing = [k for k in keys if k not in known]
        if missing:
            raise RuleError(f"audience: unknown audience {', '.join(missing)}")
        resolve = _resolver(known)
        for key in keys or tuple(sorted(known)):
            # the rule is evaluated twice (who left, who entered); the counts come from the membership's own rows
            now = members_query(resolve(key), as_of, resolve).subquery("now")
            _rewind(conn, key, as_of)
            on_record = sa.and_(am.c.audience == key, am.c.left_at.is_(None))
            current = sa.select(am.c.customer_id).where(on_record)
            before = int(conn.execute(sa.select(sa.func.count()).where(on_record)).scalar_one())
            left = store.update_where(
                conn,
                am,
                sa.and_(on_record, am.c.customer_id.not_in(sa.select(now.c.customer_id))),
                left_at=schema.bound_time(as_of),
            )
            # at the same as-of time again (after a load): one who left at it and is back reopens that stay
            gone_at_once = sa.and_(
                am.c.audience == key, am.c.entered_at == schema.bound_time(as_of), am.c.left_at.is_not(None)
            )
            if conn.execute(sa.select(sa.func.count()).where(gone_at_once)).scalar_one():
                back = sa.and_(gone_at_once, am.c.customer_id.in_(sa.select(now.c.customer_id)))
                store.update_where(conn, am, back, left_at=None)
            entering = sa.select(
                sa.literal(key).label("audience"), now.c.customer_id, schema.bound_time(as_of).label("entered_at")
            ).where(now.c.customer_id.not_in(current))
            conn.execute(sa.insert(am).from_select(["audience", "customer_id", "entered_at"], entering))
            members = int(conn.execute(sa.select(sa.func.count()).where(on_record)).scalar_one())
            entered = members - (before - left)
            conn.execute(sa.delete(st).where(st.c.audience == key))
            conn.execute(sa.insert(st).values(audience=key, as_of=as_of, computed_at=store.utc_now(), members=members))
            changes.append(Change(key, entered, left, members))
    return changes


def seeded(engine: Engine, entries: list[tuple[str, str, dict]]) -> list[Change]:
    """A sample store's audiences (key, name, rule), computed as of the end of its data."""
    for key, name, rule in entries:
        add(engine, Audience(key, name, "sample", rule))
    newest = store.freshness(engine)
    return recompute(engine, newest) if newest is not None else []


def _rewind(conn: sa.Connection, key: str, as_of: datetime) -> None:
    """Before a recompute earlier than the last one (``--as-of`` an earlier day): the membership as it stood at
    ``as_of``, so that history stays one line of stays per customer. Stays that began after it are dropped, and
    those that ended at or after it are open again."""
    last = conn.execute(sa.select(st.c.as_of).where(st.c.audience == key)).scalar_one_or_none()
    if last is None or as_of >= last:
        return
    at = schema.bound_time(as_of)
    store.delete_where(conn, am, sa.and_(am.c.audience == key, am.c.entered_at > at))
    store.update_where(conn, am, sa.and_(am.c.audience == key, am.c.left_at >= at), left_at=None)


def refresh(engine: Engine) -> list[Change]:
    """Every audience brought up to now, if the store has any: after each load, and on ``notify run``'s schedule
    (time passing alone moves people out of "the last 30 days"). A recompute that fails leaves the last one that
    landed, which says when it was made; the failure is logged, and the load that came before it stands."""
    with store.connect(engine) as conn:
        if not store.has_table(conn, schema.audiences):
            return []
        if conn.execute(sa.select(sa.func.count()).select_from(schema.audiences)).scalar_one() == 0:
            return []
    try:
        return recompute(engine, store.utc_now())
    except (RuleError, sa.exc.SQLAlchemyError, store.StoreError) as exc:
        log.warning("audiences were not recomputed: %s", exc)
        return []


def current(engine: Engine, key: str) -> tuple[pl.DataFrame, dict | None]:
    """The audience's members on record (customer_id, entered_at) and its last recompute (as_of, computed_at,
    members), or None before the first one."""
    with store.connect(engine) as conn:
        if not store.has_table(conn, st):
            return pl.DataFrame(schema={"customer_id": pl.String, "entered_at": pl.Datetime("us")}), None
        state = conn.execute(sa.select(st.c.as_of, st.c.computed_at, st.c.members).where(st.c.audience == key)).first()
        query = (
            sa.select(am.c.customer_id, am.c.entered_at)
            .where(am.c.audience == key, am.c.left_at.is_(None))
            .order_by(am.c.customer_id)
        )
        frame = store.fetch_frame(conn, query, {"customer_id": pl.String, "entered_at": pl.Datetime("us")})
    return frame, (dict(state._mapping) if state else None)


def daily(engine: Engine, key: str) -> pl.DataFrame:
    """How many entered and left the audience on each day. The database counts per recompute (its as-of time: a
    handful of values), the days are summed from those."""
    out = {"day": pl.Date, "entered": pl.Int64, "left": pl.Int64}
    with store.connect(engine) as conn:
        if not store.has_table(conn, am):
            return pl.DataFrame(schema=out)
        parts = []
        for column, name in ((am.c.entered_at, "entered"), (am.c.left_at, "left")):
            query = (
                sa.select(column.label("at"), sa.func.count().label("n"))
                .where(am.c.audience == key, column.is_not(None))
                .group_by(column)
            )
            frame = store.fetch_frame(conn, query, {"at": pl.Datetime("us"), "n": pl.Int64})
            parts.append(frame.group_by(pl.col("at").dt.date().alias("day")).agg(pl.col("n").sum().alias(name)))
    entered, left = parts
    return (
        entered.join(left, on="day", how="full", coalesce=True)
        .with_columns(pl.col("entered", "left").fill_null(0).cast(pl.Int64))
        .sort("day")
        .select(list(out))
    )


def choices(engine: Engine, scope: Scope = EVERYONE) -> list[AudienceChoice]:
    """The audiences that have been computed, as filters (name, members, when), by name. With a segment limit,
    the members are counted within it (a viewer learns nothing of the customers beyond it)."""
    au = schema.audiences
    with store.connect(engine) as conn:
        if not (store.has_table(conn, au) and store.has_table(conn, st)):
            return []
        rows = conn.execute(
            sa.select(au.c.key, au.c.name, st.c.members, st.c.computed_at)
            .join(st, st.c.audience == au.c.key)
            .order_by(au.c.name, au.c.key)
        ).all()
        counted = {}
        if scope.segments and rows:
            cu = schema.customers
            query = (
                sa.select(am.c.audience, sa.func.count())
                .join(cu, cu.c.customer_id == am.c.customer_id)
                .where(am.c.left_at.is_(None), cu.c.segment.in_(scope.segments))
                .group_by(am.c.audience)
            )
            counted = {str(k): int(n) for k, n in conn.execute(query).all()}
    return [
        AudienceChoice(str(k), str(n), counted.get(str(k), 0) if scope.segments else int(m or 0), c)
        for k, n, m, c in rows
    ]


def choice(engine: Engine, key: str) -> AudienceChoice:
    """The audience ``key`` as a filter; :class:`RuleError` when it is unknown or was never computed."""
    found = {c.key: c for c in choices(engine)}
    if key not in found:
        with store.connect(engine) as conn:
            known = _rows(conn)
        if key in known:
            raise RuleError(f"audience {key} has not been computed yet: run audiences recompute {key}")
        raise RuleError(f"audience: unknown audience {key} (known: {', '.join(sorted(known)) or 'none'})")
    return found[key]


def listed_members(engine: Engine, key: str, scope: Scope = EVERYONE, limit: int = 1_000) -> tuple[pl.DataFrame, int]:
    """The audience's members on record within the viewer's segment limit (customer_id, email, segment, plan,
    entered_at; e-mails masked as the scope says), at most ``limit`` of them, and how many there are in all."""
    cu = schema.customers
    where = [am.c.audience == key, am.c.left_at.is_(None)]
    if scope.segments:
        where.append(cu.c.segment.in_(scope.segments))
    joined = am.join(cu, cu.c.customer_id == am.c.customer_id)
    columns = {"customer_id": pl.String, "email": pl.String, "segment": pl.String, "plan": pl.String}
    with store.connect(engine) as conn:
        if not store.has_table(conn, am):
            return pl.DataFrame(schema=columns | {"entered_at": pl.Datetime("us")}), 0
        total = int(conn.execute(sa.select(sa.func.count()).select_from(joined).where(*where)).scalar_one())
        email = store.contact_columns(conn)[0]
        query = (
            sa.select(am.c.customer_id, email, cu.c.segment, cu.c.plan, am.c.entered_at)
            .select_from(joined)
            .where(*where)
            .order_by(am.c.entered_at.desc(), am.c.customer_id)
            .limit(limit)
        )
        frame = store.fetch_frame(conn, query, columns | {"entered_at": pl.Datetime("us")})
    return access.masked(frame, scope), total
