"""Each metric's definition and formula, once. Counting happens in the database: a metric's ``aggregates`` are SQL
aggregate expressions over its source table, grouped however the caller likes, and its ``value`` is SQL over those
aggregates. Percentages are 0-100."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from data_access import schema
from data_access.i18n import N_
from data_access.store.dialect import NATIVE_QUANTILE, epoch_ms, quantile_cont

survey = schema.survey_responses


ticket = schema.tickets


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """Number of rows where ``condition`` holds (portable: no FILTER clause, no boolean sums)."""
    return sa.func.sum(sa.case((condition, 1), else_=0))


def share(part: ColumnElement, whole: ColumnElement) -> ColumnElement[float]:
    """100 * part / whole, NULL when whole is 0."""
    return (sa.literal(100.0, sa.Float(53)) * part) / sa.func.nullif(whole, 0)


def _is_survey(name: str) -> ColumnElement[bool]:
    return survey.c.survey == sa.literal(name)


def _score_pieces(name: str) -> dict[str, ColumnElement]:
    """n, sum and sum of squares of one survey's scores: a mean with its interval."""
    return {
        "n": count_if(_is_survey(name)),
        "sum": sa.func.sum(sa.case((_is_survey(name), survey.c.score), else_=0)),
        "sumsq": sa.func.sum(sa.case((_is_survey(name), survey.c.score * survey.c.score), else_=0)),
    }


def _mean(a: dict[str, ColumnElement]) -> ColumnElement[float]:
    return (sa.literal(1.0, sa.Float(53)) * a["sum"]) / sa.func.nullif(a["n"], 0)


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str  # "%", "points" or "score"
    higher_is_better: bool
    source: sa.Table
    time_column: str
    description: str
    # SQL aggregate pieces from the metric's parameters; "n" is always one of them
    aggregates: Callable[[dict[str, Any]], dict[str, ColumnElement]]
    value: Callable[[dict[str, ColumnElement]], ColumnElement]  # SQL over the aggregated pieces
    interval: str  # "wilson", "nps" or "mean"
    per_stage: bool = True  # shown per journey stage on the Stage KPIs page
    bounds: tuple[float, float] | None = None  # the scale of a mean's scores (its interval stays inside)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            name="csat",
            label="CSAT",
            unit="%",
            higher_is_better=True,
            source=survey,
            time_column="responded_at",
            description=N_("Share of csat answers scoring 4 or 5 (of 1-5)"),
            aggregates=lambda _p: {
                "n": count_if(_is_survey("csat")),
                "k": count_if(sa.and_(_is_survey("csat"), survey.c.score >= 4)),
            },
            value=lambda a: share(a["k"], a["n"]),
            interval="wilson",
        ),
        Metric(
            name="nps",
            label="NPS",
            unit="points",
            higher_is_better=True,
            source=survey,
            time_column="responded_at",
            description=N_("Share of nps answers 9-10 minus share 0-6 (-100..100)"),
            aggregates=lambda _p: {
                "n": count_if(_is_survey("nps")),
                "promoters": count_if(sa.and_(_is_survey("nps"), survey.c.score >= 9)),
                "detractors": count_if(sa.and_(_is_survey("nps"), survey.c.score <= 6)),
            },
            value=lambda a: share(a["promoters"] - a["detractors"], a["n"]),
            interval="nps",
        ),
        Metric(
            name="ces",
            label="CES",
            unit="score",
            higher_is_better=True,
            source=survey,
            time_column="responded_at",
            description=N_("Mean ces score (1-7, 7 = it was very easy)"),
            aggregates=lambda _p: _score_pieces("ces"),
            value=_mean,
            interval="mean",
            bounds=(1.0, 7.0),
        ),
        Metric(
            name="fcr",
            label="FCR",
            unit="%",
            higher_is_better=True,
            source=ticket,
            time_column="opened_at",
            description=N_("Share of resolved tickets with one contact and not reopened"),
            aggregates=lambda _p: {
                "n": count_if(ticket.c.resolved_at.is_not(None)),
                "k": count_if(
                    sa.and_(ticket.c.resolved_at.is_not(None), ticket.c.contacts == 1, ticket.c.reopened.is_(False))
                ),
            },
            value=lambda a: share(a["k"], a["n"]),
            interval="wilson",
        ),
    )
}


SURVEY_METRICS = tuple(name for name, m in METRICS.items() if m.source is survey)


resolved = ticket.c.resolved_at.is_not(None)


from_bot = ticket.c.entry_channel == sa.literal("bot")


later = ticket.alias("later_ticket")


def _bot_kept(params: dict[str, Any]) -> ColumnElement[bool]:
    """A bot resolution that holds: the customer opens no other ticket within ``verify_days`` after it. Written
    as NOT IN an uncorrelated set of the tickets that were followed by another: ClickHouse runs no correlated
    subquery inside an aggregate's argument."""
    days = int(params.get("verify_days", VERIFY_DAYS))
    first = ticket.alias("bot_ticket")
    followed = (
        sa.select(first.c.ticket_id)
        .select_from(
            first.join(
                later, sa.and_(later.c.customer_id == first.c.customer_id, later.c.ticket_id != first.c.ticket_id)
            )
        )
        .where(
            first.c.entry_channel == sa.literal("bot"),
            first.c.bot_resolved.is_(True),
            first.c.resolved_at.is_not(None),
            epoch_ms(later.c.opened_at) > epoch_ms(first.c.resolved_at),
            epoch_ms(later.c.opened_at) <= epoch_ms(first.c.resolved_at) + days * 86_400_000,
        )
    )
    return sa.and_(from_bot, ticket.c.bot_resolved.is_(True), resolved, ticket.c.ticket_id.not_in(followed))


VERIFY_DAYS = 7


for _metric in (
    Metric(
        name="ticket_csat",
        label=N_("Ticket CSAT"),
        unit="%",
        higher_is_better=True,
        source=ticket,
        time_column="opened_at",
        description=N_("Share of rated tickets rated 4 or 5 (of 1-5)"),
        aggregates=lambda _p: {"n": count_if(ticket.c.csat.is_not(None)), "k": count_if(ticket.c.csat >= 4)},
        value=lambda a: share(a["k"], a["n"]),
        interval="wilson",
        per_stage=False,
    ),
    Metric(
        name="reopen_rate",
        label=N_("Reopen rate"),
        unit="%",
        higher_is_better=False,
        source=ticket,
        time_column="opened_at",
        description=N_("Share of resolved tickets that were reopened"),
        aggregates=lambda _p: {"n": count_if(resolved), "k": count_if(sa.and_(resolved, ticket.c.reopened.is_(True)))},
        value=lambda a: share(a["k"], a["n"]),
        interval="wilson",
        per_stage=False,
    ),
    Metric(
        name="escalation_rate",
        label=N_("Escalation rate"),
        unit="%",
        higher_is_better=False,
        source=ticket,
        time_column="opened_at",
        description=N_("Share of tickets that a line above the first worked on"),
        aggregates=lambda _p: {"n": sa.func.count(), "k": count_if(ticket.c.final_line > 1)},
        value=lambda a: share(a["k"], a["n"]),
        interval="wilson",
        per_stage=False,
    ),
    Metric(
        name="containment",
        label=N_("Bot containment"),
        unit="%",
        higher_is_better=True,
        source=ticket,
        time_column="opened_at",
        description=N_("Share of tickets entering through the bot that the bot closed with no hand-off"),
        aggregates=lambda _p: {
            "n": count_if(from_bot),
            "k": count_if(sa.and_(from_bot, ticket.c.bot_resolved.is_(True))),
        },
        value=lambda a: share(a["k"], a["n"]),
        interval="wilson",
        per_stage=False,
    ),
    Metric(
        name="verified_containment",
        label=N_("Verified containment"),
        unit="%",
        higher_is_better=True,
        source=ticket,
        time_column="opened_at",
        description=N_(
            "Bot containment that does not count a bot resolution when the customer opens another ticket within "
            "the verification days after it"
        ),
        aggregates=lambda p: {"n": count_if(from_bot), "k": count_if(_bot_kept(p))},
        value=lambda a: share(a["k"], a["n"]),
        interval="wilson",
        per_stage=False,
    ),
):
    METRICS[_metric.name] = _metric


METRICS["satisfaction"] = Metric(
    name="satisfaction",
    label=N_("Mean satisfaction"),
    unit="score",
    higher_is_better=True,
    source=survey,
    time_column="responded_at",
    description=N_("Mean csat score (1-5): the emotion curve of the journey map"),
    aggregates=lambda _p: _score_pieces("csat"),
    value=_mean,
    interval="mean",
    per_stage=False,
    bounds=(1.0, 5.0),
)


STAGE_METRICS = {name: m for name, m in METRICS.items() if m.per_stage}


STAGE_METRICS_BY_SOURCE: dict[str, list[Metric]] = {}  # source table name -> its stage metrics, read in one scan


for _metric in STAGE_METRICS.values():
    STAGE_METRICS_BY_SOURCE.setdefault(_metric.source.name, []).append(_metric)


# Figures of the journey map that are not metrics of this registry but can have targets (kpi_targets.metric).
JOURNEY_FIGURES = {
    "conversion": N_("share of a funnel step's customers who reach the next step (%)"),
    "dropoff": N_("share of a funnel step's customers who never reach the next step (%)"),
    "tickets_per_100": N_("tickets opened at a stage per 100 of its customers"),
    "days_to_next": N_("median days from a funnel step to the next"),
    "emotion": N_("mean CSAT score (1-5)"),
    "fcr_line_2": N_("FCR of the tickets the 2nd line (managers) worked on last (%)"),
}


JOURNEY_HIGHER_IS_BETTER = {
    "conversion": True,
    "dropoff": False,
    "tickets_per_100": False,
    "days_to_next": False,
    "emotion": True,
    "fcr_line_2": True,
}


# which way is good, for everything a target may name
HIGHER_IS_BETTER = {**{name: m.higher_is_better for name, m in METRICS.items()}, **JOURNEY_HIGHER_IS_BETTER}


# a journey figure without a target of its own is judged by this one's (drop-off mirrors conversion instead)
TARGET_FALLBACK = {"fcr_line_2": "fcr"}


TARGET_NAMES = (*METRICS, *JOURNEY_FIGURES)  # what kpi_targets.metric may name


def aggregate_columns(metric: Metric, params: dict[str, Any] | None = None) -> list[sa.Label]:
    """The metric's aggregate pieces as labelled columns ``{metric}__{piece}`` for an inner GROUP BY query."""
    return [expr.label(f"{metric.name}__{piece}") for piece, expr in metric.aggregates(params or {}).items()]


def value_columns(metric: Metric, inner: sa.Subquery) -> list[sa.Label]:
    """Over a subquery built with :func:`aggregate_columns`: the metric's value and its n and pieces."""
    names = [c.name.split("__", 1)[1] for c in inner.c if c.name.startswith(f"{metric.name}__")]
    pieces = {piece: inner.c[f"{metric.name}__{piece}"] for piece in names}
    cols = [metric.value(pieces).label(metric.name), sa.func.coalesce(pieces["n"], 0).label(f"{metric.name}_n")]
    cols += [col.label(f"{metric.name}__{piece}") for piece, col in pieces.items() if piece != "n"]
    return cols


PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 0.5), ("p90", 0.9))


def percentile_query(
    values: sa.Subquery,
    groups: list[str],
    value: str,
    extra: Callable[[sa.Subquery], list[sa.Label]] = lambda _ordered: [],
    dialect: str = "",
    percentiles: tuple[tuple[str, float], ...] = PERCENTILES,
) -> sa.Select:
    """Per group: ``n`` and, for each of ``percentiles`` (:data:`PERCENTILES`), the two ranked values around the
    percentile and the fraction between them (``p50_low``, ``p50_high``, ``p50_frac``...), finished by
    :func:`with_percentiles`.
    Exact on every store: an interpolating quantile aggregate where the database has one (``dialect``), else
    window functions. ``extra`` adds aggregates over the rows (their value is column ``x``)."""
    if dialect in NATIVE_QUANTILE:
        rows = sa.select(*(values.c[g] for g in groups), values.c[value].label("x")).subquery("quantile_values")
        native = [*(rows.c[g] for g in groups), sa.func.count().label("n")]
        for name, p in percentiles:
            native += [
                quantile_cont(rows.c.x, sa.literal(p, sa.Float())).label(f"{name}_low"),
                sa.null().label(f"{name}_high"),
                sa.literal(0.0, sa.Float()).label(f"{name}_frac"),
            ]
        return sa.select(*native, *extra(rows)).group_by(*(rows.c[g] for g in groups))
    ordered = sa.select(
        *(values.c[g] for g in groups),
        values.c[value].label("x"),
        sa.func.row_number().over(partition_by=[values.c[g] for g in groups], order_by=values.c[value]).label("rn"),
        sa.func.count().over(partition_by=[values.c[g] for g in groups]).label("n"),
    ).subquery("ranked_values")
    columns = [*(ordered.c[g] for g in groups), sa.func.max(ordered.c.n).label("n")]
    for name, p in percentiles:
        pos = (ordered.c.n - 1) * p  # linear interpolation between the ranks around pos (0-based)
        low = sa.func.floor(pos) + 1
        columns += [
            sa.func.max(sa.case((ordered.c.rn == low, ordered.c.x))).label(f"{name}_low"),
            sa.func.max(sa.case((ordered.c.rn == low + 1, ordered.c.x))).label(f"{name}_high"),
            sa.func.max(pos - sa.func.floor(pos)).label(f"{name}_frac"),
        ]
    return sa.select(*columns, *extra(ordered)).group_by(*(ordered.c[g] for g in groups))


def with_percentiles(
    frame: pl.DataFrame,
    scale: float = 1.0,
    suffix: str = "",
    percentiles: tuple[tuple[str, float], ...] = PERCENTILES,
) -> pl.DataFrame:
    """Finishes :func:`percentile_query`: ``p50{suffix}``, ``p90{suffix}`` = interpolated value / ``scale``."""
    pieces = []
    for name, _ in percentiles:
        low, high, frac = (pl.col(f"{name}_{part}").cast(pl.Float64) for part in ("low", "high", "frac"))
        value = pl.when(high.is_null() | (frac.fill_null(0) == 0)).then(low).otherwise(low + frac * (high - low))
        pieces.append((value / scale).alias(f"{name}{suffix}"))
    helpers = [f"{name}_{part}" for name, _ in percentiles for part in ("low", "high", "frac")]
    return frame.with_columns(pieces).drop(helpers)
