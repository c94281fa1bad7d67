"""Who receives the Overview by e-mail (``digest_subscriptions``): an address, how often (every week or month),
for one segment or all, in a language. Subscribing again replaces; the recipient's role and segment limit are
checked when it is sent (:mod:`.send`), and when it is made, so that a refusal is seen at once."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import access, i18n, schema, store
from data_access.access import Access
from data_access.i18n import _

ds = schema.digest_subscriptions
EVERY = schema.DIGEST_EVERY
COLUMNS = {
    "email": pl.String,
    "every": pl.String,
    "segment": pl.String,
    "lang": pl.String,
    "added_by": pl.String,
    "added_at": pl.Datetime("us"),
}


class DigestError(ValueError):
    """A subscription that cannot be made or removed, worded for the person asking."""


def refusal(recipient: Access | None, segment: str) -> str | None:
    """Why ``recipient`` (:func:`access.recipient_of`; None in a store with no grants) may not receive the digest
    of ``segment`` ("" for every segment); None: they may."""
    if recipient is None:
        return None
    if not recipient.may_open("overview"):
        return _("{email} may not open the Overview, so cannot receive its digest").format(email=recipient.email)
    if recipient.segments and segment not in recipient.segments and segment:
        return _("{email} may not see {segment} ({access})").format(
            email=recipient.email, segment=segment, access=recipient.caption()
        )
    return None


def subscribe(engine: Engine, email: str, every: str, segment: str, lang: str, by: Access) -> None:
    """Subscribes ``email`` to the digest. Editors (analysts, admins) may subscribe anyone; everyone else only their
    own address. A recipient who may not receive it is refused and nothing is stored."""
    email = access.normal_email(email)
    if every not in EVERY:
        raise DigestError(_("--every is one of: {choices}").format(choices=", ".join(EVERY)))
    if lang not in i18n.LANGUAGES:
        raise DigestError(_("--lang is one of: {choices}").format(choices=", ".join(i18n.LANGUAGES)))
    if email != by.email and not by.may(access.EDIT):
        raise DigestError(_("You can subscribe your own e-mail only; an analyst or admin adds others."))
    if by.segments and segment not in by.segments:
        raise DigestError(_("Your access covers {segments} only.").format(segments=i18n.either(by.segments)))
    with store.connect(engine, write=True) as conn:
        store.ensure_table(conn, ds)
        problem = refusal(access.recipient_of(conn, email), segment)
        if problem:
            raise DigestError(problem)
        known = access.known_segments(conn) if segment else []
        if segment and segment not in known:
            raise DigestError(
                _("Unknown segment {segment}: the customers have {known}").format(
                    segment=repr(segment), known=", ".join(known) or "–"
                )
            )
        key = sa.and_(ds.c.email == email, ds.c.every == every, ds.c.segment == segment)
        store.delete_where(conn, ds, key)
        conn.execute(
            sa.insert(ds).values(
                email=email, every=every, segment=segment, lang=lang, added_by=by.email, added_at=store.utc_now()
            )
        )
        access.write_audit(conn, by.email, "digest", email, f"subscribed every {every} {segment or 'all'} {lang}")


def unsubscribe(engine: Engine, email: str, by: Access, every: str | None = None, segment: str | None = None) -> int:
    """Removes ``email``'s subscriptions (only those of ``every`` and ``segment`` when given): one's own, or anyone's
    with the right to edit. Returns how many went; none is an error."""
    email = email.strip().lower()
    if email != by.email and not by.may(access.EDIT):
        raise DigestError(_("You can remove your own subscription only."))
    where = [ds.c.email == email]
    if every:
        where.append(ds.c.every == every)
    if segment is not None:
        where.append(ds.c.segment == segment)
    with store.connect(engine, write=True) as conn:
        store.ensure_table(conn, ds)
        gone = store.delete_where(conn, ds, sa.and_(*where))
        if not gone:
            raise DigestError(_("{email} receives no such digest").format(email=email))
        access.write_audit(conn, by.email, "digest", email, f"unsubscribed ({gone})")
    return gone


def listed(conn: Connection) -> pl.DataFrame:
    """Every subscription (:data:`COLUMNS`), by address."""
    if not store.has_table(conn, ds):
        return pl.DataFrame(schema=COLUMNS)
    stmt = sa.select(*(ds.c[c] for c in COLUMNS)).order_by(ds.c.email, ds.c.every, ds.c.segment)
    return store.fetch_frame(conn, stmt, COLUMNS)
