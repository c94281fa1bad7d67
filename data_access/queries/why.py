"""Why customers leave and what won them back: exit reasons (``survey = exit``), retention offers (``offers``) and
experiments (``experiment_info``, ``experiments``). Counting runs in the database; shares get Wilson intervals and
the experiments' tests come from :func:`data_access.metrics.experiment_verdict` (scipy.stats).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import metrics, schema
from data_access.access import masked
from data_access.filters import Filters
from data_access.i18n import N_
from data_access.queries import kpis
from data_access.store import contact_columns, fetch_frame, has_column, has_table
from data_access.store.dialect import epoch_ms, period_date, period_start

r, cu = schema.survey_responses, schema.customers
of, ex, ei = schema.offers, schema.experiments, schema.experiment_info
KEY = schema.CUSTOMER_KEY  # customers are joined by their number (copied onto the facts), not their text key
CHURNED = schema.CHURN_COPY_COLUMN  # a row's own copy of its customer's churn date
DAY_MS = 86_400_000
# an offer's outcomes: values of the frames, shown through _()
ACCEPTED, DECLINED, NOT_OFFERED = N_("accepted"), N_("declined"), N_("not offered")
WINDOW_DAYS = 90  # an offer's or an experiment's customer is "kept" when not churned this long after it
BY_CHOICES = ("segment", "plan", "persona", "channel", "region", "month")
NO_BAD_SCORE = "(no bad score before)"
# a bad score: what the churn early warning and the comments call low
BAD = {"csat": 2, "nps": 6, "ces": 3}


def has_exits(conn: Connection) -> bool:
    return has_column(conn, r, "reason")


def _exit_where(filters: Filters) -> list[sa.ColumnElement[bool]]:
    return [r.c.survey == schema.EXIT_SURVEY, r.c.reason.is_not(None), filters.where(r.c.responded_at, r.c.customer_id)]


def with_shares(frame: pl.DataFrame, group: str, part: str = "answers") -> pl.DataFrame:
    """Adds ``of`` (the group's total), ``share`` and its Wilson interval ``share_lo``, ``share_hi`` (percent)."""
    frame = frame.with_columns(pl.col(part).sum().over(group).alias("of"))
    lo, hi = metrics.wilson(pl.col(part).cast(pl.Float64), pl.col("of").cast(pl.Float64))
    return frame.with_columns(
        metrics.percent(pl.col(part), pl.col("of")).alias("share"), lo.alias("share_lo"), hi.alias("share_hi")
    )


def exit_reasons(conn: Connection, filters: Filters, by: str | None = None) -> pl.DataFrame:
    """Exit answers per reason (and per value of ``by``: a customer attribute or ``month``): group, reason,
    answers, of (the group's answers), share with its 95% interval; largest share first within a group."""
    columns = {"group": pl.String, "reason": pl.String, "answers": pl.Int64}
    if not has_exits(conn):
        return with_shares(pl.DataFrame(schema=columns), "group")
    if by is None:  # one group: grouped by the reason alone (a bound constant cannot be a GROUP BY key in DuckDB)
        stmt = (
            sa.select(r.c.reason.label("reason"), sa.func.count().label("answers"))
            .where(*_exit_where(filters))
            .group_by(r.c.reason)
        )
        frame = fetch_frame(conn, stmt, {"reason": pl.String, "answers": pl.Int64})
        frame = frame.select(pl.lit("all").alias("group"), "reason", pl.col("answers").cast(pl.Int64))
        return with_shares(frame, "group").sort(["share", "reason"], descending=[True, False])
    if by == "month":
        key = period_start(r.c.responded_at, "month")
    elif by in schema.FILTER_DIMENSIONS:
        key = sa.func.coalesce(r.c[schema.attribute_column(by)], "(none)")  # the answer's copy: no join
    else:
        raise ValueError(f"exit reasons are broken down by one of {', '.join(BY_CHOICES)}, not {by!r}")
    grouped = (
        sa.select(key.label("group"), r.c.reason.label("reason"), sa.func.count().label("answers"))
        .where(*_exit_where(filters))
        .group_by(key, r.c.reason)
    )
    frame = fetch_frame(conn, grouped, {"reason": pl.String, "answers": pl.Int64})
    if by == "month" and frame.height:
        frame = frame.with_columns(period_date("group").cast(pl.String))
    frame = frame.with_columns(pl.col("group").cast(pl.String), pl.col("answers").cast(pl.Int64))
    return with_shares(frame, "group").sort(["group", "share", "reason"], descending=[False, True, False])


def exit_comments(conn: Connection, filters: Filters, reason: str, limit: int = 20) -> pl.DataFrame:
    """The newest exit answers with a comment for one reason: responded_at, score, comment, customer, segment,
    plan (and the e-mail), masked per the viewer's scope."""
    if not has_exits(conn):
        return pl.DataFrame(schema={"responded_at": pl.Datetime("us"), "comment": pl.String})
    # the newest answers first, from their own copies of the segment and plan; then the e-mail of those alone
    newest = (
        sa.select(
            r.c.response_id,
            r.c.responded_at,
            r.c.score,
            r.c.comment,
            r.c.customer_id,
            r.c[schema.attribute_column("segment")].label("segment"),
            r.c[schema.attribute_column("plan")].label("plan"),
        )
        .where(*_exit_where(filters), r.c.reason == reason, r.c.comment.is_not(None))
        .order_by(r.c.responded_at.desc(), r.c.response_id)
        .limit(limit)
        .subquery("newest")
    )
    shown = [newest.c[n] for n in ("responded_at", "score", "comment", "customer_id", "segment", "plan")]
    stmt = (
        sa.select(*shown, *contact_columns(conn)[:1])
        .join_from(newest, cu, cu.c.customer_id == newest.c.customer_id)
        .order_by(newest.c.responded_at.desc(), newest.c.response_id)
    )
    return masked(fetch_frame(conn, stmt, {"comment": pl.String, "email": pl.String}), filters.scope)


def exits_by_bad_stage(conn: Connection, filters: Filters) -> pl.DataFrame:
    """Exit answers per reason and the journey stage of the customer's last bad score before the exit answer
    (CSAT 1-2, NPS 0-6, CES 1-3): stage_id, reason, answers, of (the stage's answers), share and interval."""
    columns = {"stage_id": pl.String, "reason": pl.String, "answers": pl.Int64}
    if not has_exits(conn):
        return with_shares(pl.DataFrame(schema=columns), "stage_id")
    bad = r.alias("bad")
    low = sa.or_(*(sa.and_(bad.c.survey == name, bad.c.score <= top) for name, top in BAD.items()))
    exits = (
        sa.select(r.c.response_id, r.c.customer_id, r.c.responded_at, r.c.reason)
        .where(*_exit_where(filters))
        .subquery("exits")
    )
    # each exit answer's bad scores before it, the latest first (a join and a ranking: no correlated subquery)
    ranked = (
        sa.select(
            exits.c.response_id,
            bad.c.stage_id,
            sa.func.row_number()
            .over(partition_by=exits.c.response_id, order_by=(bad.c.responded_at.desc(), bad.c.response_id.desc()))
            .label("rank"),
        )
        .join_from(
            exits, bad, sa.and_(bad.c.customer_id == exits.c.customer_id, bad.c.responded_at <= exits.c.responded_at)
        )
        .where(low)
        .subquery("bad_before")
    )
    last_bad = sa.select(ranked.c.response_id, ranked.c.stage_id).where(ranked.c.rank == 1).subquery("last_bad")
    inner = (
        sa.select(sa.func.coalesce(last_bad.c.stage_id, NO_BAD_SCORE).label("stage_id"), exits.c.reason)
        .select_from(exits.outerjoin(last_bad, last_bad.c.response_id == exits.c.response_id))
        .subquery("exit_stages")
    )
    stmt = sa.select(inner.c.stage_id, inner.c.reason, sa.func.count().label("answers")).group_by(
        inner.c.stage_id, inner.c.reason
    )
    frame = fetch_frame(conn, stmt, columns).with_columns(pl.col("answers").cast(pl.Int64))
    return with_shares(frame, "stage_id").sort(["of", "stage_id", "answers"], descending=[True, False, True])


# --- retention offers ----------------------------------------------------------------------------------------------


def _kept(customer_churned_at: sa.ColumnElement, at: sa.ColumnElement, days: int) -> sa.ColumnElement[bool]:
    """Not churned in the ``days`` after ``at``."""
    return sa.or_(customer_churned_at.is_(None), epoch_ms(customer_churned_at) > epoch_ms(at) + days * DAY_MS)


def offer_outcomes(
    conn: Connection,
    filters: Filters,
    attempt_stage: str | None = None,
    days: int = WINDOW_DAYS,
    by: str | None = None,
) -> pl.DataFrame:
    """Retention offers in the period per type and outcome (accepted, declined), and with ``attempt_stage`` the
    customers who reached that stage (a cancellation attempt) in the period and got no offer (``not offered``,
    from their first event there): offer_type, outcome, customers, kept (not churned within ``days``), the kept
    share with its interval, and revenue (their orders in the ``days`` after); with ``by`` (a customer attribute)
    also per its value, in a column of that name."""
    if by is not None and by not in schema.FILTER_DIMENSIONS:
        raise ValueError(f"offers are broken down by one of {', '.join(schema.FILTER_DIMENSIONS)}, not {by!r}")
    group = [sa.func.coalesce(of.c[schema.attribute_column(by)], "(none)").label(by)] if by else []
    columns = {"offer_type": pl.String, "outcome": pl.String, "customers": pl.Int64, "kept": pl.Int64}
    columns |= {"revenue": pl.Float64} | ({by: pl.String} if by else {})
    if not has_table(conn, of):
        return _kept_shares(pl.DataFrame(schema=columns))
    outcome = sa.case((of.c.accepted.is_(True), sa.literal(ACCEPTED)), else_=sa.literal(DECLINED))
    offers = (
        sa.select(
            of.c.offer_id,
            of.c.offer_type.label("offer_type"),
            outcome.label("outcome"),
            of.c[KEY],
            of.c.offered_at,
            sa.case((_kept(of.c[CHURNED], of.c.offered_at, days), 1), else_=0).label("kept"),
            *group,
        )
        # the offer's own copies of its customer's attributes and churn date: no join to customers
        .where(of.c[KEY] > 0, filters.where(of.c.offered_at, of.c.customer_id))
        .subquery("offers_made")
    )
    per_offer = _with_revenue(offers, KEY, "offered_at", days, "per_offer")
    keys = [per_offer.c.offer_type, per_offer.c.outcome, *(per_offer.c[by] for _ in group)]
    stmt = sa.select(
        *keys,
        sa.func.count().label("customers"),
        sa.func.sum(per_offer.c.kept).label("kept"),
        sa.func.sum(per_offer.c.revenue).label("revenue"),
    ).group_by(*keys)
    frame = fetch_frame(conn, stmt, columns)
    if attempt_stage:
        extra = _not_offered(conn, filters, attempt_stage, days, by)
        frame = pl.concat([frame, extra], how="diagonal_relaxed")
    frame = frame.with_columns(
        pl.col("customers").cast(pl.Int64), pl.col("kept").cast(pl.Int64), pl.col("revenue").cast(pl.Float64)
    )
    return _kept_shares(frame).sort(["offer_type", "outcome", *([by] if by else [])])


def outcomes_overall(grouped: pl.DataFrame, attempt_stage: str | None = None) -> pl.DataFrame:
    """:func:`offer_outcomes` without a breakdown, from its frame broken down by an attribute: every offer and every
    customer not offered sits in one value's row, so the sums are the whole's, and a page that shows both reads
    once (at 1M customers the Retention offers page's statements take about half the time)."""
    summed = grouped.group_by("offer_type", "outcome").agg(pl.col("customers", "kept", "revenue").sum())
    if attempt_stage and summed.filter(pl.col("outcome") == NOT_OFFERED).height == 0:  # as without a breakdown: 0 shown
        nobody = {"offer_type": "(no offer)", "outcome": NOT_OFFERED, "customers": 0, "kept": 0, "revenue": 0.0}
        summed = pl.concat([summed, pl.DataFrame([nobody], schema=summed.schema)])
    return _kept_shares(summed).sort(["offer_type", "outcome"])


def _with_revenue(rows: sa.Subquery, customer: str, at: str, days: int, name: str) -> sa.Subquery:
    """Each row of ``rows`` (all its columns) with ``revenue``: the amounts of the customer's orders (``customer``:
    the column holding the customer's number) in the ``days`` after the row's ``at``, 0 without any. One read of
    ``rows``: joined to the customer's orders on the number alone and the window summed, where a join of the
    revenue back to ``rows`` read them twice (on ClickHouse twice the scan of every journey event behind them)."""
    o = schema.orders.c
    later = epoch_ms(o.ordered_at) - epoch_ms(rows.c[at])
    in_window = sa.and_(later > 0, later <= days * DAY_MS)
    carried = list(rows.c)
    return (
        sa.select(*carried, sa.func.sum(sa.case((in_window, o.amount), else_=0.0)).label("revenue"))
        .select_from(rows.outerjoin(schema.orders, o[KEY] == rows.c[customer]))
        .group_by(*carried)
        .subquery(name)
    )


def _kept_shares(frame: pl.DataFrame) -> pl.DataFrame:
    lo, hi = metrics.wilson(pl.col("kept").cast(pl.Float64), pl.col("customers").cast(pl.Float64))
    return frame.with_columns(
        metrics.percent(pl.col("kept"), pl.col("customers")).alias("kept_share"),
        lo.alias("kept_lo"),
        hi.alias("kept_hi"),
    )


def _not_offered(conn: Connection, filters: Filters, stage: str, days: int, by: str | None = None) -> pl.DataFrame:
    e = schema.journey_events.c
    # numbered rows only: a NULL in a NOT IN's list (a row another tool wrote, before refresh) would drop every row
    offered = sa.select(of.c[KEY]).where(filters.period.clause(of.c.offered_at), of.c[KEY] > 0)
    first = (
        sa.select(
            e[KEY],
            sa.func.min(e.occurred_at).label("at"),
            sa.func.min(e[CHURNED]).label("churned_at"),  # the events' copies: one value per customer
            *((sa.func.min(e[schema.attribute_column(by)]).label(by),) if by else ()),
        )
        .where(e.stage_id == stage, e[KEY] > 0, e[KEY].not_in(offered), filters.where(e.occurred_at, e.customer_id))
        .group_by(e[KEY])
        .subquery("attempts")
    )
    per = _with_revenue(first, KEY, "at", days, "not_offered")
    kept = sa.case((_kept(per.c.churned_at, per.c.at, days), 1), else_=0)
    keys = [sa.func.coalesce(per.c[by], "(none)").label(by)] if by else []
    stmt = sa.select(
        *keys,
        sa.func.count().label("customers"),
        sa.func.sum(kept).label("kept"),
        sa.func.sum(per.c.revenue).label("revenue"),
    ).group_by(*keys)
    frame = fetch_frame(conn, stmt, {"customers": pl.Int64, "kept": pl.Int64, "revenue": pl.Float64})
    if frame.height == 0 and not by:
        frame = pl.DataFrame({"customers": [0], "kept": [0], "revenue": [0.0]})
    return frame.with_columns(
        pl.lit("(no offer)").alias("offer_type"),
        pl.lit(NOT_OFFERED).alias("outcome"),
        pl.col("customers").cast(pl.Int64),
        pl.col("kept").fill_null(0).cast(pl.Int64),
        pl.col("revenue").fill_null(0.0).cast(pl.Float64),
    )


def acceptance(frame: pl.DataFrame) -> pl.DataFrame:
    """From :func:`offer_outcomes`: per offer type, offers, accepted, the acceptance rate and its interval."""
    made = frame.filter(pl.col("outcome") != NOT_OFFERED)
    per = made.group_by("offer_type").agg(
        pl.col("customers").sum().alias("offers"),
        pl.col("customers").filter(pl.col("outcome") == ACCEPTED).sum().alias("accepted"),
    )
    lo, hi = metrics.wilson(pl.col("accepted").cast(pl.Float64), pl.col("offers").cast(pl.Float64))
    return per.with_columns(
        metrics.percent(pl.col("accepted"), pl.col("offers")).alias("acceptance"),
        lo.alias("acceptance_lo"),
        hi.alias("acceptance_hi"),
    ).sort("offer_type")


# --- experiments ---------------------------------------------------------------------------------------------------


def experiment_list(conn: Connection) -> pl.DataFrame:
    """experiment_info in start order (empty without the table)."""
    types = {c.name: pl.String for c in ei.columns} | {"start_at": pl.Datetime("us"), "end_at": pl.Datetime("us")}
    if not has_table(conn, ei):
        return pl.DataFrame(schema=types)
    return fetch_frame(conn, sa.select(ei).order_by(ei.c.start_at, ei.c.experiment), types)


def next_funnel_stage(conn: Connection, stage_id: str) -> str | None:
    """The funnel step after ``stage_id`` (by position among the in-funnel stages)."""
    stages = kpis.stages_on(conn).filter(pl.col("in_funnel")).sort("position", "stage_id")["stage_id"].to_list()
    if stage_id not in stages or stages.index(stage_id) == len(stages) - 1:
        return None
    return stages[stages.index(stage_id) + 1]


def variant_outcomes(
    conn: Connection, info: dict, filters: Filters, newest: datetime | None, days: int = WINDOW_DAYS
) -> pl.DataFrame:
    """Per variant of one experiment: assigned (customers), n (those the metric can judge), k (successes).
    retention_90d: not churned within ``days`` of assignment, judged once ``days`` have passed before ``newest``;
    conversion: an event at the next funnel step within ``days`` after assignment, judged the same way;
    csat: the experiment stage's CSAT answers after assignment (n answers, k scoring 4-5)."""
    name, metric = info["experiment"], info["primary_metric"]
    where = [ex.c.experiment == name, filters.customer_clause(ex.c.customer_id)]
    mature = (
        sa.true()
        if newest is None
        else epoch_ms(ex.c.assigned_at) + days * DAY_MS <= epoch_ms(sa.bindparam(None, newest, type_=schema.TIMESTAMP))
    )
    if metric == "csat":
        good = metrics.count_if(r.c.score >= 4)
        answers = (
            sa.select(ex.c.variant, sa.func.count().label("n"), good.label("k"))
            .join_from(ex, r, r.c[KEY] == ex.c[KEY])
            .where(*where, r.c.survey == "csat", r.c.stage_id == info["stage_id"], r.c.responded_at >= ex.c.assigned_at)
            .group_by(ex.c.variant)
        )
        assigned = sa.select(ex.c.variant, sa.func.count().label("assigned")).where(*where).group_by(ex.c.variant)
        a = fetch_frame(conn, assigned, {"variant": pl.String})
        b = fetch_frame(conn, answers, {"variant": pl.String})
        return a.join(b, on="variant", how="left").with_columns(pl.col("n", "k").fill_null(0).cast(pl.Int64))
    if metric == "retention_90d":  # the assignment's own copy of the customer's churn date
        where.append(ex.c[KEY] > 0)  # of a known customer, as the join to customers this replaces kept them
        success = _kept(ex.c[CHURNED], ex.c.assigned_at, days)
    else:
        target = next_funnel_stage(conn, info["stage_id"] or "")
        e = schema.journey_events.c
        member = schema.experiments.alias("member")
        converted = (
            sa.select(member.c[KEY])
            .join_from(
                member,
                schema.journey_events,
                sa.and_(
                    e[KEY] == member.c[KEY],
                    e.stage_id == target,
                    epoch_ms(e.occurred_at) >= epoch_ms(member.c.assigned_at),
                    epoch_ms(e.occurred_at) <= epoch_ms(member.c.assigned_at) + days * DAY_MS,
                ),
            )
            # the filter's customers only (on the events' own copies): the set is read for those alone
            .where(member.c.experiment == name, filters.customer_clause(e.customer_id))
        )
        # an uncorrelated IN: ClickHouse runs no correlated subquery inside an aggregate
        success = ex.c[KEY].in_(converted) if target else sa.false()
    stmt = (
        sa.select(
            ex.c.variant,
            sa.func.count().label("assigned"),
            metrics.count_if(mature).label("n"),
            metrics.count_if(sa.and_(mature, success)).label("k"),
        )
        .where(*where)
        .group_by(ex.c.variant)
    )
    frame = fetch_frame(conn, stmt, {"variant": pl.String})
    return frame.with_columns(pl.col("assigned", "n", "k").cast(pl.Int64)).sort("variant")


def experiment_results(
    conn: Connection, filters: Filters, newest: datetime | None, min_n: int
) -> list[tuple[dict, pl.DataFrame, list[metrics.Verdict]]]:
    """Every experiment: its definition, its variants' outcomes and each variant's verdict against the control."""
    out = []
    for info in experiment_list(conn).iter_rows(named=True):
        variants = variant_outcomes(conn, info, filters, newest)
        out.append((info, variants, metrics.experiment_verdicts(variants, min_n)))
    return out
