"""What a funnel is asked for: its steps, window, exclusions and breakdowns, checked as typed, and the stages a funnel
can be made of."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema
from data_access.filters import Period
from data_access.i18n import _
from data_access.store import connect

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


DEFAULT_WINDOW = "90d"  # awareness to advocacy takes weeks to months


MIN_STEPS = 2


RETURNING = "new_vs_returning"  # the breakdown that is not a customer column


BREAKDOWNS = (*schema.FILTER_DIMENSIONS, RETURNING)


ev = schema.journey_events


fa = schema.funnel_attempts


cu = schema.customers


od = schema.orders


class FunnelError(ValueError):
    """A funnel that cannot be computed as asked (unknown stage, bad window, invalid exclusion)."""


def parse_window(text: str) -> int:
    """'15s', '90m', '12h', '30d', '2w' -> seconds."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text or "")
    if not found or int(found.group(1)) <= 0:
        raise FunnelError(
            _("Not a window: {text} (a positive number and a unit: 15s, 90m, 12h, 30d or 2w)").format(text=repr(text))
        )
    return int(found.group(1)) * UNITS[found.group(2)]


def format_window(seconds: int) -> str:
    for unit, size in sorted(UNITS.items(), key=lambda u: -u[1]):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Exclusion:
    stage_id: str
    after_step: int  # i, 0-based
    before_step: int  # j, 0-based

    @classmethod
    def parse(cls, text: str) -> Exclusion:
        """'X:i:j' with 0-based step indexes."""
        parts = text.rsplit(":", 2)
        if len(parts) != 3 or not parts[1].strip().isdigit() or not parts[2].strip().isdigit():
            raise FunnelError(
                _("Not an exclusion: {text} (STAGE:i:j with 0-based step indexes, e.g. support:1:3)").format(
                    text=repr(text)
                )
            )
        return cls(parts[0].strip(), int(parts[1]), int(parts[2]))

    def caption(self, steps: tuple[str, ...]) -> str:
        return _("without {stage} between {first} and {second}").format(
            stage=self.stage_id, first=steps[self.after_step], second=steps[self.before_step]
        )


@dataclass(frozen=True)
class FunnelSpec:
    steps: tuple[str, ...]
    window_seconds: int = parse_window(DEFAULT_WINDOW)
    exclusions: tuple[Exclusion, ...] = field(default_factory=tuple)

    def check(self, known_stages: list[str]) -> None:
        """Refuses a funnel that cannot be computed, with a message that says why."""
        if len(self.steps) < MIN_STEPS:
            raise FunnelError(_("A funnel needs at least {n} steps").format(n=MIN_STEPS))
        if len(set(self.steps)) != len(self.steps):
            raise FunnelError(_("Each stage can be a step only once"))
        unknown = [s for s in self.steps if s not in known_stages]
        if unknown:
            raise FunnelError(
                _("Unknown stage(s): {stages} (known: {known})").format(
                    stages=", ".join(unknown), known=", ".join(known_stages)
                )
            )
        for x in self.exclusions:
            where = _("exclusion {rule}").format(rule=f"{x.stage_id}:{x.after_step}:{x.before_step}")
            if x.stage_id not in known_stages:
                raise FunnelError(_("{where}: unknown stage {stage}").format(where=where, stage=x.stage_id))
            if x.stage_id in self.steps:
                raise FunnelError(
                    _("{where}: {stage} is a step of the funnel; exclude a stage that is not").format(
                        where=where, stage=x.stage_id
                    )
                )
            if x.after_step >= x.before_step:
                raise FunnelError(_("{where}: the first step must come before the second (i < j)").format(where=where))
            if x.before_step >= len(self.steps):
                raise FunnelError(
                    _("{where}: there is no step {step} (steps are 0..{last})").format(
                        where=where, step=x.before_step, last=len(self.steps) - 1
                    )
                )

    def caption(self) -> str:
        text = _("{steps}, window {window}").format(
            steps=" → ".join(self.steps), window=format_window(self.window_seconds)
        )
        for x in self.exclusions:
            text += f", {x.caption(self.steps)}"
        return text


def previous_period(period: Period) -> Period:
    """The period of equal length that ends where this one starts (needs both ends)."""
    if period.start is None or period.end is None:
        raise FunnelError("The previous period needs a period with a start and an end")
    return Period(period.start - (period.end - period.start), period.start, False)


def funnel_stages(conn: Connection) -> tuple[str, ...]:
    """The stages marked ``in_funnel``, in map order: the default funnel's steps."""
    s = schema.stages.c
    rows = conn.execute(sa.select(s.stage_id).where(s.in_funnel.is_(True)).order_by(s.position, s.stage_id))
    return tuple(str(r) for r in rows.scalars())


def default_steps(engine: Engine) -> tuple[str, ...]:
    with connect(engine) as conn:
        return funnel_stages(conn)


def stage_ids(engine: Engine) -> list[str]:
    s = schema.stages.c
    with connect(engine) as conn:
        return [str(r) for r in conn.execute(sa.select(s.stage_id).order_by(s.position, s.stage_id)).scalars()]


def checked_spec(
    engine: Engine, stages: tuple[str, ...] | None, window: str, exclusions: tuple[str, ...]
) -> FunnelSpec:
    """A spec from user input (``stages`` None = the map's funnel stages), checked against the store."""
    spec = FunnelSpec(
        stages if stages else default_steps(engine),
        parse_window(window),
        tuple(Exclusion.parse(x) for x in exclusions),
    )
    spec.check(stage_ids(engine))
    return spec
