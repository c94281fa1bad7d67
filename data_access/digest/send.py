"""The digest's delivery, run by ``notify run`` and ``notify schedule`` beside the alerts: each subscription is sent
once per period (its ISO week or its month) through the same delivery log (``notifications``, key
``digest:EVERY:SEGMENT``, channel ``email:ADDRESS``), so two runs at once, or a run every five minutes, send it once;
a failed send is tried again by the next run. Each recipient gets the Overview within their role and segment limit,
as the app would show it to them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import access, i18n, store
from data_access.delivery import EMAIL_PREFIX, NotifyConfig, NotifyError, claim, mark, period_key, send_email
from data_access.digest import book
from data_access.digest.compose import Digest, compose
from data_access.filters import EVERYONE, Filters


@dataclass(frozen=True)
class Sent:
    key: str  # digest:EVERY:SEGMENT
    period: str  # 2026-W49 or 2026-12
    channel: str  # email:ADDRESS
    status: str  # sent, failed, refused, already sent, error
    detail: str = ""


def key_of(every: str, segment: str) -> str:
    return f"digest:{every}:{segment or '*'}"[:64]


def run(
    engine: Engine, config: NotifyConfig, now: datetime | None = None, sleep: Callable[[float], None] = time.sleep
) -> list[Sent]:
    """Sends every subscription that has not been sent for its current period. ``engine`` must be able to write."""
    now = now or store.utc_now()
    with store.connect(engine) as conn:
        subs = book.listed(conn)
    if subs.height == 0:
        return []
    span = store.time_range(engine)
    made: dict[tuple, Digest] = {}  # recipients of the same digest (segment, limit, language, cadence) share one
    out = []
    for s in subs.iter_rows(named=True):
        key, period, channel = key_of(s["every"], s["segment"]), period_key(s["every"], now), EMAIL_PREFIX + s["email"]
        if span is None:
            out.append(Sent(key, period, channel, "error", "the store has no journey events yet"))
            continue
        if not claim(engine, key, period, channel, now):
            out.append(Sent(key, period, channel, "already sent"))
            continue
        status, detail = _send_one(engine, config, s, span[1].date(), made, sleep)
        mark(engine, key, period, channel, status, None if status == "sent" else detail, store.utc_now())
        out.append(Sent(key, period, channel, status, detail))
    return out


def _send_one(
    engine: Engine, config: NotifyConfig, sub: dict, last_day, made: dict[tuple, Digest], sleep
) -> tuple[str, str]:
    with store.connect(engine) as conn:
        recipient = access.recipient_of(conn, sub["email"])
    problem = book.refusal(recipient, sub["segment"])
    if problem:
        return "refused", problem
    scope = recipient.scope if recipient is not None else EVERYONE
    filters = Filters(segment=(sub["segment"],) if sub["segment"] else (), scope=scope)
    try:
        same = (filters, sub["lang"], sub["every"])
        if same not in made:
            with i18n.using(sub["lang"]):
                made[same] = compose(engine, filters, last_day, config.base_url, sub["every"])
        digest = made[same]
        send_email(config, sub["email"], digest.subject, digest.text, digest.html, sleep, images=digest.images)
    except NotifyError as exc:
        return "failed", str(exc)
    except (sa.exc.SQLAlchemyError, store.StoreError, ValueError) as exc:
        return "failed", str(exc).splitlines()[0]
    return "sent", digest.subject
