"""The support page's tables and chart builders (result-sized frames in, Plotly figures and display frames out)."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

import plotly.graph_objects as go
import polars as pl

from components import status
from components.charts import add_events
from data_access import metrics

LINE_NAMES = {"1": "Line 1 (bot and operators)", "bot": "  of which entered via the bot", "2": "Line 2 (managers)",
              "3": "Line 3 (experts)", "all": "All tickets"}  # fmt: skip
LINE_ORDER = ("1", "bot", "2", "3", "all")
LINE_COLOURS = {"1": "#0072B2", "bot": "#56B4E9", "2": "#D55E00", "3": "#009E73", "all": "#555555"}
NOT_ENOUGH = "not enough data"


def _hours(column: str) -> pl.Expr:
    return (pl.col(column) / 3600).round(1)


def _rate(metric: str, min_n: int) -> pl.Expr:
    """ "62.4% (n=318)" or "not enough data (n=12)" or "–"."""
    n = pl.col(f"{metric}_n")
    value = pl.format("{}% (n={})", pl.col(metric).round(1), n)
    return (
        pl.when(n.is_null() | (n == 0))
        .then(pl.lit("–"))
        .when(n < min_n)
        .then(pl.format("{} (n={})", pl.lit(NOT_ENOUGH), n))
        .otherwise(value)
    )


def lines_table(frame: pl.DataFrame, reference: datetime | None, min_n: int) -> pl.DataFrame:
    """One row per line with every figure in words and numbers."""
    ordered = pl.DataFrame({"line": list(LINE_ORDER)}).join(frame, on="line", how="left")
    age = (
        ((pl.lit(reference) - pl.col("oldest_open")).dt.total_hours() / 24).round(1)
        if reference is not None
        else pl.lit(None, pl.Float64)
    )
    return ordered.select(
        pl.col("line").replace_strict(LINE_NAMES).alias("Line"),
        pl.col("tickets").alias("Tickets"),
        pl.col("share").round(1).alias("Share %"),
        pl.col("open").alias("Open"),
        age.alias("Oldest open, days"),
        (pl.col("median_first_response_seconds") / 60).round(1).alias("First response, median min"),
        (pl.col("p90_first_response_seconds") / 60).round(1).alias("First response, p90 min"),
        _hours("median_resolution_seconds").alias("Resolution, median h"),
        _hours("p90_resolution_seconds").alias("Resolution, p90 h"),
        pl.col("first_response_breaches").alias("SLA breaches, response"),
        pl.col("resolution_breaches").alias("SLA breaches, resolution"),
        _rate("fcr", min_n).alias("FCR"),
        _rate("reopen_rate", min_n).alias("Reopened"),
        _rate("ticket_csat", min_n).alias("CSAT"),
        _rate("escalation_rate", min_n).alias("Escalated"),
        _rate("containment", min_n).alias("Bot containment"),
        _rate("verified_containment", min_n).alias("Verified containment"),
    )


def rate_by_line(frame: pl.DataFrame, metric_name: str, min_n: int) -> go.Figure:
    """One bar per line with its 95% interval; lines below the minimum sample are hatched grey."""
    metric = metrics.METRICS[metric_name]
    m = metric_name
    rows = pl.DataFrame({"line": list(LINE_ORDER)}).join(frame, on="line", how="left").filter(pl.col(f"{m}_n") > 0)
    enough = [n >= min_n for n in rows[f"{m}_n"].to_list()]
    values = rows[m].to_list()
    fig = go.Figure(
        go.Bar(
            x=[f"{LINE_NAMES[v].strip()}<br>n={n:,}" for v, n in zip(rows["line"], rows[f"{m}_n"], strict=True)],
            y=values,
            marker_color=[
                LINE_COLOURS[v] if e else status.colour(metrics.STATUS_NO_DATA)
                for v, e in zip(rows["line"], enough, strict=True)
            ],
            marker_pattern_shape=["" if e else "/" for e in enough],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [h - v for h, v in zip(rows[f"{m}_hi"], values, strict=True)],
                "arrayminus": [v - lo for v, lo in zip(values, rows[f"{m}_lo"], strict=True)],
            },
            text=[f"{v:.1f}%" for v in values],
            textposition="inside",
            insidetextanchor="start",
        )
    )
    return fig.update_layout(
        height=340, margin={"l": 10, "r": 10, "t": 30, "b": 10}, yaxis_title=f"{metric.label} (%)", yaxis_range=[0, 105]
    )


def trend_figure(trend: pl.DataFrame, metric_name: str, events: pl.DataFrame) -> go.Figure:
    """The metric by period, a line per support line, business events as dashed markers."""
    metric = metrics.METRICS[metric_name]
    fig = go.Figure()
    for line in LINE_ORDER:
        rows = trend.filter((pl.col("line") == line) & (pl.col(f"{metric_name}_n") > 0))
        if rows.height == 0:
            continue
        fig.add_scatter(
            x=rows["period"].to_list(),
            y=rows[metric_name].to_list(),
            mode="lines+markers",
            name=LINE_NAMES[line].strip(),
            line={"color": LINE_COLOURS[line]},
            customdata=rows[f"{metric_name}_n"].to_list(),
            hovertemplate="%{x|%d %b %Y}: %{y:.1f}% (n=%{customdata})<extra></extra>",
        )
    add_events(fig, events)
    return fig.update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title=f"{metric.label} (%)",
        legend={"orientation": "h", "y": -0.2},
    )


def cluster_heatmap(clusters: pl.DataFrame, min_n: int) -> go.Figure:
    """FCR per problem category and line: the weak cells stand out; cells below the minimum sample are blank."""
    categories = sorted(clusters["category"].unique().to_list())
    lines = ["1", "2", "3"]
    z, text = [], []
    for category in categories:
        row_z, row_t = [], []
        for line in lines:
            cell = clusters.filter((pl.col("category") == category) & (pl.col("line") == line))
            if cell.height == 0 or (cell["fcr_n"][0] or 0) < min_n:
                row_z.append(None)
                row_t.append(NOT_ENOUGH if cell.height else "–")
            else:
                row_z.append(cell["fcr"][0])
                row_t.append(f"{cell['fcr'][0]:.0f}%<br>n={cell['fcr_n'][0]:,}")
        z.append(row_z)
        text.append(row_t)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[LINE_NAMES[v] for v in lines],
            y=categories,
            text=text,
            texttemplate="%{text}",
            colorscale="Cividis",
            zmin=0,
            zmax=100,
            colorbar={"title": "FCR %"},
        )
    )
    return fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10})


def cluster_trend_figure(trend: pl.DataFrame, events: pl.DataFrame) -> go.Figure:
    fig = go.Figure()
    for category in sorted(trend["category"].unique().to_list()):
        rows = trend.filter(pl.col("category") == category)
        fig.add_scatter(x=rows["period"].to_list(), y=rows["tickets"].to_list(), mode="lines", name=category)
    add_events(fig, events)
    return fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title="tickets",
        legend={"orientation": "h", "y": -0.2},
    )


def sankey(flow: pl.DataFrame) -> go.Figure:
    """Entry channel -> line 1 -> line 2 -> line 3 -> resolved / still open (bot resolutions end at the bot)."""
    links: dict[tuple[str, str], int] = {}

    def add(a: str, b: str, n: int) -> None:
        links[(a, b)] = links.get((a, b), 0) + n

    for entry, line, by_bot, outcome, n in flow.select(
        "entry_channel", "final_line", "bot_resolved", "outcome", "tickets"
    ).iter_rows():
        path = [f"in: {entry}"]
        path += ["Bot"] if by_bot else [f"Line {k}" for k in range(1, line + 1)]
        path.append(outcome)
        for a, b in pairwise(path):
            add(a, b, n)
    nodes = sorted({x for pair in links for x in pair}, key=lambda x: (not x.startswith("in:"), x))
    index = {name: i for i, name in enumerate(nodes)}
    fig = go.Figure(
        go.Sankey(
            node={"label": nodes, "pad": 18},
            link={
                "source": [index[a] for a, _ in links],
                "target": [index[b] for _, b in links],
                "value": list(links.values()),
            },
        )
    )
    return fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 30, "b": 10})


def agents_table(agents: pl.DataFrame, min_n: int) -> pl.DataFrame:
    return agents.select(
        pl.col("final_line").alias("Line"),
        pl.col("agent_id").alias("Agent"),
        pl.col("tickets").alias("Tickets"),
        pl.when(pl.col("fcr_n") >= min_n).then(pl.col("fcr").round(1)).alias("FCR %"),
        pl.col("fcr_n").alias("FCR n"),
        pl.when(pl.col("ticket_csat_n") >= min_n).then(pl.col("ticket_csat").round(1)).alias("CSAT %"),
        pl.col("ticket_csat_n").alias("CSAT n"),
        pl.when(pl.col("reopen_rate_n") >= min_n).then(pl.col("reopen_rate").round(1)).alias("Reopened %"),
        _hours("median_resolution_seconds").alias("Resolution, median h"),
        pl.when(pl.col("leaves_unresolved"))
        .then(pl.lit("leaves requests unresolved"))
        .otherwise(pl.when(pl.col("fcr_n") < min_n).then(pl.lit(NOT_ENOUGH)).otherwise(pl.lit("")))
        .alias("Note"),
    )


def escalation_sentence(frame: pl.DataFrame) -> str:
    """How many tickets line 1 handed to line 2, and line 2 to line 3 (by the highest line that worked on them)."""
    count = dict(zip(frame["line"].to_list(), frame["tickets"].to_list(), strict=True))
    total, beyond_1, at_3 = count.get("all", 0), count.get("2", 0) + count.get("3", 0), count.get("3", 0)
    if not total:
        return "No tickets."
    up = f"{100 * beyond_1 / total:.1f}% of tickets went from line 1 to line 2 ({beyond_1:,} of {total:,})"
    if not beyond_1:
        return up + "."
    return up + f"; {100 * at_3 / beyond_1:.1f}% of those went on to line 3 ({at_3:,} of {beyond_1:,})."


def clusters_table(clusters: pl.DataFrame, min_n: int) -> pl.DataFrame:
    return clusters.select(
        pl.col("category").alias("Cluster"),
        pl.col("line").alias("Line"),
        pl.col("tickets").alias("Tickets"),
        _rate("fcr", min_n).alias("FCR"),
        _rate("ticket_csat", min_n).alias("CSAT"),
        _hours("median_resolution_seconds").alias("Resolution, median h"),
    )
