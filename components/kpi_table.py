"""The per-stage KPI table: one readable cell per metric (value, n, status) and a long form with every figure."""

from __future__ import annotations

import polars as pl

from components import status
from data_access import metrics


def _cell(metric: metrics.Metric) -> pl.Expr:
    m = metric.name
    digits = 2 if metric.unit == "score" else 1
    suffix = "%" if metric.unit == "%" else ""
    value = pl.col(m).round(digits).cast(pl.String) + pl.lit(suffix)
    icon = pl.col(f"{m}_status").replace_strict({k: v[1] for k, v in status.STYLE.items()}, default="")
    text = pl.concat_str([icon, pl.lit(" "), value, pl.lit("  (n="), pl.col(f"{m}_n").cast(pl.String), pl.lit(")")])
    return pl.when(pl.col(f"{m}_n") > 0).then(text).otherwise(pl.lit("–")).alias(metric.label)


def summary(frame: pl.DataFrame) -> pl.DataFrame:
    """Stage, customers and one cell per metric, in map order."""
    return frame.select(
        pl.col("name").alias("Stage"),
        pl.col("customers").alias("Customers"),
        *(_cell(m) for m in metrics.STAGE_METRICS.values()),
    )


def long(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per stage and metric with value, interval, n, target and status (also the CSV download)."""
    parts = []
    for metric in metrics.STAGE_METRICS.values():
        m = metric.name
        parts.append(
            frame.select(
                pl.col("stage_id"),
                pl.col("name").alias("stage"),
                pl.lit(metric.label).alias("metric"),
                pl.col(m).round(2).alias("value"),
                pl.col(f"{m}_lo").round(2).alias("ci95_low"),
                pl.col(f"{m}_hi").round(2).alias("ci95_high"),
                pl.col(f"{m}_n").alias("n"),
                pl.col(f"{m}_target").alias("target"),
                pl.col(f"{m}_warn").alias("warn"),
                pl.col(f"{m}_status").alias("status"),
            )
        )
    return pl.concat(parts)
