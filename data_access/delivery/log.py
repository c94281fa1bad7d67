"""The delivery log (``notifications``): each (key, period, channel) is sent once, however often a run runs and
however many run at once. A delivery is claimed (a row committed before sending), then marked sent, failed or
refused; a failed one, or one whose run died, is claimed again by a later run."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema, store

nt = schema.notifications
EMAIL_PREFIX, WEBHOOK_PREFIX = "email:", "webhook:"  # a channel: email:ADDRESS or webhook:NAME
STALE_SENDING = timedelta(minutes=15)  # a delivery claimed this long ago by a process that died may be retried


def period_key(period: str, day: datetime) -> str:
    """The log's name of the calendar ``period`` ("week" or "month") holding ``day``: 2026-W43 (ISO week), 2026-10."""
    if period == "week":
        year, week, _day = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day:%Y-%m}"


def _key(rule_id: str, period: str, channel: str) -> sa.ColumnElement[bool]:
    return sa.and_(nt.c.rule_id == rule_id, nt.c.period == period, nt.c.channel == channel)


def claim(engine: Engine, rule_id: str, period: str, channel: str, now: datetime) -> bool:
    """Takes the delivery of (rule, period, channel) for this run: True when this run is to send it. A delivery
    already sent, or being sent by another run, is not taken; a failed or refused one, or one whose run died
    (sending for longer than :data:`STALE_SENDING`), is taken again. The row is committed before sending,
    so that a second run sees it (a race for a new row is settled by the primary key)."""
    try:
        with store.connect(engine, write=True) as conn:
            store.ensure_table(conn, nt)
            if conn.execute(sa.select(nt.c.status).where(_key(rule_id, period, channel))).first() is None:
                conn.execute(
                    sa.insert(nt).values(
                        rule_id=rule_id, period=period, channel=channel, sent_at=now, status="sending", attempts=1
                    )
                )
                return True
    except sa.exc.IntegrityError:
        pass  # another run inserted it first
    except store.StoreError as exc:
        if not isinstance(exc.__cause__, sa.exc.IntegrityError):
            raise
    stale = sa.bindparam(None, now - STALE_SENDING, type_=schema.TIMESTAMP)
    retry = sa.or_(nt.c.status.in_(("failed", "refused")), sa.and_(nt.c.status == "sending", nt.c.sent_at < stale))
    with store.connect(engine, write=True) as conn:
        taken = store.update_where(
            conn,
            nt,
            sa.and_(_key(rule_id, period, channel), retry),
            status="sending",
            sent_at=now,
            attempts=nt.c.attempts + 1,
            error=None,
        )
    return taken == 1


def mark(
    engine: Engine, rule_id: str, period: str, channel: str, status: str, error: str | None, now: datetime
) -> None:
    with store.connect(engine, write=True) as conn:
        conn.execute(
            sa.update(nt).where(_key(rule_id, period, channel)).values(status=status, error=error, sent_at=now)
        )


def entries(conn: Connection, limit: int = 500) -> pl.DataFrame:
    """The delivery log, newest first: rule_id, period, channel, sent_at, status, attempts, error."""
    columns = {
        "rule_id": pl.String,
        "period": pl.String,
        "channel": pl.String,
        "sent_at": pl.Datetime("us"),
        "status": pl.String,
        "attempts": pl.Int64,
        "error": pl.String,
    }
    if not store.has_table(conn, nt):
        return pl.DataFrame(schema=columns)
    stmt = sa.select(*(nt.c[c] for c in columns)).order_by(nt.c.sent_at.desc(), nt.c.rule_id).limit(limit)
    return store.fetch_frame(conn, stmt, columns)
