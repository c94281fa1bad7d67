"""Who may see what: the four roles and their pages, grants in ``access_grants`` (and roles from the sign-in
token's claim), a viewer's :class:`Access` and the :class:`~data_access.filters.Scope` every query applies, the
masking of customers' personal data, and the audit log. Deny by default: no grant, no page.

A person's grants add up: their pages and rights are those of every role they hold, and their segment limit is
the union of their grants' segments; a grant without a segment lifts the limit."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import i18n, pages, schema, store
from data_access.filters import Scope
from data_access.i18n import _

ag, al = schema.access_grants, schema.audit_log
ROLES = schema.ROLES
LEADERSHIP, SUPPORT_LEAD, ANALYST, ADMIN = ROLES

PAGES = pages.KEYS  # every page of the app, by key: data_access/pages.py lists them and who may open each
ROLE_PAGES: dict[str, frozenset[str]] = {role: pages.pages_of(role) for role in ROLES}
# what a role may do beyond looking
EDIT = "edit"  # journey maps, targets, review notes, saved reviews and alert rules
LOAD = "load"  # upload and ingest data
GRANT = "grant"  # grant and revoke roles, read the audit log
PERSONAL = "personal"  # customers' e-mails, names and comments unmasked (within the segment limit)
ROLE_RIGHTS: dict[str, frozenset[str]] = {
    LEADERSHIP: frozenset(),
    SUPPORT_LEAD: frozenset({PERSONAL}),
    ANALYST: frozenset({EDIT, PERSONAL}),
    ADMIN: frozenset({EDIT, LOAD, GRANT, PERSONAL}),
}
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;.]+$")
LOCAL_USER = "local"  # who the audit log names in local mode (sign-in off)


class AccessError(ValueError):
    """A grant or revoke that cannot be done (a bad role, e-mail or segment), worded for the person typing it."""


@dataclass(frozen=True)
class Access:
    """What one person may see and do: their roles and their segment limit (empty: every segment)."""

    email: str
    roles: frozenset[str] = frozenset()
    segments: tuple[str, ...] = ()

    @classmethod
    def local(cls) -> Access:
        """Local mode (sign-in off): the single user of the machine may do everything."""
        return cls(LOCAL_USER, frozenset({ADMIN}))

    @property
    def pages(self) -> frozenset[str]:
        return frozenset().union(*(ROLE_PAGES[r] for r in self.roles)) if self.roles else frozenset()

    def may_open(self, page: str) -> bool:
        return page in self.pages

    def may(self, right: str) -> bool:
        return any(right in ROLE_RIGHTS[r] for r in self.roles)

    @property
    def scope(self) -> Scope:
        """The limit every query of this person's pages carries."""
        return Scope(segments=self.segments, masked=not self.may(PERSONAL))

    def caption(self) -> str:
        roles = ", ".join(r for r in ROLES if r in self.roles) or _("no role")
        only = _("{segments} only").format(segments=i18n.either(self.segments)) if self.segments else ""
        return f"{self.email} · {roles}" + (f" · {only}" if only else "")


def combine(email: str, grants: Iterable[tuple[str, str]]) -> Access:
    """An :class:`Access` from (role, segment) pairs; unknown roles are ignored (deny by default)."""
    pairs = [(r, s) for r, s in grants if r in ROLES]
    roles = frozenset(r for r, _ in pairs)
    segments = {s for _, s in pairs}
    unlimited = not pairs or schema.ALL_SEGMENTS in segments or any(not s for s in segments)
    return Access(email, roles, () if unlimited else tuple(sorted(segments)))


def normal_email(email: str) -> str:
    """An e-mail as grants store it (trimmed, lower case), or :class:`AccessError` when it is not one."""
    clean = (email or "").strip().lower()
    if not _EMAIL.match(clean) or len(clean) > ag.c.email.type.length:
        raise AccessError(
            _("Not an e-mail address: {email} (expected e.g. jane.doe@example.com)").format(email=repr(email))
        )
    return clean


def checked_role(role: str) -> str:
    if role not in ROLES:
        raise AccessError(
            _("Unknown role {role}: choose one of {roles}").format(role=repr(role), roles=", ".join(ROLES))
        )
    return role


def claim_grants(claims: Mapping[str, object], claim: str | None, mapping: Mapping[str, str]) -> list[tuple[str, str]]:
    """(role, segment) pairs from the sign-in token: each group named in the ``claim`` (a list or one string) that
    ``mapping`` turns into ``role`` or ``role:segment``. Unknown groups and roles give nothing."""
    if not claim:
        return []
    raw = claims.get(claim)
    groups = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list | tuple) else []
    out = []
    for group in groups:
        target = mapping.get(str(group))
        if not target:
            continue
        role, _, segment = str(target).partition(":")
        if role in ROLES:
            out.append((role, segment.strip() or schema.ALL_SEGMENTS))
    return out


def grants_of(conn: Connection, email: str) -> list[tuple[str, str]]:
    """The (role, segment) grants of one e-mail (none when the table does not exist yet)."""
    if not store.has_table(conn, ag):
        return []
    rows = conn.execute(sa.select(ag.c.role, ag.c.segment).where(ag.c.email == email.strip().lower()))
    return [(str(r), str(s)) for r, s in rows]


def recipient_of(conn: Connection, email: str) -> Access | None:
    """``email``'s access by the store's grants; None when the store has no grant at all (local mode, where
    everyone may receive every rule)."""
    if not store.has_table(conn, schema.access_grants):
        return None
    if conn.execute(sa.select(schema.access_grants.c.email).limit(1)).first() is None:
        return None
    return combine(email, grants_of(conn, email))


def access_for(engine: Engine, email: str, extra: Iterable[tuple[str, str]] = ()) -> Access:
    """The access of a signed-in e-mail: its grants in the store plus ``extra`` (from the token's claim)."""
    with store.connect(engine) as conn:
        found = grants_of(conn, email)
    return combine(email.strip().lower(), [*found, *extra])


def grants(conn: Connection) -> pl.DataFrame:
    """Every grant: email, role, segment, granted_by, granted_at."""
    columns = {"email": pl.String, "role": pl.String, "segment": pl.String, "granted_by": pl.String}
    columns |= {"granted_at": pl.Datetime("us")}
    if not store.has_table(conn, ag):
        return pl.DataFrame(schema=columns)
    stmt = sa.select(ag.c.email, ag.c.role, ag.c.segment, ag.c.granted_by, ag.c.granted_at).order_by(
        ag.c.email, ag.c.role, ag.c.segment
    )
    return store.fetch_frame(conn, stmt, columns)


def known_segments(conn: Connection) -> list[str]:
    c = schema.customers.c
    if not store.has_table(conn, schema.customers):
        return []
    rows = conn.execute(sa.select(c.segment).where(c.segment.is_not(None)).distinct().order_by(c.segment))
    return [str(v) for v in rows.scalars()]


def grant(engine: Engine, email: str, role: str, segment: str | None, by: str) -> str:
    """Grants ``role`` (limited to ``segment``, if given) to ``email``, records it in the audit log, and returns what
    was done in words. A bad e-mail, role or segment is refused with :class:`AccessError` and changes nothing."""
    who, role = normal_email(email), checked_role(role)
    limit = (segment or "").strip() or schema.ALL_SEGMENTS
    with store.connect(engine, write=True) as conn:
        store.ensure_table(conn, ag)
        if limit != schema.ALL_SEGMENTS:
            known = known_segments(conn)
            if limit not in known:
                raise AccessError(
                    _("Unknown segment {segment}: the customers have {known}").format(
                        segment=repr(limit),
                        known=", ".join(known) if known else _("no segments yet (load the customers first)"),
                    )
                )
        conn.execute(sa.delete(ag).where(ag.c.email == who, ag.c.role == role, ag.c.segment == limit))
        conn.execute(
            sa.insert(ag).values(email=who, role=role, segment=limit, granted_by=by, granted_at=store.utc_now())
        )
        what = f"{role}" + ("" if limit == schema.ALL_SEGMENTS else f" for {limit} only")
        write_audit(conn, by, "grant", who, what)
    if limit == schema.ALL_SEGMENTS:
        return _("Granted {role} to {email}.").format(role=role, email=who)
    return _("Granted {role} for {segment} only to {email}.").format(role=role, segment=limit, email=who)


def revoke(engine: Engine, email: str, role: str, by: str, segment: str | None = None) -> str:
    """Revokes ``role`` from ``email`` (every segment's grant of it, or only ``segment``'s); refuses a bad e-mail or
    role and a grant that does not exist (:class:`AccessError`)."""
    who, role = normal_email(email), checked_role(role)
    with store.connect(engine, write=True) as conn:
        store.ensure_table(conn, ag)
        which = sa.and_(ag.c.email == who, ag.c.role == role)
        if segment:
            which = sa.and_(which, ag.c.segment == segment.strip())
        gone = store.delete_where(conn, ag, which)
        if not gone:
            raise AccessError(
                _("{email} has no {role} grant for {segment}").format(email=who, role=role, segment=segment)
                if segment
                else _("{email} has no {role} grant").format(email=who, role=role)
            )
        write_audit(conn, by, "revoke", who, role + (f" for {segment}" if segment else ""))
    if segment:
        return _("Revoked {role} for {segment} from {email}.").format(role=role, segment=segment, email=who)
    return _("Revoked {role} from {email}.").format(role=role, email=who)


# --- the audit log -------------------------------------------------------------------------------------------------

AUDITED = ("sign-in", "grant", "revoke", "upload", "edit", "save", "export", "alert", "audience", "digest")


def write_audit(conn: Connection, who: str, action: str, object_: str, detail: str | None = None) -> None:
    """Writes one audit entry on a connection in a write transaction (with the change it records)."""
    store.ensure_table(conn, al)
    conn.execute(
        sa.insert(al).values(
            entry_id=uuid.uuid4().hex,
            logged_at=store.utc_now(),
            who=who[: al.c.who.type.length],
            action=action,
            object=object_[: al.c.object.type.length],
            detail=detail,
        )
    )


def record(engine: Engine, who: str, action: str, object_: str, detail: str | None = None) -> None:
    """Writes one audit entry in a transaction of its own."""
    if action not in AUDITED:
        raise ValueError(f"Not an audited action: {action!r}")
    with store.connect(engine, write=True) as conn:
        write_audit(conn, who, action, object_, detail)


def audit(conn: Connection, since: datetime | None = None, limit: int | None = None) -> pl.DataFrame:
    """The audit log from ``since`` (inclusive), newest first: logged_at, who, action, object, detail."""
    columns = {"logged_at": pl.Datetime("us"), "who": pl.String, "action": pl.String, "object": pl.String}
    columns |= {"detail": pl.String}
    if not store.has_table(conn, al):
        return pl.DataFrame(schema=columns)
    stmt = sa.select(al.c.logged_at, al.c.who, al.c.action, al.c.object, al.c.detail).order_by(al.c.logged_at.desc())
    if since is not None:
        stmt = stmt.where(al.c.logged_at >= sa.bindparam(None, since, type_=schema.TIMESTAMP))
    if limit:
        stmt = stmt.limit(limit)
    return store.fetch_frame(conn, stmt, columns)


# --- masking -------------------------------------------------------------------------------------------------------

MASK = "***"


def masked(frame: pl.DataFrame, scope: Scope) -> pl.DataFrame:
    """``frame`` with its personal columns (:data:`schema.PERSONAL_COLUMNS`) masked when the scope says so: an
    e-mail keeps its first letter and its domain (``j***@example.com``), a name its first letter, a comment is
    replaced. Empty values stay empty, so that "has a comment" still shows."""
    if not scope.masked:
        return frame
    rules = {
        "email": pl.col("email").cast(pl.String).str.replace(r"^(.)[^@]*", "${1}" + MASK),
        "customer_name": pl.col("customer_name").cast(pl.String).str.replace(r"^(.).*$", "${1}" + MASK),
        "comment": pl.when(pl.col("comment").is_not_null()).then(pl.lit(MASK)).otherwise(pl.lit(None, pl.String)),
    }
    return frame.with_columns(rules[c].alias(c) for c in schema.PERSONAL_COLUMNS if c in frame.columns)
