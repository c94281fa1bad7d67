"""Retention charts: the cohort heat map (numbers in the cells) and retention curves per group."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from components.charts import add_events, empty


def heatmap(frame: pl.DataFrame, grain: str) -> go.Figure:
    """Cohorts down, ages across; each cell the share of the cohort active, with the count behind it."""
    if frame.height == 0:
        return empty("No customers signed up in this selection", 300)
    sizes = frame.group_by("cohort").agg(pl.col("cohort_size").first()).sort("cohort")
    cohorts = sizes["cohort"].to_list()
    ages = list(range(int(frame["age"].max()) + 1))
    cells = {(c, a): (r, n) for c, a, r, n in frame.select("cohort", "age", "retention", "active").iter_rows()}
    z = [[cells.get((c, a), (None, None))[0] for a in ages] for c in cohorts]
    text = [[f"{cells[(c, a)][0]:.0f}%" if (c, a) in cells else "" for a in ages] for c in cohorts]
    hover = [[f"{cells[(c, a)][1]:,} active" if (c, a) in cells else "" for a in ages] for c in cohorts]
    labels = [f"{c:%Y-%m-%d} (n={n:,})" for c, n in sizes.iter_rows()]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(a) for a in ages],
            y=labels,
            text=text,
            texttemplate="%{text}",
            customdata=hover,
            hovertemplate="%{y}, " + grain + " %{x}: %{z:.1f}% (%{customdata})<extra></extra>",
            colorscale="Blues",
            zmin=0,
            zmax=100,
            colorbar={"title": "active %"},
        )
    )
    return fig.update_layout(
        height=max(320, 22 * len(cohorts) + 120),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title=f"{grain}s since signup",
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
            hovertemplate=f"{group}, {grain} " + "%{x}: " + hover + "<extra></extra>",
        )
    return fig.update_layout(
        height=350,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title=f"{grain}s since signup",
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
        "active, % of the cohorts",
        "%{y:.1f}% of %{customdata:,}",
    )


def value_curves(curve: pl.DataFrame, by: str, grain: str) -> go.Figure:
    """Cumulative revenue per customer by age of the cohort, per group."""
    return group_curves(
        curve,
        by,
        grain,
        "value_per_customer",
        "revenue per customer so far",
        "%{y:,.2f} per customer (of %{customdata:,})",
    )


def churn_figure(frame: pl.DataFrame, events: pl.DataFrame, grain: str) -> go.Figure:
    """Churn rate and reactivation rate per period, with business events."""
    fig = go.Figure()
    fig.add_scatter(
        x=frame["period"].to_list(),
        y=frame["churn_rate"].to_list(),
        mode="lines+markers",
        name="churn rate",
        line={"color": "#D55E00"},
        customdata=frame.select("churned", "base").rows(),
        hovertemplate="%{x}: %{y:.1f}% (%{customdata[0]:,} of %{customdata[1]:,})<extra>churn</extra>",
    )
    fig.add_scatter(
        x=frame["period"].to_list(),
        y=frame["reactivation_rate"].to_list(),
        mode="lines+markers",
        name="reactivation rate",
        line={"color": "#009E73"},
        customdata=frame.select("reactivated", "churned_before").rows(),
        hovertemplate="%{x}: %{y:.1f}% (%{customdata[0]:,} of %{customdata[1]:,})<extra>reactivation</extra>",
    )
    add_events(fig, events)
    return fig.update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title=f"% per {grain}",
        legend={"orientation": "h", "y": -0.2},
    )
