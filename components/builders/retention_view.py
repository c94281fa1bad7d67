"""Retention charts: the cohort heat map (numbers in the cells) and retention curves per group."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from components.builders.charts import add_events, empty, localise
from data_access import i18n
from data_access.i18n import _


def _age_title(grain: str) -> str:
    return _("months since signup") if grain == "month" else _("weeks since signup")


def _age(grain: str) -> str:
    return _("month") if grain == "month" else _("week")


def heatmap(frame: pl.DataFrame, grain: str) -> go.Figure:
    """Cohorts down, ages across; each cell the share of the cohort active, with the count behind it."""
    if frame.height == 0:
        return empty(_("No customers signed up in this selection"), 300)
    sizes = frame.group_by("cohort").agg(pl.col("cohort_size").first()).sort("cohort")
    cohorts = sizes["cohort"].to_list()
    ages = list(range(int(frame["age"].max()) + 1))
    cells = {(c, a): (r, n) for c, a, r, n in frame.select("cohort", "age", "retention", "active").iter_rows()}
    z = [[cells.get((c, a), (None, None))[0] for a in ages] for c in cohorts]
    text = [[i18n.percent(cells[(c, a)][0] / 100) if (c, a) in cells else "" for a in ages] for c in cohorts]
    hover = [
        [_("{n} active").format(n=i18n.number(cells[(c, a)][1])) if (c, a) in cells else "" for a in ages]
        for c in cohorts
    ]
    labels = [f"{i18n.day(c)} (n={i18n.number(n)})" for c, n in sizes.iter_rows()]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(a) for a in ages],
            y=labels,
            text=text,
            texttemplate="%{text}",
            customdata=hover,
            hovertemplate="%{y}, " + _age(grain) + " %{x}: %{z:.1f}% (%{customdata})<extra></extra>",
            colorscale="Blues",
            zmin=0,
            zmax=100,
            colorbar={"title": _("active, %")},
        )
    )
    return localise(fig).update_layout(
        height=max(320, 22 * len(cohorts) + 120),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title=_age_title(grain),
        yaxis_autorange="reversed",
    )


def group_curves(curve: pl.DataFrame, by: str, grain: str, column: str, y_title: str, hover: str) -> go.Figure:
    """A line per group of ``column`` by age; ``hover`` formats the value (``%{y}``) and the cohorts' size."""
    fig = go.Figure()
    for group in sorted(curve[by].drop_nulls().unique().to_list()):
        rows = curve.filter(pl.col(by) == group)
        fig.add_scatter(
            x=rows["age"].to_list(),
            y=rows[column].to_list(),
            mode="lines+markers",
            name=str(group),
            customdata=rows["cohort_size"].to_list(),
            hovertemplate=f"{group}, {_age(grain)} " + "%{x}: " + hover + "<extra></extra>",
        )
    return localise(fig).update_layout(
        height=350,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title=_age_title(grain),
        yaxis_title=y_title,
        legend={"orientation": "h", "y": -0.2},
    )


def curves(curve: pl.DataFrame, by: str, grain: str) -> go.Figure:
    """Retention by age per group (age 0 is everyone by definition, so it is left out)."""
    return group_curves(
        curve.filter(pl.col("age") > 0),
        by,
        grain,
        "retention",
        _("active, %\u00a0of the cohorts"),
        _("%{y:.1f}%\u00a0of %{customdata:,}"),
    )


def value_curves(curve: pl.DataFrame, by: str, grain: str) -> go.Figure:
    """Cumulative revenue per customer by age of the cohort, per group."""
    return group_curves(
        curve,
        by,
        grain,
        "value_per_customer",
        _("revenue per customer so far"),
        _("%{y:,.2f} per customer (of %{customdata:,})"),
    )


def churn_figure(frame: pl.DataFrame, events: pl.DataFrame, grain: str) -> go.Figure:
    """Churn rate and reactivation rate per period, with business events."""
    fig = go.Figure()
    periods = [i18n.day(p) for p in frame["period"]]
    reactivated = frame.select("reactivated", "churned_before").rows()
    fig.add_scatter(
        x=frame["period"].to_list(),
        y=frame["churn_rate"].to_list(),
        mode="lines+markers",
        name=_("churn rate"),
        line={"color": "#D55E00"},
        customdata=[(day, *rest) for day, rest in zip(periods, frame.select("churned", "base").rows(), strict=True)],
        hovertemplate="%{customdata[0]}: %{y:.1f}% ("
        + _("%{customdata[1]:,} of %{customdata[2]:,}")
        + ")<extra>"
        + _("churn")
        + "</extra>",
    )
    fig.add_scatter(
        x=frame["period"].to_list(),
        y=frame["reactivation_rate"].to_list(),
        mode="lines+markers",
        name=_("reactivation rate"),
        line={"color": "#009E73"},
        customdata=[(day, *rest) for day, rest in zip(periods, reactivated, strict=True)],
        hovertemplate="%{customdata[0]}: %{y:.1f}% ("
        + _("%{customdata[1]:,} of %{customdata[2]:,}")
        + ")<extra>"
        + _("reactivation")
        + "</extra>",
    )
    add_events(fig, events)
    return localise(fig).update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title=_("% per month") if grain == "month" else _("% per week"),
        legend={"orientation": "h", "y": -0.2},
    )
