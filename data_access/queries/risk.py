"""Churn early warning: per-customer triggers combined into a risk score with the reasons spelled out.

Triggers, for customers not churned by the as-of time, looking back from it:
- activity decline: journey events in the last ``window_days`` below ``decline_share`` of those in the window
  before it (and at least one event in that earlier window);
- a detractor answer (NPS 0-6) in the last ``window_days``;
- a low ticket rating (``low_csat`` or below) in the last ``window_days``;
- an unresolved ticket (opened before the as-of time, not resolved by it), or a ticket opened in the last
  ``window_days`` that was reopened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import metrics, schema
from data_access.access import masked
from data_access.filters import Filters, Period, Scope
from data_access.i18n import N_
from data_access.queries import support
from data_access.store import contact_columns, fetch_frame, side_by_side
from data_access.store.dialect import epoch_ms

cu = schema.customers
ev = schema.journey_events
sv = schema.survey_responses
tk = schema.tickets
CLI_COLUMNS = ("customer_id", "score", "reasons")
KEY = schema.CUSTOMER_KEY  # each source is grouped by the customer's number (copied onto its rows), not the text key


@dataclass(frozen=True)
class Triggers:
    """The thresholds, changeable in the app; each trigger's weight in the score."""

    window_days: int = 30
    decline_share: float = 0.5
    low_csat: int = 2
    weights: tuple[tuple[str, int], ...] = (
        (N_("activity decline"), 3),
        (N_("detractor"), 2),
        (N_("low ticket rating"), 2),
        (N_("unresolved or reopened ticket"), 2),
    )


def at_risk_query(
    filters: Filters, as_of: datetime, triggers: Triggers, contact: tuple[sa.ColumnElement, ...] = ()
) -> sa.Select:
    """Customers with a trigger, the trigger flags and the score, the sum of the triggers' weights (``contact``:
    their e-mail and name, see :func:`store.contact_columns`).

    Each source is read once and grouped by customer (events: counts per window and the latest time; answers: a
    detractor; tickets: a low rating, an open or reopened one); a customer with no row in any of them has no
    trigger, so only those are looked at, not every customer."""
    now = schema.bound_time(as_of)
    recent = schema.bound_time(as_of - timedelta(days=triggers.window_days))
    before = schema.bound_time(as_of - timedelta(days=2 * triggers.window_days))

    def mine(table: sa.FromClause) -> sa.ColumnElement[bool]:
        """The filter's customers, on the source's own copies (the join to ``customers`` below applies it anyway:
        this only spares the grouping the other customers' rows)."""
        return filters.customer_clause(table.c.customer_id)

    activity = (
        sa.select(
            ev.c[KEY],
            metrics.count_if(ev.c.occurred_at > recent).label("recent"),
            metrics.count_if(ev.c.occurred_at <= recent).label("earlier"),
            sa.func.max(ev.c.occurred_at).label("last_at"),
        )
        .where(ev.c.occurred_at > before, ev.c.occurred_at <= now, mine(ev))
        .group_by(ev.c[KEY])
        .subquery("activity")
    )
    # where the customer is in the journey: the stage of their latest event in the two windows (ties: the first id),
    # with the counts of that customer's activity carried along (every customer of ``activity`` has such an event)
    latest = ev.alias("latest_event")
    journey = (
        sa.select(
            activity.c[KEY],
            sa.func.min(latest.c.stage_id).label("stage_id"),
            sa.func.max(activity.c.recent).label("recent"),
            sa.func.max(activity.c.earlier).label("earlier"),
        )
        .select_from(
            latest.join(
                activity,
                sa.and_(latest.c[KEY] == activity.c[KEY], latest.c.occurred_at == activity.c.last_at),
            )
        )
        .where(latest.c.occurred_at > before, latest.c.occurred_at <= now, mine(latest))
        .group_by(activity.c[KEY])
        .subquery("journey")
    )
    decline = sa.and_(journey.c.earlier > 0, journey.c.recent < triggers.decline_share * journey.c.earlier)
    open_ticket = sa.or_(
        tk.c.resolved_at.is_(None), tk.c.resolved_at > now, sa.and_(tk.c.reopened.is_(True), tk.c.opened_at > recent)
    )
    no_stage = sa.cast(sa.null(), sa.String)
    names = ("activity_decline", "detractor", "low_ticket_rating", "unresolved_or_reopened_ticket")

    def flagged(table: sa.FromClause, stage: sa.ColumnElement, **on: sa.ColumnElement) -> sa.Select:
        """(customer's number, stage_id, one 0/1 column per trigger) rows of one source."""
        return sa.select(
            table.c[KEY],
            stage.label("stage_id"),
            *(sa.case((on[n], 1), else_=0).label(n) if n in on else sa.literal(0).label(n) for n in names),
        )

    rows = sa.union_all(
        flagged(journey, journey.c.stage_id, activity_decline=decline),
        flagged(sv, no_stage, detractor=sa.true()).where(
            sv.c.survey == "nps", sv.c.score <= 6, sv.c.responded_at > recent, sv.c.responded_at <= now, mine(sv)
        ),
        flagged(
            tk,
            no_stage,
            low_ticket_rating=sa.and_(tk.c.csat <= triggers.low_csat, tk.c.opened_at > recent),
            unresolved_or_reopened_ticket=open_ticket,
        ).where(
            tk.c.opened_at <= now,
            sa.or_(tk.c.opened_at > recent, tk.c.resolved_at.is_(None), tk.c.resolved_at > now),
            mine(tk),
        ),
    ).subquery("trigger_rows")
    triggered = (
        sa.select(
            rows.c[KEY],
            sa.func.min(rows.c.stage_id).label("stage_id"),
            *(sa.func.max(rows.c[n]).label(n) for n in names),
        )
        .group_by(rows.c[KEY])
        .having(sa.or_(*(sa.func.max(rows.c[n]) > 0 for n in names)))
        .subquery("triggered")
    )
    weights = {name.replace(" ", "_"): weight for name, weight in triggers.weights}
    score = sum((triggered.c[n] * weights[n] for n in names), sa.literal(0))  # the score: the triggers' weights
    return (
        sa.select(
            cu.c.customer_id,
            *contact,
            cu.c.segment,
            cu.c.channel,
            cu.c.plan,
            triggered.c.stage_id,
            *(triggered.c[n] for n in names),
            score.label("score"),
        )
        .select_from(cu.join(triggered, triggered.c[KEY] == cu.c[KEY]))
        .where(
            filters.customer_clause(cu.c.customer_id),
            cu.c.signup_at <= now,
            sa.or_(cu.c.churned_at.is_(None), cu.c.churned_at > now),
        )
    )


def at_risk(
    conn: Connection, filters: Filters, as_of: datetime, triggers: Triggers = Triggers(), limit: int | None = None
) -> pl.DataFrame:
    """Customers with at least one trigger: segment, channel, plan, the stage of their latest journey event in the
    last two windows (null without one), the score (sum of the weights) and the reasons, highest score first."""
    text = dict.fromkeys(("customer_id", "stage_id", "email", "customer_name"), pl.String)
    raw = fetch_frame(conn, at_risk_query(filters, as_of, triggers, tuple(contact_columns(conn))), text)
    names = [name for name, _ in triggers.weights]
    columns = [n.replace(" ", "_") for n in names]
    if raw.height == 0:
        return pl.DataFrame(
            schema={
                "customer_id": pl.String,
                "email": pl.String,
                "customer_name": pl.String,
                "segment": pl.String,
                "channel": pl.String,
                "plan": pl.String,
                "stage_id": pl.String,
                "score": pl.Int64,
                "reasons": pl.String,
            }
        )
    raw = raw.with_columns(pl.col(c).cast(pl.Int64) for c in [*columns, "score"])
    reasons = pl.concat_str(
        [pl.when(pl.col(c) == 1).then(pl.lit(n)) for c, n in zip(columns, names, strict=True)],
        separator="; ",
        ignore_nulls=True,
    )
    frame = raw.with_columns(reasons.alias("reasons")).sort(["score", "customer_id"], descending=[True, False])
    frame = frame.select(
        "customer_id", "email", "customer_name", "segment", "channel", "plan", "stage_id", "score", "reasons"
    )
    return masked(frame.head(limit) if limit else frame, filters.scope)


def where_alerts_cluster(frame: pl.DataFrame, by: str) -> pl.DataFrame:
    """From :func:`at_risk`: customers per value of ``by`` (a column of the list) and reason, one column per
    reason, and the customers at risk in all; most customers first."""
    if frame.height == 0:
        return pl.DataFrame(schema={by: pl.String, "customers at risk": pl.Int64})
    reasons = frame.select(by, pl.col("reasons").str.split("; ")).explode("reasons")
    table = (
        reasons.group_by(by, "reasons")
        .agg(pl.len().alias("customers"))
        .pivot(on="reasons", index=by, values="customers", sort_columns=True)
        .fill_null(0)
    )
    totals = frame.group_by(by).agg(pl.len().alias("customers at risk"))
    return table.join(totals, on=by, how="left").sort("customers at risk", by, descending=[True, False])


def unsubscribe_spikes(
    conn: Connection,
    filters: Filters,
    days: int = 14,
    ratio: float = 2.0,
    minimum: int = 5,
    events_in: Period | None = None,
) -> pl.DataFrame:
    """For each business event (those in ``events_in`` when given): unsubscribe actions per segment in the
    ``days`` after it against the ``days`` before it. A spike: at least ``minimum`` after and more than ``ratio``
    times as many as before."""
    be = schema.business_events
    which = events_in.clause(be.c.occurred_at) if events_in is not None else sa.true()
    business = sa.select(be.c.occurred_at, be.c.name, be.c.segment).where(which).subquery("business")
    at, span = epoch_ms(ev.c.occurred_at), days * 86_400_000
    event_at = epoch_ms(business.c.occurred_at)
    keys = [
        business.c.name,
        business.c.occurred_at,
        business.c.segment,
        ev.c.customer_segment.label("customer_segment"),
    ]
    stmt = (  # one scan of the unsubscribe actions for every business event at once
        sa.select(
            *keys,
            metrics.count_if(at < event_at).label("before"),
            metrics.count_if(at >= event_at).label("after"),
        )
        .select_from(ev.join(business, sa.and_(at >= event_at - span, at < event_at + span)))
        # the event's own copy of its customer's segment; a row of no known customer has no number and is left out
        .where(ev.c.action == "unsubscribe", ev.c[KEY] > 0, filters.customer_clause(ev.c.customer_id))
        .group_by(*keys)
    )
    rows = []
    for name, when, segment, seg, before, after in conn.execute(stmt):
        start = when if isinstance(when, datetime) else datetime.fromisoformat(str(when))
        before, after = int(before or 0), int(after or 0)
        if after >= minimum and after > ratio * before:
            rows.append((str(name), start, str(seg), before, after, segment is None or segment == seg))
    rows.sort(key=lambda r: (r[1], r[2]))
    return pl.DataFrame(
        rows,
        schema={
            "event": pl.String,
            "occurred_at": pl.Datetime("us"),
            "segment": pl.String,
            "before": pl.Int64,
            "after": pl.Int64,
            "event_targets_segment": pl.Boolean,
        },
        orient="row",
    )


def alerts(engine: Engine, filters: Filters, as_of: datetime) -> dict[str, pl.DataFrame]:
    """Segment-level alerts up to ``as_of``, side by side: unsubscribe spikes after business events, complaint
    spikes in the last week against the 8 before."""
    weeks = filters.with_period(Period(as_of - timedelta(weeks=9), as_of))
    return side_by_side(
        engine,
        {
            "unsubscribes": lambda c: unsubscribe_spikes(c, filters),
            "complaints": lambda c: support.cluster_spikes(c, weeks),
        },
    )


EVIDENCE_ROWS = 20  # of each kind


def evidence(conn: Connection, customer_id: str, as_of: datetime, scope: Scope) -> dict[str, pl.DataFrame] | None:
    """What stands behind one customer's warning, newest first up to ``as_of``: their journey events, tickets and
    survey answers (at most :data:`EVIDENCE_ROWS` of each; comments masked as the scope says). None when the
    customer is unknown or outside the viewer's segment limit."""
    where = [cu.c.customer_id == customer_id, *([cu.c.segment.in_(scope.segments)] if scope.segments else [])]
    if conn.execute(sa.select(cu.c.customer_id).where(*where)).first() is None:
        return None
    now = schema.bound_time(as_of)
    queries = {
        "events": sa.select(ev.c.occurred_at, ev.c.stage_id, ev.c.action)
        .where(ev.c.customer_id == customer_id, ev.c.occurred_at <= now)
        .order_by(ev.c.occurred_at.desc()),
        "tickets": sa.select(tk.c.opened_at, tk.c.category, tk.c.final_line, tk.c.resolved_at, tk.c.reopened, tk.c.csat)
        .where(tk.c.customer_id == customer_id, tk.c.opened_at <= now)
        .order_by(tk.c.opened_at.desc()),
        "answers": sa.select(sv.c.responded_at, sv.c.stage_id, sv.c.survey, sv.c.score, sv.c.comment)
        .where(sv.c.customer_id == customer_id, sv.c.responded_at <= now)
        .order_by(sv.c.responded_at.desc()),
    }
    return {name: masked(fetch_frame(conn, q.limit(EVIDENCE_ROWS)), scope) for name, q in queries.items()}
