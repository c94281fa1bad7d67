"""Pushing an audience to a CRM: each entry and each exit sent once per destination (a ``[notify.webhooks.NAME]``),
as the Standard Webhooks envelope or Segment's track call.

What a destination was told is read from the messages made for it (``audience_pushes``): a customer it was sent in
more often than out is "in" there. After each recompute, :func:`enqueue` makes the messages that bring every
destination level with the membership, in SQL:

- a member the destination has out (or never had) is sent in, if they entered after the subscription's as-of time
  (or the subscription asked for a backfill);
- a customer it has in who is no longer a member is sent out once they have been out for the cooldown: one who
  leaves and comes back within it is never sent out, nor in again.

Each message has a stable id (destination, audience, customer, kind and the entry time of the stay), its body fixed
when it is made, and one row: a second run, a recompute with no change, or a retry never makes another.
:func:`deliver` sends what is pending, retrying 408, 429 and 5xx (honouring ``Retry-After``); a message still
failing is tried again on the next run, one refused (another 4xx) is not.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import delivery, schema, store
from data_access.audiences.book import _rows, get
from data_access.audiences.rules import RuleError
from data_access.delivery import NotifyConfig, NotifyError
from data_access.delivery.retry import Permanent
from data_access.filters import Filters
from data_access.queries import risk

sub, pu, am, st = schema.audience_subscriptions, schema.audience_pushes, schema.audience_members, schema.audience_state
cu, ev = schema.customers, schema.journey_events
DEFAULT_COOLDOWN = timedelta(days=1)
CHUNK = 2_000  # customers described per query when messages are made
MESSAGE_COLUMNS = {
    "webhook_id": pl.String,
    "destination": pl.String,
    "audience": pl.String,
    "customer_id": pl.String,
    "kind": pl.String,
    "stay_from": pl.Datetime("us"),
    "happened_at": pl.Datetime("us"),
    "body": pl.String,
    "created_at": pl.Datetime("us"),
    "status": pl.String,
    "attempts": pl.Int32,
}
EVENT_NAMES = {"entered": "Audience Entered", "exited": "Audience Exited"}


@dataclass(frozen=True)
class Subscription:
    audience: str
    destination: str
    since: datetime | None
    backfill: bool
    cooldown: timedelta
    segments: tuple[str, ...]
    created_by: str


@dataclass(frozen=True)
class Pushed:
    """What a push did: messages made, and of those tried, how many were sent, failed (tried again next run) or
    refused (not tried again)."""

    made: int = 0
    sent: int = 0
    failed: int = 0
    refused: int = 0


def webhook_id(destination: str, audience: str, customer_id: str, kind: str, stay_from: datetime) -> str:
    """The message's id: the same for the same entry or exit, however often it is made or tried."""
    raw = "\x1f".join((destination, audience, customer_id, kind, stay_from.isoformat()))
    return "msg_" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def _tables(conn: Connection) -> None:
    for table in (sub, pu):
        store.ensure_table(conn, table)


def subscribe(
    engine: Engine,
    config: NotifyConfig,
    audience: str,
    destination: str,
    *,
    backfill: bool = False,
    cooldown: timedelta = DEFAULT_COOLDOWN,
    segments: tuple[str, ...] = (),
    by: str = "",
) -> Subscription:
    """Sends the audience's entries and exits to ``destination`` from now on (with ``backfill``, its members now
    too). Refused, with nothing stored, for an unknown audience or destination or a negative cooldown."""
    get(engine, audience)
    if destination not in config.webhooks:
        known = ", ".join(sorted(config.webhooks)) or "none configured"
        raise RuleError(f"destination: no webhook {destination!r} in [notify.webhooks] (known: {known})")
    if cooldown < timedelta(0):
        raise RuleError("cooldown: must be 0 or more")
    with store.connect(engine, write=True) as conn:
        _tables(conn)
        since = None
        if store.has_table(conn, st):
            since = conn.execute(sa.select(st.c.as_of).where(st.c.audience == audience)).scalar_one_or_none()
        conn.execute(sa.delete(sub).where(sub.c.audience == audience, sub.c.destination == destination))
        conn.execute(
            sa.insert(sub).values(
                audience=audience,
                destination=destination,
                since=since,
                backfill=backfill,
                cooldown_seconds=int(cooldown.total_seconds()),
                segments=json.dumps(sorted(segments)),
                created_by=by,
                created_at=store.utc_now(),
            )
        )
    return Subscription(audience, destination, since, backfill, cooldown, tuple(sorted(segments)), by)


def unsubscribe(engine: Engine, audience: str, destination: str) -> None:
    with store.connect(engine, write=True) as conn:
        if not store.has_table(conn, sub) or not store.delete_where(
            conn, sub, sa.and_(sub.c.audience == audience, sub.c.destination == destination)
        ):
            raise RuleError(f"audience {audience} is not sent to {destination}")


def subscriptions(engine: Engine, audience: str | None = None) -> list[Subscription]:
    with store.connect(engine) as conn:
        return _subscriptions(conn, audience)


def _subscriptions(conn: Connection, audience: str | None = None) -> list[Subscription]:
    if not store.has_table(conn, sub):
        return []
    query = sa.select(sub).order_by(sub.c.audience, sub.c.destination)
    if audience is not None:
        query = query.where(sub.c.audience == audience)
    return [
        Subscription(
            r.audience,
            r.destination,
            r.since,
            bool(r.backfill),
            timedelta(seconds=int(r.cooldown_seconds)),
            tuple(json.loads(r.segments)),
            r.created_by,
        )
        for r in conn.execute(query).all()
    ]


def _due(conn: Connection, s: Subscription, as_of: datetime) -> pl.DataFrame:
    """The entries and exits ``s``'s destination has not been told of: customer_id, kind, stay_from, happened_at."""
    inside = sa.func.sum(sa.case((pu.c.kind == "entered", 1), else_=-1))
    told = (
        sa.select(
            pu.c.customer_id,
            inside.label("inside"),
            sa.func.max(sa.case((pu.c.kind == "entered", pu.c.stay_from))).label("stay_from"),
        )
        .where(pu.c.destination == s.destination, pu.c.audience == s.audience)
        .group_by(pu.c.customer_id)
        .subquery("told")
    )
    limit = [am.c.customer_id.in_(sa.select(cu.c.customer_id).where(cu.c.segment.in_(s.segments)))]
    new = [am.c.entered_at > schema.bound_time(s.since)] if s.since is not None and not s.backfill else []
    entries = (
        sa.select(
            am.c.customer_id,
            sa.literal("entered").label("kind"),
            am.c.entered_at.label("stay_from"),
            am.c.entered_at.label("happened_at"),
        )
        .select_from(am.outerjoin(told, told.c.customer_id == am.c.customer_id))
        .where(
            am.c.audience == s.audience,
            am.c.left_at.is_(None),
            sa.func.coalesce(told.c.inside, 0) <= 0,
            *new,
            *(limit if s.segments else ()),
        )
    )
    stays = (
        sa.select(
            am.c.customer_id,
            sa.func.max(am.c.left_at).label("left_at"),
            sa.func.sum(sa.case((am.c.left_at.is_(None), 1), else_=0)).label("open"),
        )
        .where(am.c.audience == s.audience)
        .group_by(am.c.customer_id)
        .subquery("stays")
    )
    left_at = sa.func.coalesce(stays.c.left_at, told.c.stay_from)  # a stay a rewind removed ends where it began
    exits = (
        sa.select(
            told.c.customer_id,
            sa.literal("exited").label("kind"),
            told.c.stay_from,
            left_at.label("happened_at"),
        )
        .select_from(told.outerjoin(stays, stays.c.customer_id == told.c.customer_id))
        .where(
            told.c.inside > 0,
            sa.func.coalesce(stays.c.open, 0) == 0,
            left_at <= schema.bound_time(as_of - s.cooldown),
        )
    )
    columns = {
        "customer_id": pl.String,
        "kind": pl.String,
        "stay_from": pl.Datetime("us"),
        "happened_at": pl.Datetime("us"),
    }
    return pl.concat([store.fetch_frame(conn, q, columns) for q in (entries, exits)])


def _described(conn: Connection, ids: list[str], as_of: datetime) -> dict[str, dict]:
    """Each customer's e-mail, segment and plan, risk score and reasons and latest stage, a chunk at a time."""
    out: dict[str, dict] = {}
    triggers = risk.Triggers()
    names = [n.replace(" ", "_") for n, _ in triggers.weights]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = conn.execute(
            sa.select(cu.c.customer_id, cu.c.email, cu.c.segment, cu.c.plan).where(cu.c.customer_id.in_(chunk))
        ).all()
        for cid, email, segment, plan in rows:
            out[str(cid)] = {"id": str(cid), "email": email, "segment": segment, "plan": plan}
        scored = risk.at_risk_query(Filters(), as_of, triggers).subquery("scored")
        for row in conn.execute(sa.select(scored).where(scored.c.customer_id.in_(chunk))).mappings():
            reasons = [n for (n, _), c in zip(triggers.weights, names, strict=True) if row[c]]
            out[str(row["customer_id"])] |= {"risk_score": int(row["score"]), "reasons": reasons}
        newest = (
            sa.select(ev.c.customer_id, sa.func.max(ev.c.occurred_at).label("at"))
            .where(ev.c.customer_id.in_(chunk), ev.c.occurred_at <= schema.bound_time(as_of))
            .group_by(ev.c.customer_id)
            .subquery("newest")
        )
        stage = sa.select(ev.c.customer_id, sa.func.min(ev.c.stage_id)).join(
            newest, sa.and_(newest.c.customer_id == ev.c.customer_id, newest.c.at == ev.c.occurred_at)
        )
        for cid, stage_id in conn.execute(stage.group_by(ev.c.customer_id)).all():
            out[str(cid)]["stage"] = stage_id
    return out


def body(
    shape: str, message_id: str, kind: str, at: datetime, audience: tuple[str, str], customer: dict, link: str
) -> dict:
    """The message as the destination takes it: the Standard Webhooks envelope or Segment's track call."""
    stamp = at.isoformat(timespec="seconds") + "Z"
    person = {k: customer.get(k) for k in ("id", "email", "segment", "plan")}
    context = {"risk_score": customer.get("risk_score", 0), "reasons": customer.get("reasons", [])}
    context["stage"] = customer.get("stage")
    if shape == "segment":
        return {
            "type": "track",
            "event": EVENT_NAMES[kind],
            "userId": person["id"],
            "messageId": message_id,
            "timestamp": stamp,
            "properties": {"audience_key": audience[0], "audience_name": audience[1], **context, "url": link},
            "context": {"traits": {k: v for k, v in person.items() if k != "id"}},
        }
    return {
        "type": f"audience.{kind}",
        "timestamp": stamp,
        "data": {
            "audience": {"key": audience[0], "name": audience[1]},
            "customer": person,
            "context": context,
            "url": link,
        },
    }


def enqueue(engine: Engine, config: NotifyConfig, audience: str | None = None) -> int:
    """Makes the messages every subscription (of ``audience``, or all) is due; returns how many. Nothing is made
    for a destination no longer configured (its messages wait until it is)."""
    made = 0
    with store.connect(engine, write=True) as conn:
        _tables(conn)
        if not store.has_table(conn, st):
            return 0
        names = {k: a.name for k, a in _rows(conn).items()}
        states = dict(conn.execute(sa.select(st.c.audience, st.c.as_of)).all())
        for s in _subscriptions(conn, audience):
            hook = config.webhooks.get(s.destination)
            if hook is None or s.audience not in states or s.audience not in names:
                continue
            as_of = states[s.audience]
            due = _due(conn, s, as_of)
            if due.height == 0:
                continue
            about = _described(conn, due["customer_id"].unique().to_list(), as_of)
            now = store.utc_now()
            rows = []
            for customer_id, kind, stay_from, happened_at in due.iter_rows():
                message = webhook_id(s.destination, s.audience, customer_id, kind, stay_from)
                link = f"{config.base_url.rstrip('/')}/churn_warning?customer={customer_id}"
                shaped = body(
                    hook.format,
                    message,
                    kind,
                    happened_at,
                    (s.audience, names[s.audience]),
                    about.get(customer_id, {"id": customer_id}),
                    link,
                )
                rows.append(
                    {
                        "webhook_id": message,
                        "destination": s.destination,
                        "audience": s.audience,
                        "customer_id": customer_id,
                        "kind": kind,
                        "stay_from": stay_from,
                        "happened_at": happened_at,
                        "body": json.dumps(shaped, default=str, ensure_ascii=False, sort_keys=True),
                        "created_at": now,
                        "status": "pending",
                        "attempts": 0,
                    }
                )
            known = set()
            ids = [r["webhook_id"] for r in rows]
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                known |= {
                    str(i) for i in conn.execute(sa.select(pu.c.webhook_id).where(pu.c.webhook_id.in_(chunk))).scalars()
                }
            fresh = [r for r in rows if r["webhook_id"] not in known]
            if fresh:
                store.bulk_insert(conn, pu, pl.DataFrame(fresh, schema=MESSAGE_COLUMNS))
            made += len(fresh)
    return made


def _claim(engine: Engine, message: str, now: datetime) -> bool:
    """Takes a pending or failed message (or one whose sender died) for this run."""
    stale = schema.bound_time(now - delivery.STALE_SENDING)
    ready = sa.or_(pu.c.status.in_(("pending", "failed")), sa.and_(pu.c.status == "sending", pu.c.sent_at < stale))
    with store.connect(engine, write=True) as conn:
        return (
            store.update_where(conn, pu, sa.and_(pu.c.webhook_id == message, ready), status="sending", sent_at=now) == 1
        )


def _mark(engine: Engine, message: str, status: str, error: str | None, attempts: int) -> None:
    with store.connect(engine, write=True) as conn:
        store.update_where(
            conn,
            pu,
            pu.c.webhook_id == message,
            status=status,
            error=error,
            sent_at=store.utc_now(),
            attempts=pu.c.attempts + attempts,
        )


def deliver(
    engine: Engine, config: NotifyConfig, sleep: Callable[[float], None] = time.sleep, batch: int = 500
) -> Pushed:
    """Sends every message that is pending, or failed on an earlier run, oldest first, to destinations that are
    configured."""
    sent = failed = refused = 0
    started = schema.bound_time(store.utc_now())
    while True:
        with store.connect(engine) as conn:
            if not store.has_table(conn, pu):
                return Pushed()
            ready = sa.or_(pu.c.status == "pending", sa.and_(pu.c.status == "failed", pu.c.sent_at < started))
            query = (
                sa.select(pu.c.webhook_id, pu.c.destination, pu.c.body)
                .where(ready, pu.c.destination.in_(sorted(config.webhooks)))
                .order_by(pu.c.created_at, pu.c.webhook_id)
                .limit(batch)
            )
            waiting = conn.execute(query).all()
        if not waiting:
            return Pushed(0, sent, failed, refused)
        for message, destination, text in waiting:
            if not _claim(engine, message, store.utc_now()):
                continue  # another run took it
            errors: list[str | None] = []
            try:
                delivery.send_standard(config, destination, message, text.encode(), sleep, errors.append)
            except NotifyError as exc:
                permanent = isinstance(exc.__cause__, Permanent)
                _mark(engine, message, "refused" if permanent else "failed", str(exc), len(errors))
                refused += permanent
                failed += not permanent
                continue
            _mark(engine, message, "sent", "; ".join(e for e in errors if e) or None, len(errors))
            sent += 1


def push(engine: Engine, config: NotifyConfig, sleep: Callable[[float], None] = time.sleep) -> Pushed:
    """Makes what every subscription is due, then sends everything waiting."""
    made = enqueue(engine, config)
    done = deliver(engine, config, sleep)
    return Pushed(made, done.sent, done.failed, done.refused)


def log(engine: Engine, audience: str | None = None, limit: int = 500, segments: tuple[str, ...] = ()) -> pl.DataFrame:
    """The messages, newest first: webhook_id, destination, audience, customer_id, kind, happened_at, status,
    attempts, sent_at, error (with ``segments``, of those segments' customers only)."""
    columns = {
        "webhook_id": pl.String,
        "destination": pl.String,
        "audience": pl.String,
        "customer_id": pl.String,
        "kind": pl.String,
        "happened_at": pl.Datetime("us"),
        "status": pl.String,
        "attempts": pl.Int64,
        "sent_at": pl.Datetime("us"),
        "error": pl.String,
    }
    with store.connect(engine) as conn:
        if not store.has_table(conn, pu):
            return pl.DataFrame(schema=columns)
        query = sa.select(*(pu.c[c] for c in columns)).order_by(pu.c.created_at.desc(), pu.c.webhook_id).limit(limit)
        if audience is not None:
            query = query.where(pu.c.audience == audience)
        if segments:
            query = query.where(pu.c.customer_id.in_(sa.select(cu.c.customer_id).where(cu.c.segment.in_(segments))))
        return store.fetch_frame(conn, query, columns)
