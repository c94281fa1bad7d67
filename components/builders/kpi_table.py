"""The per-stage KPI table: one readable cell per metric (value, n, status) and a long form with every figure."""

from __future__ import annotations

import polars as pl

from components.builders import status
from data_access import i18n, metrics
from data_access.i18n import _


def _cell(metric: metrics.Metric, value: float | None, n: int, state: str) -> str:
    """Icon, value and n of one metric of one stage: "✔ 82.5%  (n=120)"; a dash without answers."""
    if not n:
        return "–"
    digits = 2 if metric.unit == "score" else 1
    shown = i18n.percent(value / 100, digits) if metric.unit == "%" else i18n.number(value, digits, least=1)
    icon = status.STYLE.get(state, status.STYLE[metrics.STATUS_NO_DATA])[1]
    return f"{icon} {shown}  (n={i18n.number(n)})"


def summary(frame: pl.DataFrame) -> pl.DataFrame:
    """Stage, customers and one cell per metric, in map order."""
    columns: dict[str, list] = {_("Stage"): frame["name"].to_list(), _("Customers"): frame["customers"].to_list()}
    for metric in metrics.STAGE_METRICS.values():
        m = metric.name
        rows = zip(frame[m], frame[f"{m}_n"], frame[f"{m}_status"], strict=True)
        columns[_(metric.label)] = [_cell(metric, v, n, st) for v, n, st in rows]
    return pl.DataFrame(columns)


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
