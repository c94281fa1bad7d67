"""Attempts: every first-step event starts one, and how far each gets within the window, in order and untainted by an
exclusion; read live from the journey events or from the stored ``funnel_attempts`` while that is current (the
derived table, rebuilt by :func:`refresh_attempts`). Each customer's *chosen* attempt is the furthest-reaching
untainted one, the earliest of those."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import schema
from data_access.filters import Filters
from data_access.queries.funnel.spec import DEFAULT_WINDOW, MIN_STEPS, FunnelSpec, ev, fa, funnel_stages, parse_window
from data_access.store import attributes, derived
from data_access.store.dialect import (
    ARG_MIN,
    CLICKHOUSE,
    WINDOW_FUNNEL,
    arg_min,
    epoch_ms,
    window_funnel,
)

_DEEPER = 10**13  # ms; more than any epoch-ms time until the year 2286, so depth outranks time in one key


def step_time(k: int) -> str:
    return f"t{k}"


def _step_events(
    stage_id: str, filters: Filters, name: str, within: sa.ColumnElement[bool] | None = None
) -> sa.Subquery:
    """The filters' events of one stage with their epoch ms (read straight from the table, so that the store
    can use the stage and the period to skip what it does not need); ``within`` narrows them further (a condition
    on the journey events)."""
    narrowed = () if within is None else (within,)
    return (
        sa.select(ev.c.customer_id, ev.c.occurred_at, epoch_ms(ev.c.occurred_at).label("ms"))
        .where(ev.c.stage_id == stage_id, filters.where(ev.c.occurred_at, ev.c.customer_id), *narrowed)
        .subquery(name)
    )


def _live_attempts(
    spec: FunnelSpec, filters: Filters, within: sa.ColumnElement[bool] | None = None, dialect: str = ""
) -> sa.Subquery:
    """Every attempt once per step it reached, from the raw events (``within``: of those events only):
    ``customer_id``, ``entered_at`` (timestamp of the first step), ``t0..t{K-1}`` (epoch ms of each step reached,
    null beyond ``depth``), ``depth`` (1..K)."""
    reached = _live_levels(spec, filters, within=within, dialect=dialect)
    never = sa.cast(sa.null(), sa.BigInteger)
    return sa.union_all(
        *(
            sa.select(
                a.c.customer_id,
                a.c.entered_at,
                *(a.c[step_time(i)] if i <= k else never.label(step_time(i)) for i in range(len(spec.steps))),
                sa.literal(k + 1).label("depth"),
            )
            for k, a in enumerate(reached)
        )
    ).subquery("attempts")


def _live_levels(
    spec: FunnelSpec,
    filters: Filters,
    *,
    every_time: bool = True,
    within: sa.ColumnElement[bool] | None = None,
    dialect: str = "",
) -> list[sa.CTE]:
    """Per step k, the attempts that reach it: ``customer_id``, ``t0`` (epoch ms of the first step), ``last``
    (epoch ms of step k) and, with ``every_time``, ``entered_at`` (timestamp of the first step) and ``t1..tk``.

    Attempts that reach step k are built from those that reach step k-1 by an inner join with the step's events
    (each step reads its own stage from the table, and the join sees only the attempts still going). An attempt is
    known by its customer and first-step time: attempts that start at the same instant are one.

    Each level is read twice (by the next level and by the caller): on ClickHouse, which runs a CTE again wherever
    it is read, the levels are ``MATERIALIZED`` (run once each)."""
    window_ms = spec.window_seconds * 1000

    def level(stmt: sa.Select, name: str) -> sa.CTE:
        cte = stmt.cte(name)
        return cte.prefix_with("MATERIALIZED") if dialect in CLICKHOUSE else cte

    first = _step_events(spec.steps[0], filters, "step_0", within)
    columns = [first.c.customer_id, first.c.ms.label(step_time(0)), first.c.ms.label("last")]
    if every_time:
        columns.insert(1, first.c.occurred_at.label("entered_at"))
    alive = level(sa.select(*columns), "attempt_0")
    reached = [alive]
    for k in range(1, len(spec.steps)):
        e = _step_events(spec.steps[k], filters, f"step_{k}", within)
        kept = [alive.c.customer_id, alive.c[step_time(0)]]
        if every_time:
            kept += [alive.c.entered_at, *(alive.c[step_time(i)] for i in range(1, k))]
        step = sa.func.min(e.c.ms)
        alive = level(
            sa.select(*kept, *([step.label(step_time(k))] if every_time else []), step.label("last"))
            .select_from(
                alive.join(
                    e,
                    sa.and_(
                        e.c.customer_id == alive.c.customer_id,
                        e.c.ms >= alive.c.last,
                        e.c.ms <= alive.c[step_time(0)] + window_ms,
                    ),
                )
            )
            .group_by(*kept),
            f"attempt_{k}",
        )
        reached.append(alive)
    return reached


def reach(spec: FunnelSpec, filters: Filters, dialect: str) -> sa.Subquery:
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


def _stored_attempts(spec: FunnelSpec, filters: Filters, carry: tuple[str, ...] = ()) -> sa.Subquery:
    """The same attempts read from ``funnel_attempts`` (one row per attempt, see :func:`refresh_attempts`): those
    whose first step is in the period and the filters, each cut where a step falls at or after the period's end.

    The stored chains were built from every event, which gives the same chain as the period's events alone: every
    later step is at or after the first (so after the period's start), and the earliest qualifying event beyond the
    period's end means that no event inside it qualified."""
    end = filters.period.end
    cut = None if end is None else sa.bindparam(None, _ms(end), type_=sa.BigInteger)

    def inside(k: int) -> sa.ColumnElement[bool]:
        step = fa.c[step_time(k)]
        return step.is_not(None) if cut is None else sa.and_(step.is_not(None), step < cut)

    k_steps = range(len(spec.steps))
    depth = sum((sa.case((inside(k), 1), else_=0) for k in k_steps), sa.literal(0))
    return (
        sa.select(
            fa.c.customer_id,
            fa.c.entered_at,
            *(sa.case((inside(k), fa.c[step_time(k)])).label(step_time(k)) for k in k_steps),
            depth.label("depth"),
            fa.c.single,
            *(fa.c[c] for c in carry),
        )
        .where(filters.where(fa.c.entered_at, fa.c.customer_id))
        .subquery("attempts")
    )


def chosen_attempts(
    spec: FunnelSpec, filters: Filters, *, stored: bool = False, dialect: str = "", carry: tuple[str, ...] = ()
) -> sa.Subquery | sa.CTE:
    """One row per customer in the funnel: ``customer_id``, ``depth`` (steps reached, 1..K), ``entered_at``
    (timestamp of the first step), ``t0..t{K-1}`` (epoch ms of each step reached, null beyond ``depth``): the
    customer's deepest untainted attempt, the earliest of those.

    ``stored``: read the attempts from ``funnel_attempts`` (only where :func:`attempts_stored` says so) instead of
    the raw events. There most customers have one attempt in all, which is then their chosen one; only the others
    are ranked (``dialect``: by one grouping where the database has ``arg_min``). A stored read can ``carry`` more
    of the attempts' columns, one value per customer (their copies of the customer's attributes): a breakdown by
    one then needs no join to ``customers``."""
    if not stored:
        return _ranked(_live_attempts(spec, filters), spec, filters)
    attempts = _stored_attempts(spec, filters, carry)
    names = ["customer_id", "depth", "entered_at", *(step_time(k) for k in range(len(spec.steps))), *carry]
    several = sa.select(attempts).where(attempts.c.single.is_(False)).subquery("several")
    chosen = _first_by_key(several, spec, carry) if dialect in ARG_MIN else _ranked(several, spec, filters, carry)
    return sa.union_all(
        sa.select(*(attempts.c[n] for n in names)).where(attempts.c.single.is_(True)),
        sa.select(*(chosen.c[n] for n in names)),
    ).cte("chosen_attempts")  # a CTE: computed once where a query reads it per step


def _first_by_key(attempts: sa.Subquery, spec: FunnelSpec, carry: tuple[str, ...] = ()) -> sa.Subquery:
    """Untainted attempts' choice by one grouping: the smallest key is the deepest attempt, then the earliest."""
    key = attempts.c[step_time(0)] - attempts.c.depth * _DEEPER
    return (
        sa.select(
            attempts.c.customer_id,
            sa.func.max(attempts.c.depth).label("depth"),
            sa.type_coerce(arg_min(attempts.c.entered_at, key), schema.TIMESTAMP).label("entered_at"),
            *(
                sa.type_coerce(arg_min(attempts.c[step_time(k)], key), sa.BigInteger).label(step_time(k))
                for k in range(len(spec.steps))
            ),
            *(sa.func.min(attempts.c[c]).label(c) for c in carry),
        )
        .group_by(attempts.c.customer_id)
        .subquery("first_by_key")
    )


def _ranked(attempts: sa.Subquery, spec: FunnelSpec, filters: Filters, carry: tuple[str, ...] = ()) -> sa.Subquery:
    """Per customer, the deepest untainted attempt, the earliest of those (see :func:`chosen_attempts`)."""
    window_ms = spec.window_seconds * 1000
    # Each exclusion marks the attempts with an excluded event in their span by an outer join and a grouping, not by
    # a correlated EXISTS (ClickHouse's correlated subqueries are not to be trusted with this one): grouped by all
    # of an attempt's columns, a row stays one row.
    flagged: sa.Subquery = attempts
    marks = []
    for i, x in enumerate(spec.exclusions):
        hit = _step_events(x.stage_id, filters, f"excluded_{x.stage_id}_{x.after_step}_{x.before_step}")
        after, before = flagged.c[step_time(x.after_step)], flagged.c[step_time(x.before_step)]
        inside = sa.and_(
            hit.c.customer_id == flagged.c.customer_id,
            hit.c.ms > after,
            sa.case((before.is_not(None), hit.c.ms < before), else_=hit.c.ms <= flagged.c[step_time(0)] + window_ms),
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
            order_by=(flagged.c.depth.desc(), flagged.c.tainted.asc(), flagged.c[step_time(0)].asc()),
        )
        .label("rank"),
    ).cte(f"ranked_{attempts.name}")
    columns = [ranked.c.customer_id, ranked.c.depth, ranked.c.entered_at]
    columns += [ranked.c[step_time(k)] for k in range(len(spec.steps))] + [ranked.c[c] for c in carry]
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


def how(conn: Connection, spec: FunnelSpec, filters: Filters) -> dict[str, Any]:
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
    # a customer's attempts depend on their events only: built a range of customers at a time, each bounded in
    # memory (at 10M customers DuckDB needs about 2 GB for 2M of them), each range's rows in time order
    times = [step_time(k) for k in range(len(spec.steps))]
    for customers in derived.customer_ranges(conn):
        attempts = _live_attempts(spec, Filters(), customers.on(ev.c.customer_id), conn.dialect.name)
        alone = sa.func.count().over(partition_by=attempts.c.customer_id) == 1  # over the grouped rows: the attempts
        rows = (
            sa.select(
                attempts.c.customer_id,
                attempts.c.entered_at,
                *(sa.func.max(attempts.c[t]).label(t) for t in times),
                sa.case((alone, True), else_=False).label("single"),
            )
            .group_by(attempts.c.customer_id, attempts.c.entered_at)
            .subquery("attempt_rows")
        )
        # each attempt with its customer's attributes
        names, stamped = attributes.with_copies(rows, customers.on(schema.customers.c.customer_id))
        # in the order of entered_at: DuckDB then skips whole row groups outside a period
        conn.execute(sa.insert(fa).from_select(names, stamped.order_by(rows.c.entered_at)))
    return derived.mark_built(conn, fa, _spec_key(spec))
