"""Ordered funnels computed from raw journey events, in the database (PostHog's ordered-funnel semantics).

1. Only events inside the period count, for every step.
2. Every event of the first step starts an attempt. The attempt reaches step k when events of steps 2..k follow in
   order, each at or after the previous one (equal timestamps are in order) and each no later than the attempt's
   first-step event plus the window (boundary included). The earliest qualifying event fills each step, which
   never reaches fewer steps than any other choice. Steps are distinct stages, so an event fills one step at most.
3. A customer counts once, at the furthest step any attempt reaches; counts are cumulative.
4. Exclusion (X, i, j): an attempt is tainted when an X event falls strictly after its step-i event and strictly
   before its step-j event, or, when it never reaches step j, strictly after step i and within the window.
   A customer whose furthest-reaching attempts are all tainted leaves the funnel.

Times are compared in whole milliseconds (``dialect.epoch_ms``). The customer's *chosen* attempt is the
furthest-reaching untainted one, the earliest of those; times to convert are read from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import i18n, metrics, schema
from data_access.access import masked
from data_access.filters import Filters, Period
from data_access.i18n import N_, _
from data_access.store import connect, contact_columns, derived, fetch_frame
from data_access.store.dialect import (
    ARG_MIN,
    WINDOW_FUNNEL,
    arg_min,
    constant_rows,
    epoch_ms,
    period_date,
    period_start,
    window_funnel,
)

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
DEFAULT_WINDOW = "90d"  # awareness to advocacy takes weeks to months
MIN_STEPS = 2
_DEEPER = 10**13  # ms; more than any epoch-ms time until the year 2286, so depth outranks time in one key
# Buckets of the time-to-convert histogram: (label, upper bound in seconds, exclusive); the last is open.
TIME_BUCKETS: tuple[tuple[str, float], ...] = (
    (N_("< 1 h"), 3_600),
    (N_("1-6 h"), 6 * 3_600),
    (N_("6-24 h"), 86_400),
    (N_("1-3 d"), 3 * 86_400),
    (N_("3-7 d"), 7 * 86_400),
    (N_("1-2 w"), 14 * 86_400),
    (N_("2-4 w"), 28 * 86_400),
    (N_("4 w +"), float("inf")),
)
MEDIAN = metrics.PERCENTILES[:1]  # p50 only
RETURNING = "new_vs_returning"  # the breakdown that is not a customer column
BREAKDOWNS = (*schema.FILTER_DIMENSIONS, RETURNING)
CLI_COLUMNS = (
    "stage_id",
    "customers",
    "conversion_from_previous",
    "conversion_from_first",
    "median_seconds_to_convert",
)

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


def _t(k: int) -> str:
    return f"t{k}"


def _step_events(stage_id: str, filters: Filters, name: str) -> sa.Subquery:
    """The filters' events of one stage with their epoch ms (read straight from the table, so that the store
    can use the stage and the period to skip what it does not need)."""
    return (
        sa.select(ev.c.customer_id, ev.c.occurred_at, epoch_ms(ev.c.occurred_at).label("ms"))
        .where(ev.c.stage_id == stage_id, filters.where(ev.c.occurred_at, ev.c.customer_id))
        .subquery(name)
    )


def _live_attempts(spec: FunnelSpec, filters: Filters) -> sa.Subquery:
    """Every attempt once per step it reached, from the raw events: ``customer_id``, ``entered_at`` (timestamp of the
    first step), ``t0..t{K-1}`` (epoch ms of each step reached, null beyond ``depth``), ``depth`` (1..K)."""
    reached = _live_levels(spec, filters)
    never = sa.cast(sa.null(), sa.BigInteger)
    return sa.union_all(
        *(
            sa.select(
                a.c.customer_id,
                a.c.entered_at,
                *(a.c[_t(i)] if i <= k else never.label(_t(i)) for i in range(len(spec.steps))),
                sa.literal(k + 1).label("depth"),
            )
            for k, a in enumerate(reached)
        )
    ).subquery("attempts")


def _live_levels(spec: FunnelSpec, filters: Filters, *, every_time: bool = True) -> list[sa.CTE]:
    """Per step k, the attempts that reach it: ``customer_id``, ``t0`` (epoch ms of the first step), ``last``
    (epoch ms of step k) and, with ``every_time``, ``entered_at`` (timestamp of the first step) and ``t1..tk``.

    Attempts that reach step k are built from those that reach step k-1 by an inner join with the step's events
    (each step reads its own stage from the table, and the join sees only the attempts still going). An attempt is
    known by its customer and first-step time: attempts that start at the same instant are one."""
    window_ms = spec.window_seconds * 1000
    first = _step_events(spec.steps[0], filters, "step_0")
    columns = [first.c.customer_id, first.c.ms.label(_t(0)), first.c.ms.label("last")]
    if every_time:
        columns.insert(1, first.c.occurred_at.label("entered_at"))
    alive = sa.select(*columns).cte("attempt_0")
    reached = [alive]
    for k in range(1, len(spec.steps)):
        e = _step_events(spec.steps[k], filters, f"step_{k}")
        kept = [alive.c.customer_id, alive.c[_t(0)]]
        if every_time:
            kept += [alive.c.entered_at, *(alive.c[_t(i)] for i in range(1, k))]
        step = sa.func.min(e.c.ms)
        alive = (
            sa.select(*kept, *([step.label(_t(k))] if every_time else []), step.label("last"))
            .select_from(
                alive.join(
                    e,
                    sa.and_(
                        e.c.customer_id == alive.c.customer_id,
                        e.c.ms >= alive.c.last,
                        e.c.ms <= alive.c[_t(0)] + window_ms,
                    ),
                )
            )
            .group_by(*kept)
            .cte(f"attempt_{k}")
        )
        reached.append(alive)
    return reached


def _reach(spec: FunnelSpec, filters: Filters, dialect: str) -> sa.Subquery:
    """One row per customer in the funnel: ``customer_id`` and ``depth``, the furthest step any of their attempts
    reaches (1..K). That is all the counts need when the funnel has no exclusion: no attempt has to be chosen.
    Where the database has an ordered-funnel aggregate (``WINDOW_FUNNEL``) it is one pass over each customer's
    events; elsewhere the deepest of the attempts each step keeps (:func:`_live_levels`)."""
    if dialect in WINDOW_FUNNEL:
        level = window_funnel(
            sa.literal(spec.window_seconds * 1000, sa.BigInteger, literal_execute=True),  # a constant parameter
            epoch_ms(ev.c.occurred_at),
            *(ev.c.stage_id == s for s in spec.steps),
        )
        per_customer = (
            sa.select(ev.c.customer_id, level.label("depth"))
            .where(ev.c.stage_id.in_(spec.steps), filters.where(ev.c.occurred_at, ev.c.customer_id))
            .group_by(ev.c.customer_id)
            .subquery("levels")
        )
        return sa.select(per_customer).where(per_customer.c.depth > 0).subquery("reach")
    levels = sa.union_all(
        *(
            sa.select(a.c.customer_id, sa.literal(k + 1).label("depth"))
            for k, a in enumerate(_live_levels(spec, filters, every_time=False))
        )
    ).subquery("levels")
    return (
        sa.select(levels.c.customer_id, sa.func.max(levels.c.depth).label("depth"))
        .group_by(levels.c.customer_id)
        .subquery("reach")
    )


def _stored_attempts(spec: FunnelSpec, filters: Filters) -> sa.Subquery:
    """The same attempts read from ``funnel_attempts`` (one row per attempt, see :func:`refresh_attempts`): those
    whose first step is in the period and the filters, each cut where a step falls at or after the period's end.

    The stored chains were built from every event, which gives the same chain as the period's events alone: every
    later step is at or after the first (so after the period's start), and the earliest qualifying event beyond the
    period's end means that no event inside it qualified."""
    end = filters.period.end
    cut = None if end is None else sa.bindparam(None, _ms(end), type_=sa.BigInteger)

    def inside(k: int) -> sa.ColumnElement[bool]:
        step = fa.c[_t(k)]
        return step.is_not(None) if cut is None else sa.and_(step.is_not(None), step < cut)

    k_steps = range(len(spec.steps))
    depth = sum((sa.case((inside(k), 1), else_=0) for k in k_steps), sa.literal(0))
    return (
        sa.select(
            fa.c.customer_id,
            fa.c.entered_at,
            *(sa.case((inside(k), fa.c[_t(k)])).label(_t(k)) for k in k_steps),
            depth.label("depth"),
            fa.c.single,
        )
        .where(filters.where(fa.c.entered_at, fa.c.customer_id))
        .subquery("attempts")
    )


def chosen_attempts(
    spec: FunnelSpec, filters: Filters, *, stored: bool = False, dialect: str = ""
) -> sa.Subquery | sa.CTE:
    """One row per customer in the funnel: ``customer_id``, ``depth`` (steps reached, 1..K), ``entered_at``
    (timestamp of the first step), ``t0..t{K-1}`` (epoch ms of each step reached, null beyond ``depth``): the
    customer's deepest untainted attempt, the earliest of those.

    ``stored``: read the attempts from ``funnel_attempts`` (only where :func:`attempts_stored` says so) instead of
    the raw events. There most customers have one attempt in all, which is then their chosen one; only the others
    are ranked (``dialect``: by one grouping where the database has ``arg_min``)."""
    if not stored:
        return _ranked(_live_attempts(spec, filters), spec, filters)
    attempts = _stored_attempts(spec, filters)
    names = ["customer_id", "depth", "entered_at", *(_t(k) for k in range(len(spec.steps)))]
    several = sa.select(attempts).where(attempts.c.single.is_(False)).subquery("several")
    chosen = _first_by_key(several, spec) if dialect in ARG_MIN else _ranked(several, spec, filters)
    return sa.union_all(
        sa.select(*(attempts.c[n] for n in names)).where(attempts.c.single.is_(True)),
        sa.select(*(chosen.c[n] for n in names)),
    ).cte("chosen_attempts")  # a CTE: computed once where a query reads it per step


def _first_by_key(attempts: sa.Subquery, spec: FunnelSpec) -> sa.Subquery:
    """Untainted attempts' choice by one grouping: the smallest key is the deepest attempt, then the earliest."""
    key = attempts.c[_t(0)] - attempts.c.depth * _DEEPER
    return (
        sa.select(
            attempts.c.customer_id,
            sa.func.max(attempts.c.depth).label("depth"),
            sa.type_coerce(arg_min(attempts.c.entered_at, key), schema.TIMESTAMP).label("entered_at"),
            *(
                sa.type_coerce(arg_min(attempts.c[_t(k)], key), sa.BigInteger).label(_t(k))
                for k in range(len(spec.steps))
            ),
        )
        .group_by(attempts.c.customer_id)
        .subquery("first_by_key")
    )


def _ranked(attempts: sa.Subquery, spec: FunnelSpec, filters: Filters) -> sa.Subquery:
    """Per customer, the deepest untainted attempt, the earliest of those (see :func:`chosen_attempts`)."""
    window_ms = spec.window_seconds * 1000
    # Each exclusion marks the attempts with an excluded event in their span by an outer join and a grouping, not by
    # a correlated EXISTS (ClickHouse's correlated subqueries are not to be trusted with this one): grouped by all
    # of an attempt's columns, a row stays one row.
    flagged: sa.Subquery = attempts
    marks = []
    for i, x in enumerate(spec.exclusions):
        hit = _step_events(x.stage_id, filters, f"excluded_{x.stage_id}_{x.after_step}_{x.before_step}")
        after, before = flagged.c[_t(x.after_step)], flagged.c[_t(x.before_step)]
        inside = sa.and_(
            hit.c.customer_id == flagged.c.customer_id,
            hit.c.ms > after,
            sa.case((before.is_not(None), hit.c.ms < before), else_=hit.c.ms <= flagged.c[_t(0)] + window_ms),
        )
        keep = list(flagged.c)
        flagged = (
            sa.select(*keep, sa.func.max(sa.case((hit.c.customer_id.is_not(None), 1), else_=0)).label(f"x{i}"))
            .select_from(flagged.outerjoin(hit, inside))
            .group_by(*keep)
            .subquery(f"flagged_{i}_{attempts.name}")
        )
        marks.append(f"x{i}")
    tainted = sa.case((sa.or_(*(flagged.c[m] > 0 for m in marks)), 1), else_=0) if marks else sa.literal(0)
    flagged = sa.select(flagged, tainted.label("tainted")).subquery(f"flagged_{attempts.name}")
    ranked = sa.select(
        flagged,
        sa.func.row_number()
        .over(
            partition_by=flagged.c.customer_id,
            order_by=(flagged.c.depth.desc(), flagged.c.tainted.asc(), flagged.c[_t(0)].asc()),
        )
        .label("rank"),
    ).cte(f"ranked_{attempts.name}")
    columns = [ranked.c.customer_id, ranked.c.depth, ranked.c.entered_at]
    columns += [ranked.c[_t(k)] for k in range(len(spec.steps))]
    return sa.select(*columns).where(ranked.c.rank == 1, ranked.c.tainted == 0).subquery("funnel_customers")


EPOCH = datetime(1970, 1, 1)


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


_SHAPE = 2  # the version of funnel_attempts' columns, part of what derived_state records


def _spec_key(spec: FunnelSpec) -> str:
    return f"{' > '.join(spec.steps)}, window {spec.window_seconds} s, shape {_SHAPE}"


def _whole_ms(moment: datetime | None) -> bool:
    return moment is None or moment.microsecond % 1000 == 0


def attempts_stored(conn: Connection, spec: FunnelSpec, filters: Filters) -> bool:
    """Whether this funnel can be read from ``funnel_attempts``: it was built for these steps and this window from
    the journey events as they are now (same row count and time range), the funnel has no exclusion, and the
    period's ends are whole milliseconds with an exclusive end (the stored times are whole milliseconds; the
    dashboard's periods are whole days). Otherwise the funnel is counted from the raw events, with the same result."""
    period = filters.period
    if spec.exclusions or len(spec.steps) > schema.FUNNEL_ATTEMPT_STEPS:
        return False
    if (period.end is not None and period.end_inclusive) or not (_whole_ms(period.start) and _whole_ms(period.end)):
        return False
    return derived.is_current(conn, fa, _spec_key(spec))


def _how(conn: Connection, spec: FunnelSpec, filters: Filters) -> dict[str, Any]:
    """The query builders' ``stored`` and ``dialect`` for this connection."""
    return {"stored": attempts_stored(conn, spec, filters), "dialect": conn.dialect.name}


def refresh_attempts(conn: Connection, spec: FunnelSpec | None = None) -> int:
    """Rebuilds ``funnel_attempts`` (on a connection in a write transaction): one row per attempt of ``spec`` (by
    default the default funnel: the stages marked ``in_funnel`` and the default window) over every journey event,
    with the time of each step it reaches; attempts of a customer that start at the same instant are one. Returns
    the rows written (0, and no table to read, when the default funnel has fewer than 2 or more than
    ``FUNNEL_ATTEMPT_STEPS`` steps)."""
    derived.recreate(conn, fa)
    if spec is None:
        spec = FunnelSpec(funnel_stages(conn), parse_window(DEFAULT_WINDOW))
    if not MIN_STEPS <= len(spec.steps) <= schema.FUNNEL_ATTEMPT_STEPS or spec.exclusions:
        return 0
    attempts = _live_attempts(spec, Filters())
    times = [_t(k) for k in range(len(spec.steps))]
    alone = sa.func.count().over(partition_by=attempts.c.customer_id) == 1  # over the grouped rows: the attempts
    rows = (
        sa.select(
            attempts.c.customer_id,
            attempts.c.entered_at,
            *(sa.func.max(attempts.c[t]).label(t) for t in times),
            sa.case((alone, True), else_=False).label("single"),
        )
        .group_by(attempts.c.customer_id, attempts.c.entered_at)
        .order_by(attempts.c.entered_at)  # DuckDB then skips whole row groups outside a period
    )
    conn.execute(sa.insert(fa).from_select(["customer_id", "entered_at", *times, "single"], rows))
    return derived.mark_built(conn, fa, _spec_key(spec))


def _breakdown_column(by: str, chosen: sa.Subquery, filters: Filters) -> sa.ColumnElement:
    if by == RETURNING:
        before = sa.exists().where(od.c.customer_id == chosen.c.customer_id)
        if filters.period.start is not None:
            before = before.where(od.c.ordered_at < sa.bindparam(None, filters.period.start, type_=schema.TIMESTAMP))
        return sa.case((before, "returning"), else_="new")
    return sa.select(cu.c[by]).where(cu.c.customer_id == chosen.c.customer_id).scalar_subquery()


def _reached(depth: sa.ColumnElement, steps: int) -> list[sa.Label]:
    """Per step k, how many rows have ``depth`` > k: the cumulative counts of the funnel."""
    return [sa.func.coalesce(metrics.count_if(depth >= k + 1), 0).label(f"step_{k}") for k in range(steps)]


def counts_query(
    spec: FunnelSpec, filters: Filters, by: str | None = None, *, stored: bool = False, dialect: str = ""
) -> sa.Select:
    """Customers reaching each step (cumulative), optionally per value of a breakdown."""
    if stored or spec.exclusions:
        chosen: sa.Subquery | sa.CTE = chosen_attempts(spec, filters, stored=stored, dialect=dialect)
    else:  # each customer's furthest step, without choosing an attempt
        chosen = _reach(spec, filters, dialect)
    if by is None:
        return sa.select(*_reached(chosen.c.depth, len(spec.steps)))
    if by not in BREAKDOWNS:
        raise FunnelError(
            _("Cannot break down by {by} (choose from {choices})").format(by=repr(by), choices=", ".join(BREAKDOWNS))
        )
    group = sa.func.coalesce(_breakdown_column(by, chosen, filters), "(none)").label("value")
    inner = sa.select(group, chosen.c.depth).subquery("with_value")
    return (
        sa.select(inner.c.value, *_reached(inner.c.depth, len(spec.steps)))
        .group_by(inner.c.value)
        .order_by(inner.c.value)
    )


def _steps_frame(spec: FunnelSpec, counts: list[int]) -> pl.DataFrame:
    frame = pl.DataFrame({"step": list(range(len(spec.steps))), "stage_id": list(spec.steps), "customers": counts})
    first = pl.col("customers").first()
    previous = pl.col("customers").shift(1)
    return frame.with_columns(
        metrics.percent(pl.col("customers"), previous).alias("conversion_from_previous"),
        metrics.percent(pl.col("customers"), first).alias("conversion_from_first"),
        (previous - pl.col("customers")).alias("dropped"),
    )


def steps(conn: Connection, spec: FunnelSpec, filters: Filters) -> pl.DataFrame:
    """One row per step: customers, conversion from the previous step and from the first (%), drop-off."""
    row = conn.execute(counts_query(spec, filters, **_how(conn, spec, filters))).one()
    return _steps_frame(spec, [int(v or 0) for v in row])


def breakdown(conn: Connection, spec: FunnelSpec, filters: Filters, by: str) -> pl.DataFrame:
    """Per value of ``by``: customers at each step (``step_0``..)."""
    frame = fetch_frame(conn, counts_query(spec, filters, by, **_how(conn, spec, filters)), {"value": pl.String})
    return frame.with_columns(
        pl.col("value").cast(pl.String), *(pl.col(f"step_{k}").cast(pl.Int64) for k in range(len(spec.steps)))
    )


def durations_query(
    spec: FunnelSpec, filters: Filters, dialect: str = "", *, first: bool = False, stored: bool = False
) -> sa.Select:
    """Seconds from step k-1 to step k on each customer's chosen attempt: median, p90 and histogram counts.
    ``first`` adds step 0 (every customer in the funnel, with a duration of 0), so that each step's ``n`` is the
    number of customers who reach it: the funnel's counts and times from one pass, without the histogram."""
    chosen = chosen_attempts(spec, filters, stored=stored, dialect=dialect)
    # the attempts are read once, each beside every step
    ks = range(0 if first else 1, len(spec.steps))
    each = constant_rows("each_step", ("step",), [(k,) for k in ks])
    at = sa.case(*((each.c.step == k, chosen.c[_t(k)]) for k in ks))
    ms = sa.case(*((each.c.step == k, chosen.c[_t(k)] - chosen.c[_t(k - 1)] if k else sa.literal(0)) for k in ks))
    gaps = (
        sa.select(each.c.step, sa.type_coerce(ms, sa.BigInteger).label("ms"))
        .select_from(chosen.join(each, sa.true()))
        .where(at.is_not(None))
        .subquery("gaps")
    )

    def buckets(ordered: sa.Subquery) -> list[sa.Label]:
        columns = []
        for i, (_label, upper) in enumerate(TIME_BUCKETS):
            inside = ordered.c.x < upper * 1000 if upper != float("inf") else sa.true()
            if i:
                inside = sa.and_(inside, ordered.c.x >= TIME_BUCKETS[i - 1][1] * 1000)
            columns.append(metrics.count_if(inside).label(f"bucket_{i}"))
        return columns

    # the histogram and the 90th percentile are the Funnel page's; counts and medians alone need neither
    if first:
        return metrics.percentile_query(gaps, ["step"], "ms", dialect=dialect, percentiles=MEDIAN).order_by("step")
    return metrics.percentile_query(gaps, ["step"], "ms", buckets, dialect).order_by("step")


def time_to_convert(conn: Connection, spec: FunnelSpec, filters: Filters) -> pl.DataFrame:
    """Per step k >= 1: n, median and p90 seconds from step k-1, and the histogram counts."""
    schema_ = {"step": pl.Int64, "n": pl.Int64, "p50_seconds": pl.Float64, "p90_seconds": pl.Float64}
    schema_ |= {f"bucket_{i}": pl.Int64 for i in range(len(TIME_BUCKETS))}
    raw = fetch_frame(conn, durations_query(spec, filters, **_how(conn, spec, filters)))
    if raw.height == 0:
        return pl.DataFrame(schema=schema_)
    done = metrics.with_percentiles(raw, scale=1000, suffix="_seconds")
    return done.select(pl.col(c).cast(t) for c, t in schema_.items())


def reach_and_time(conn: Connection, spec: FunnelSpec, filters: Filters) -> pl.DataFrame:
    """Per step: ``customers`` who reach it (as :func:`steps`) and ``p50_seconds`` from the step before (as
    :func:`time_to_convert`; null for the first step), from one pass over the chosen attempts."""
    raw = fetch_frame(conn, durations_query(spec, filters, first=True, **_how(conn, spec, filters)))
    frame = pl.DataFrame({"step": list(range(len(spec.steps))), "stage_id": list(spec.steps)})
    if raw.height == 0:
        return frame.with_columns(pl.lit(0, pl.Int64).alias("customers"), pl.lit(None, pl.Float64).alias("p50_seconds"))
    done = metrics.with_percentiles(raw, scale=1000, suffix="_seconds", percentiles=MEDIAN).select(
        pl.col("step").cast(pl.Int64),
        pl.col("n").cast(pl.Int64).alias("customers"),
        pl.when(pl.col("step") > 0).then(pl.col("p50_seconds").cast(pl.Float64)).alias("p50_seconds"),
    )
    return frame.join(done, on="step", how="left").with_columns(pl.col("customers").fill_null(0))


def over_time_query(
    spec: FunnelSpec, filters: Filters, grain: str, *, stored: bool = False, dialect: str = ""
) -> sa.Select:
    chosen = chosen_attempts(spec, filters, stored=stored, dialect=dialect)
    start = period_start(chosen.c.entered_at, grain).label("period")
    last = len(spec.steps)
    inner = sa.select(start, chosen.c.depth).subquery("by_period")
    return (
        sa.select(
            inner.c.period,
            sa.func.count().label("entered"),
            metrics.count_if(inner.c.depth >= last).label("converted"),
        )
        .group_by(inner.c.period)
        .order_by(inner.c.period)
    )


def over_time(conn: Connection, spec: FunnelSpec, filters: Filters, grain: str) -> pl.DataFrame:
    """By week or month of entering the first step (the chosen attempt's): entered, converted, share (%)."""
    raw = fetch_frame(conn, over_time_query(spec, filters, grain, **_how(conn, spec, filters)))
    if raw.height == 0:
        return pl.DataFrame(
            schema={"period": pl.Date, "entered": pl.Int64, "converted": pl.Int64, "conversion": pl.Float64}
        )
    return raw.select(
        period_date("period"),
        pl.col("entered").cast(pl.Int64),
        pl.col("converted").cast(pl.Int64),
    ).with_columns((100 * pl.col("converted") / pl.col("entered")).alias("conversion"))


def dropped_query(
    spec: FunnelSpec,
    filters: Filters,
    step: int,
    limit: int,
    *,
    stored: bool = False,
    dialect: str = "",
    contact: tuple[sa.ColumnElement, ...] = (),
) -> sa.Select:
    """Customers whose furthest step is ``step`` (they never reached the next one), with their attributes
    (``contact``: their e-mail and name, :func:`store.contact_columns`)."""
    chosen = chosen_attempts(spec, filters, stored=stored, dialect=dialect)
    return (
        sa.select(
            chosen.c.customer_id,
            *contact,
            *(cu.c[d] for d in schema.FILTER_DIMENSIONS),
            cu.c.signup_at,
            chosen.c.entered_at,
        )
        .join(cu, cu.c.customer_id == chosen.c.customer_id)
        .where(chosen.c.depth == step + 1)
        .order_by(chosen.c.customer_id)
        .limit(limit)
    )


def dropped(conn: Connection, spec: FunnelSpec, filters: Filters, step: int, limit: int) -> pl.DataFrame:
    if not 0 <= step < len(spec.steps) - 1:
        raise FunnelError(f"Step {step} has no next step to drop before")
    contact = tuple(contact_columns(conn))
    query = dropped_query(spec, filters, step, limit, contact=contact, **_how(conn, spec, filters))
    schema_overrides = {"customer_id": pl.String, "email": pl.String, "customer_name": pl.String}
    return masked(fetch_frame(conn, query, schema_overrides), filters.scope)


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


def report(engine: Engine, spec: FunnelSpec, filters: Filters) -> pl.DataFrame:
    """The command line's table: per step customers, conversions (%) and the median seconds from the step before."""
    with connect(engine) as conn:
        frame = steps(conn, spec, filters)
        timing = time_to_convert(conn, spec, filters)
    return frame.join(
        timing.select("step", pl.col("p50_seconds").alias("median_seconds_to_convert")), on="step", how="left"
    ).sort("step")


def biggest_leak(frame: pl.DataFrame, names: dict[str, str], who: str | None) -> str | None:
    """The step with the largest share lost, in words: "42% of B2C customers who reach Onboarding never reach
    Regular use" (``who``: the segments in words, None for all customers)."""
    lost = frame.with_columns((100 - pl.col("conversion_from_previous")).alias("lost")).filter(
        pl.col("lost").is_not_null()
    )
    if lost.height == 0:
        return None
    worst = lost.sort("lost", descending=True).row(0, named=True)
    before = frame.filter(pl.col("step") == worst["step"] - 1).row(0, named=True)
    words = (
        _("{share} of {who} customers who reach {reached} never reach {next} ({lost} of {of})")
        if who
        else _("{share} of all customers who reach {reached} never reach {next} ({lost} of {of})")
    )
    return words.format(
        share=i18n.percent(worst["lost"] / 100),
        who=who,
        reached=names.get(before["stage_id"], before["stage_id"]),
        next=names.get(worst["stage_id"], worst["stage_id"]),
        lost=i18n.number(before["customers"] - worst["customers"]),
        of=i18n.number(before["customers"]),
    )


def without_filter_on(filters: Filters, by: str) -> Filters:
    """The filters a breakdown runs on: a filter on the broken-down attribute itself is lifted, so that every
    group can be set against the rest."""
    return replace(filters, **{by: ()}) if by in schema.FILTER_DIMENSIONS else filters


def against_the_rest(frame: pl.DataFrame, last_step: int) -> pl.DataFrame:
    """Each breakdown value against all the other customers: conversion from the first step to the last, the
    difference in points, the two-proportion test's p-value and a verdict that is only a win or a loss when
    the difference is significant."""
    total_in, total_out = int(frame["step_0"].sum()), int(frame[f"step_{last_step}"].sum())
    rows = []
    for r in frame.iter_rows(named=True):
        n, k = int(r["step_0"]), int(r[f"step_{last_step}"])
        rest_n, rest_k = total_in - n, total_out - k
        p = metrics.two_proportion_p_value(k, n, rest_k, rest_n)
        share = 100 * k / n if n else None
        rest = 100 * rest_k / rest_n if rest_n else None
        diff = share - rest if share is not None and rest is not None else None
        significant = p is not None and p < metrics.SIGNIFICANCE_LEVEL
        verdict = N_("no clear difference") if not significant else (N_("higher") if diff > 0 else N_("lower"))
        rows.append((r["value"], n, k, share, rest, diff, p, significant, verdict))
    return pl.DataFrame(
        rows,
        schema={
            "value": pl.String,
            "entered": pl.Int64,
            "converted": pl.Int64,
            "conversion": pl.Float64,
            "rest_conversion": pl.Float64,
            "difference": pl.Float64,
            "p_value": pl.Float64,
            "significant": pl.Boolean,
            "verdict": pl.String,
        },
        orient="row",
    )
