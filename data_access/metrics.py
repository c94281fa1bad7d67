"""The metrics layer: each metric's definition and formula, once.

Counting happens in the database: a metric's ``aggregates`` are SQL aggregate expressions over its source
table, grouped however the caller likes, and its ``value`` is SQL over those aggregates. Only the confidence
interval and the status are finished in Polars, on the result-sized frame. Percentages are 0-100.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from data_access import schema
from data_access.i18n import N_
from data_access.store.dialect import NATIVE_QUANTILE, epoch_ms, quantile_cont

Z95 = 1.959963984540054  # two-sided 95% normal quantile

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


def percent(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """100 * part / whole, null when whole is 0: :func:`share` for result-sized frames."""
    return pl.when(whole > 0).then(100 * part / whole)


def wilson(k: pl.Expr, n: pl.Expr, z: float = Z95) -> tuple[pl.Expr, pl.Expr]:
    """Wilson score interval for a share k/n, in percent (always within 0..100)."""
    lo, hi = _wilson_unit(k / n, n, z)
    return 100 * lo, 100 * hi


def _wilson_unit(p: pl.Expr, n: pl.Expr, z: float) -> tuple[pl.Expr, pl.Expr]:
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z / denom * ((p * (1 - p) / n + z**2 / (4 * n**2)).clip(lower_bound=0).sqrt())
    return (centre - half).clip(0.0, 1.0), (centre + half).clip(0.0, 1.0)


NPS_ADJUSTMENT = 0.75  # adjusted Wald: 3/4 of a promoter and of a detractor added, and 3 answers (Rocks 2016)


def nps_interval(promoters: pl.Expr, detractors: pl.Expr, n: pl.Expr, z: float = Z95) -> tuple[pl.Expr, pl.Expr]:
    """Adjusted-Wald interval of an NPS, on the promoter and detractor shares: with ``NPS_ADJUSTMENT`` added to
    each count and 3 to n (so that 4 promoters of 4 do not give a zero-width interval), 100 (p+ - p-) +/-
    100 z sqrt((p+ + p- - (p+ - p-)^2) / n), clipped to -100..100."""
    adjusted = n + 3
    pp, pd = (promoters + NPS_ADJUSTMENT) / adjusted, (detractors + NPS_ADJUSTMENT) / adjusted
    centre = 100 * (pp - pd)
    half = 100 * z * ((pp + pd - (pp - pd) ** 2).clip(lower_bound=0) / adjusted).sqrt()
    return (centre - half).clip(-100.0, 100.0), (centre + half).clip(-100.0, 100.0)


def mean_interval(
    total: pl.Expr, total_sq: pl.Expr, n: pl.Expr, bounds: tuple[float, float], z: float = Z95
) -> tuple[pl.Expr, pl.Expr]:
    """Interval of the mean of a score on the scale ``bounds`` (CES 1-7, CSAT score 1-5) that stays on the scale:
    the mean rescaled to 0..1 and given a Wilson interval at its effective sample size n p(1-p) / s^2 (s^2 the
    rescaled sample variance; n itself when there is no spread, or a single answer), then scaled back."""
    low, high = bounds
    width = high - low
    mean = total / n
    var = ((total_sq - n * mean**2) / (n - 1)).clip(lower_bound=0) / width**2
    p = ((mean - low) / width).clip(0.0, 1.0)
    effective = pl.when((n >= 2) & (var > 0)).then((n * p * (1 - p) / var).clip(lower_bound=1.0)).otherwise(n)
    lo, hi = _wilson_unit(p, effective, z)
    return low + width * lo, low + width * hi


def with_intervals(frame: pl.DataFrame, metric: Metric, min_n: int) -> pl.DataFrame:
    """Adds ``{m}_lo``, ``{m}_hi`` and ``{m}_enough`` (n >= min_n) and drops the helper pieces."""
    m = metric.name
    n = pl.col(f"{m}_n").cast(pl.Float64)

    def piece(name: str) -> pl.Expr:
        return pl.col(f"{m}__{name}").cast(pl.Float64)

    if metric.interval == "wilson":
        lo, hi = wilson(piece("k"), n)
    elif metric.interval == "nps":
        lo, hi = nps_interval(piece("promoters"), piece("detractors"), n)
    else:
        if metric.bounds is None:
            raise ValueError(f"{metric.name}: a mean needs the bounds of its scale")
        lo, hi = mean_interval(piece("sum"), piece("sumsq"), n, metric.bounds)
    has = pl.col(f"{m}_n") > 0
    frame = frame.with_columns(
        pl.when(has).then(lo).alias(f"{m}_lo"),
        pl.when(has).then(hi).alias(f"{m}_hi"),
        (pl.col(f"{m}_n") >= min_n).alias(f"{m}_enough"),
    )
    return frame.drop([c for c in frame.columns if c.startswith(f"{m}__")])


def finish(frame: pl.DataFrame, metric: Metric, min_n: int) -> pl.DataFrame:
    """A metric's columns as fetched (any numeric types the database returns) made Float64 / Int64 (a missing n is
    0), then its interval and whether n is enough (:func:`with_intervals`)."""
    m = metric.name
    frame = frame.with_columns(
        pl.col(m).cast(pl.Float64),
        pl.col(f"{m}_n").cast(pl.Int64).fill_null(0),
        *(pl.col(c).cast(pl.Float64) for c in frame.columns if c.startswith(f"{m}__")),
    )
    return with_intervals(frame, metric, min_n)


# the status words are values (in frames and exports in English); shown, they go through _()
STATUS_GOOD, STATUS_WARN, STATUS_BAD, STATUS_NO_DATA, STATUS_NO_TARGET = (
    N_("on target"),
    N_("watch"),
    N_("off target"),
    N_("not enough data"),
    N_("no target"),
)


def status_expr(value: pl.Expr, enough: pl.Expr, target: pl.Expr, warn: pl.Expr, higher_is_better: bool) -> pl.Expr:
    """Green/amber/red against a target, never judged on too little data."""
    sign = 1.0 if higher_is_better else -1.0
    v, t, w = value * sign, target * sign, warn * sign
    return (
        pl.when(value.is_null() | ~enough)
        .then(pl.lit(STATUS_NO_DATA))
        .when(target.is_null())
        .then(pl.lit(STATUS_NO_TARGET))
        .when(v >= t)
        .then(pl.lit(STATUS_GOOD))
        .when(v >= w)
        .then(pl.lit(STATUS_WARN))
        .otherwise(pl.lit(STATUS_BAD))
    )


def with_targets_long(frame: pl.DataFrame, targets: pl.DataFrame, metric_column: str) -> pl.DataFrame:
    """Adds ``target`` and ``warn`` to a long frame of (``stage_id``, ``metric_column``) rows: a stage's own target
    wins over the ``*`` one."""
    mine = targets.rename({"metric": metric_column})
    specific = mine.filter(pl.col("stage_id") != schema.ALL_STAGES)
    general = mine.filter(pl.col("stage_id") == schema.ALL_STAGES).drop("stage_id")
    return (
        frame.join(specific, on=["stage_id", metric_column], how="left")
        .join(general, on=metric_column, how="left", suffix="_all")
        .with_columns(
            pl.coalesce("target", "target_all").alias("target"), pl.coalesce("warn", "warn_all").alias("warn")
        )
        .drop("target_all", "warn_all")
    )


def with_status(frame: pl.DataFrame, targets: pl.DataFrame, metric: Metric, key: str = "stage_id") -> pl.DataFrame:
    """Adds ``{m}_target``, ``{m}_warn`` and ``{m}_status``. A stage's own target wins over the ``*`` one."""
    m = metric.name
    mine = targets.filter(pl.col("metric") == m).select(key, "target", "warn")
    general = mine.filter(pl.col(key) == schema.ALL_STAGES)
    specific = mine.filter(pl.col(key) != schema.ALL_STAGES)
    frame = frame.join(specific, on=key, how="left")
    if general.height:
        frame = frame.with_columns(
            pl.col("target").fill_null(general["target"][0]), pl.col("warn").fill_null(general["warn"][0])
        )
    frame = frame.rename({"target": f"{m}_target", "warn": f"{m}_warn"})
    return frame.with_columns(
        status_expr(
            pl.col(m), pl.col(f"{m}_enough"), pl.col(f"{m}_target"), pl.col(f"{m}_warn"), metric.higher_is_better
        ).alias(f"{m}_status")
    )


SIGNIFICANCE_LEVEL = 0.05


def two_proportion_p_value(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test of k1/n1 against k2/n2 (None without data)."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 1.0
    z = (k1 / n1 - k2 / n2) / spread
    return math.erfc(abs(z) / math.sqrt(2))


def normal_p_value(difference: float, standard_error: float) -> float | None:
    """Two-sided p-value of a difference against its standard error (normal approximation); None without one."""
    if standard_error is None or not standard_error > 0:
        return None if standard_error is None else 1.0
    return math.erfc(abs(difference) / standard_error / math.sqrt(2))


def nps_standard_error(promoters: float, detractors: float, n: float) -> float | None:
    """Standard error of an NPS (in points): 100 sqrt((p+ + p- - (p+ - p-)^2) / n), as in its interval."""
    if n <= 0:
        return None
    pp, pd = promoters / n, detractors / n
    return 100 * math.sqrt(max(pp + pd - (pp - pd) ** 2, 0.0) / n)


def mean_standard_error(total: float, total_sq: float, n: float) -> float | None:
    """Standard error of a mean from its sum and sum of squares (sample standard deviation), as in its interval."""
    if n <= 1:
        return None
    mean = total / n
    return math.sqrt(max((total_sq - n * mean**2) / (n - 1), 0.0) / n)


def rate_standard_error(count: float, n: float) -> float | None:
    """Standard error of a rate per unit (count / n, the count taken as Poisson): sqrt(count) / n."""
    return None if n <= 0 else math.sqrt(count) / n


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


# --- experiments: two proportions, with scipy.stats ---------------------------------------------------------------

SRM_ALPHA = 0.001  # a sample-ratio mismatch this unlikely under an even split means the assignment is broken
POWER = 0.8
WINNER, NO_DIFFERENCE, NOT_ENOUGH, SRM = (
    N_("winner"),
    N_("no difference detected"),
    N_("not enough data"),
    N_("SRM: do not trust"),
)


@dataclass(frozen=True)
class Verdict:
    """One variant against the control on a share (retention, conversion, CSAT), in percent and points."""

    control: str
    variant: str
    control_rate: float | None
    variant_rate: float | None
    lift: float | None  # variant - control, points
    lift_lo: float | None
    lift_hi: float | None
    p_value: float | None
    srm_p: float | None  # chi-square of the assignment counts against an even split
    mde: float | None  # the smallest lift (points) this sample detects with 80% power at the 5% level
    verdict: str
    winner: str | None = None


def control_of(variants: list[str]) -> str:
    """The variant named control (any case), else the first by name."""
    return next((v for v in variants if v.lower() == "control"), sorted(variants)[0])


def experiment_verdicts(frame: pl.DataFrame, min_n: int, alpha: float = SIGNIFICANCE_LEVEL) -> list[Verdict]:
    """From per-variant ``assigned``, ``n`` (judged) and ``k`` (successes): each variant against the control.
    The lift's interval is the normal (Wald) interval of a difference of proportions, its p-value the chi-square
    test of the 2x2 table (scipy.stats.chi2_contingency, no continuity correction: the two-proportion z-test),
    the SRM check a chi-square of the assignment counts against an even split (scipy.stats.chisquare), the MDE
    (z_{1-alpha/2} + z_{power}) sqrt(p(1-p)(1/n_c + 1/n_v)) at the control's rate."""
    from scipy import stats

    if frame.height < 2:
        return []
    rows = {r["variant"]: r for r in frame.iter_rows(named=True)}
    control = control_of(list(rows))
    assigned = [int(rows[v]["assigned"]) for v in rows]
    srm_p = float(stats.chisquare(assigned).pvalue) if sum(assigned) > 0 else None
    c = rows[control]
    out = []
    for name, v in rows.items():
        if name == control:
            continue
        n0, k0, n1, k1 = int(c["n"]), int(c["k"]), int(v["n"]), int(v["k"])
        if min(n0, n1) == 0:
            out.append(Verdict(control, name, None, None, None, None, None, None, srm_p, None, NOT_ENOUGH))
            continue
        p0, p1 = k0 / n0, k1 / n1
        z = float(stats.norm.ppf(1 - alpha / 2))
        se = math.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
        table = [[k1, n1 - k1], [k0, n0 - k0]]
        degenerate = (k0 + k1) in (0, n0 + n1)
        p_value = 1.0 if degenerate else float(stats.chi2_contingency(table, correction=False).pvalue)
        spread = math.sqrt(max(p0 * (1 - p0), 1e-12) * (1 / n0 + 1 / n1))
        mde = 100 * (z + float(stats.norm.ppf(POWER))) * spread
        lift = 100 * (p1 - p0)
        if srm_p is not None and srm_p < SRM_ALPHA:
            verdict, winner = SRM, None
        elif min(n0, n1) < min_n:
            verdict, winner = NOT_ENOUGH, None
        elif p_value < alpha:
            verdict, winner = WINNER, name if lift > 0 else control
        else:
            verdict, winner = NO_DIFFERENCE, None
        out.append(
            Verdict(
                control,
                name,
                100 * p0,
                100 * p1,
                lift,
                lift - 100 * z * se,
                lift + 100 * z * se,
                p_value,
                srm_p,
                mde,
                verdict,
                winner,
            )
        )
    return out
