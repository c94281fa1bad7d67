"""Reading a funnel: the biggest leak in words, a breakdown against the rest, the filters without the breakdown's
own."""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from data_access import i18n, metrics, schema
from data_access.filters import Filters
from data_access.i18n import N_, _


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
