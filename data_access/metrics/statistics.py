"""What is finished in Polars on result-sized frames: confidence intervals (Wilson, adjusted-Wald NPS, bounded
means), the status of a figure against its target, and the standard errors and p-values of a change."""

from __future__ import annotations

import math

import polars as pl

from data_access import schema
from data_access.i18n import N_
from data_access.metrics.definitions import Metric

Z95 = 1.959963984540054  # two-sided 95% normal quantile


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
