"""The global filters: one object that every query accepts, that builds its WHERE clauses with bound
parameters and says in words what it selects (the caption shown under every chart)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from data_access import i18n, schema
from data_access.i18n import N_, _


class FilterError(ValueError):
    """A filter value that cannot be understood (a bad date, an empty period)."""


def to_utc_naive(value: datetime) -> datetime:
    """A timestamp as stored: UTC without tzinfo. An aware value is converted; a naive one is taken as UTC."""
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _parse(text: str) -> tuple[datetime, bool]:
    """(timestamp, had_a_time_part) from an ISO date or date-time."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time()), False
        return to_utc_naive(datetime.fromisoformat(raw)), True
    except ValueError as exc:
        raise FilterError(
            _("Not a date: {text} (use YYYY-MM-DD or an ISO date-time such as 2026-01-31T18:00)").format(
                text=repr(text)
            )
        ) from exc


@dataclass(frozen=True)
class Period:
    """A time range. ``start`` is inclusive. ``end`` is inclusive when ``end_inclusive`` (an instant was given),
    exclusive otherwise (a date was given: its end is the next midnight, exclusive)."""

    start: datetime | None = None
    end: datetime | None = None
    end_inclusive: bool = False

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None:
            empty = self.end < self.start if self.end_inclusive else self.end <= self.start
            if empty:
                raise FilterError(_("The period ends before it starts"))

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> Period:
        """``--from`` is the start of that day (or that instant); ``--to`` a date is the end of that day, a
        date-time is that instant; both inclusive."""
        lo = _parse(start)[0] if start else None
        if not end:
            return cls(lo, None)
        hi, instant = _parse(end)
        return cls(lo, hi if instant else hi + timedelta(days=1), instant)

    @classmethod
    def days(cls, first: date, last: date) -> Period:
        """Whole days, both inclusive."""
        return cls(datetime.combine(first, time()), datetime.combine(last + timedelta(days=1), time()))

    def clause(self, column: ColumnElement) -> ColumnElement[bool]:
        parts: list[ColumnElement[bool]] = []
        if self.start is not None:
            parts.append(column >= sa.bindparam(None, self.start, type_=schema.TIMESTAMP))
        if self.end is not None:
            parts.append(self.before_end(column))
        return sa.and_(sa.true(), *parts)

    def before_end(self, column: ColumnElement) -> ColumnElement[bool]:
        """``column`` at or before an inclusive end, before an exclusive one (true without an end)."""
        if self.end is None:
            return sa.true()
        bound = sa.bindparam(None, self.end, type_=schema.TIMESTAMP)
        return column <= bound if self.end_inclusive else column < bound

    @property
    def last_day(self) -> date | None:
        if self.end is None:
            return None
        if self.end_inclusive:
            return self.end.date()
        return (self.end - timedelta(microseconds=1)).date()

    def caption(self) -> str:
        if self.start is None and self.end is None:
            return _("all time")
        lo = i18n.day(self.start) if self.start else _("the beginning")
        last = self.last_day
        hi = i18n.day(last) if last else _("now")
        if self.end_inclusive and self.end is not None:
            hi = i18n.moment(self.end)
        return _("{start} to {end}").format(start=lo, end=hi)


@dataclass(frozen=True)
class Scope:
    """What the person looking may see, applied by every query whatever else is chosen: only the customers of
    ``segments`` (empty: every segment), and with ``masked`` their e-mails, names and comments masked
    (:data:`schema.PERSONAL_COLUMNS`). Part of :class:`Filters`, so it is part of every cache key too."""

    segments: tuple[str, ...] = ()
    masked: bool = False

    def caption(self) -> str:
        return _("your access: {segments} only").format(segments=i18n.either(self.segments)) if self.segments else ""


# the customer attributes as a caption or a label names them
DIMENSION_LABELS = {
    "segment": N_("segment"),
    "persona": N_("persona"),
    "channel": N_("channel"),
    "region": N_("region"),
    "plan": N_("plan"),
}


def dimension_label(dim: str) -> str:
    """A customer attribute's name in the current language ("channel", "канал")."""
    return _(DIMENSION_LABELS.get(dim, dim))


EVERYONE = Scope()  # no limit: the command line, and local mode


@dataclass(frozen=True)
class AudienceChoice:
    """An audience chosen as a filter: its members as of its last recompute (``audience_members``). Its name, size
    and the time of that recompute are part of it, so a recompute changes every cache key that holds it."""

    key: str
    name: str = ""
    members: int = 0
    computed_at: datetime | None = None

    def caption(self) -> str:
        """ "audience: At risk B2B, 412 customers, computed 10:05"."""
        when = i18n.moment(self.computed_at) if self.computed_at else _("never")
        return _("audience: {name}, {n} customers, computed {when}").format(
            name=self.name or self.key, n=i18n.number(self.members), when=when
        )


@dataclass(frozen=True)
class Filters:
    """Period plus customer attributes; an empty tuple means "any". Hashable, so it can key a cache. ``scope`` is
    the viewer's limit (:class:`Scope`): the attribute filters narrow within it, never beyond it."""

    period: Period = field(default_factory=Period)
    segment: tuple[str, ...] = ()
    persona: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    plan: tuple[str, ...] = ()
    scope: Scope = field(default_factory=Scope)
    audience: AudienceChoice | None = None  # narrows to an audience's members, within the scope

    def dimension_values(self) -> dict[str, tuple[str, ...]]:
        return {d: getattr(self, d) for d in schema.FILTER_DIMENSIONS if getattr(self, d)}

    def with_period(self, period: Period) -> Filters:
        return replace(self, period=period)

    def with_scope(self, scope: Scope) -> Filters:
        return replace(self, scope=scope)

    def with_audience(self, audience: AudienceChoice | None) -> Filters:
        return replace(self, audience=audience)

    def _members(self) -> sa.Select:
        am = schema.audience_members
        assert self.audience is not None
        return sa.select(am.c.customer_id).where(am.c.audience == self.audience.key, am.c.left_at.is_(None))

    def customer_conditions(self, columns: dict[str, ColumnElement] | None = None) -> list[ColumnElement[bool]]:
        """The conditions that select the filters' customers, the scope's segments included: on ``customers``, or on
        ``columns`` (a table's copies of the customer attributes by dimension, :func:`schema.stored_attributes`)."""
        c = columns or {d: schema.customers.c[d] for d in schema.FILTER_DIMENSIONS}
        chosen = [c[d].in_(values) for d, values in self.dimension_values().items()]
        if self.scope.segments:
            chosen.append(c["segment"].in_(self.scope.segments))
        return chosen

    def customer_clause(self, customer_column: ColumnElement) -> ColumnElement[bool]:
        """Restricts a table's customer column to the customers the attribute filters and the scope select: on a
        table that carries its customers' attributes (the facts and the derived tables), a predicate on those
        columns; on ``customers`` itself, on its own; elsewhere a semi-join on ``customers``."""
        members = [customer_column.in_(self._members())] if self.audience is not None else []
        own = schema.stored_attributes(getattr(customer_column, "table", None))
        if own is not None and customer_column.key == "customer_id":
            chosen = self.customer_conditions(own)
        else:
            chosen = self.customer_conditions()
            if chosen and not customer_column.compare(schema.customers.c.customer_id):  # not customers itself
                chosen = [customer_column.in_(sa.select(schema.customers.c.customer_id).where(*chosen))]
        return sa.and_(sa.true(), *chosen, *members)

    def where(self, time_column: ColumnElement, customer_column: ColumnElement) -> ColumnElement[bool]:
        """Period on ``time_column`` and the attribute filters on ``customer_column``."""
        return sa.and_(self.period.clause(time_column), self.customer_clause(customer_column))

    def customer_caption(self) -> str:
        """The attribute filters alone, in words: "B2C, channel = ads" or "all customers"."""
        parts = [f"{dimension_label(dim)} = {i18n.either(values)}" for dim, values in self.dimension_values().items()]
        if self.scope.segments:
            parts.append(self.scope.caption())
        if self.audience is not None:
            parts.append(self.audience.caption())
        return ", ".join(parts) if parts else _("all customers")

    def caption(self) -> str:
        parts = [", ".join(self.segment)] if self.segment else []
        parts.append(self.period.caption())
        for dim, values in self.dimension_values().items():
            if dim != "segment":
                parts.append(f"{dimension_label(dim)} = {i18n.either(values)}")
        if not self.segment:
            parts.insert(0, _("all segments") if not self.scope.segments else i18n.either(self.scope.segments))
        if self.audience is not None:
            parts.append(self.audience.caption())
        if self.scope.segments:
            parts.append(self.scope.caption())
        return ", ".join(parts)
