"""Chart builders: each takes result-sized frames and returns a Plotly figure (no Streamlit here)."""

from __future__ import annotations

from datetime import date, datetime

import plotly.graph_objects as go
import polars as pl

from components.builders import status
from data_access import i18n, metrics
from data_access.i18n import _, ngettext


def localise(fig: go.Figure) -> go.Figure:
    """The figure's numbers in the current language: Plotly's decimal and thousands separators ("1 234,5" in
    Russian). Plotly names months in English only: outside English a date axis is written in digits
    ("01.03.2026"), and dates in hover text are written by the builders themselves."""
    fig.update_layout(separators=i18n.separators())
    if i18n.current() != i18n.SOURCE and any(
        len(t.x or ()) and isinstance(t.x[0], date | datetime) for t in fig.data if hasattr(t, "x")
    ):
        fig.update_xaxes(tickformat="%d.%m.%Y", hoverformat="%d.%m.%Y")
    return fig


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "%":
        return i18n.percent(value / 100, 1)
    if unit == "points":
        return ("+" if value > 0 else "") + i18n.number(value)
    return i18n.number(value, 2)


def unit_word(unit: str) -> str:
    """A metric's unit as an axis title says it: "%" stays, "points" and "score" in the current language."""
    return {"points": _("points"), "score": _("score")}.get(unit, unit)


def empty(text: str, height: int) -> go.Figure:
    """The empty state of a chart: a sentence where the chart would be."""
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5, font={"size": 15})
    return fig.update_layout(
        height=height, xaxis_visible=False, yaxis_visible=False, margin={"l": 10, "r": 10, "t": 30, "b": 10}
    )


def metric_by_stage(frame: pl.DataFrame, metric_name: str) -> go.Figure:
    """One bar per stage (map order) with its 95% interval, n, target marker and a status colour + word."""
    metric = metrics.METRICS[metric_name]
    m = metric_name
    rows = frame.filter(pl.col(f"{m}_n") > 0)
    fig = go.Figure()
    if rows.height == 0:
        return empty(_("No {metric} answers in this selection").format(metric=_(metric.label)), 380)
    values = rows[m].to_list()
    lo, hi = rows[f"{m}_lo"].to_list(), rows[f"{m}_hi"].to_list()
    statuses = rows[f"{m}_status"].to_list()
    # Value, n and status go under each bar, so they stay readable however short the bar is.
    labels = [
        f"{name}<br><b>{_fmt(v, metric.unit)}</b> · n={i18n.number(n)}<br>{status.badge(s)}"
        for name, v, n, s in zip(rows["name"].to_list(), values, rows[f"{m}_n"].to_list(), statuses, strict=True)
    ]
    fig.add_bar(
        x=labels,
        y=values,
        marker_color=[status.colour(s) for s in statuses],
        marker_pattern_shape=["/" if s == metrics.STATUS_NO_DATA else "" for s in statuses],
        error_y={
            "type": "data",
            "symmetric": False,
            "array": [h - v for h, v in zip(hi, values, strict=True)],
            "arrayminus": [v - low for v, low in zip(values, lo, strict=True)],
            "color": "#333",
        },
        name=_(metric.label),
        customdata=rows["stage_id"].to_list(),
        hovertemplate=_(metric.label)
        + " %{y:.1f}<br>"
        + _("click for this stage's trend and answers")
        + "<extra></extra>",
    )
    targets = rows[f"{m}_target"].to_list()
    if any(t is not None for t in targets):
        fig.add_scatter(
            x=labels,
            y=targets,
            mode="markers",
            name=_("target"),
            marker={"symbol": "line-ew-open", "size": 40, "color": "#000", "line": {"width": 3, "color": "#000"}},
            hovertemplate=_("target") + " %{y}<extra></extra>",
        )
    fig.update_layout(
        height=460,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        showlegend=False,
        yaxis_title=f"{_(metric.label)} ({unit_word(metric.unit)})",
        bargap=0.25,
    )
    return localise(fig)


def clicked_stage(event: object) -> str | None:
    """The stage of the bar clicked in :func:`metric_by_stage` (Streamlit's selection event), if any."""
    points = (getattr(event, "selection", None) or {}).get("points", [])
    for point in points:
        data = point.get("customdata")
        if isinstance(data, list):
            data = data[0] if data else None
        if data:
            return str(data)
    return None


def stage_trend(trend: pl.DataFrame, metric_name: str, target: float | None, stage_name: str) -> go.Figure:
    """A stage's metric by month: the value with its 95% band, n in the hover, the target as a dashed line."""
    metric = metrics.METRICS[metric_name]
    m = metric_name
    fig = go.Figure()
    if trend.height == 0:
        return empty(
            _("No {metric} figures for {stage} in this selection").format(metric=_(metric.label), stage=stage_name), 300
        )
    months = trend["month"].to_list()
    fig.add_scatter(
        x=months + months[::-1],
        y=trend[f"{m}_hi"].to_list() + trend[f"{m}_lo"].to_list()[::-1],
        fill="toself",
        fillcolor="rgba(0,114,178,0.15)",
        line={"width": 0},
        hoverinfo="skip",
        name=_("95%\u00a0interval"),
    )
    fig.add_scatter(
        x=months,
        y=trend[m].to_list(),
        mode="lines+markers",
        name=_(metric.label),
        line={"color": "#0072B2"},
        marker={"symbol": ["circle" if e else "circle-open" for e in trend[f"{m}_enough"].to_list()], "size": 8},
        customdata=list(zip([i18n.short_month(d) for d in months], trend[f"{m}_n"].to_list(), strict=True)),
        hovertemplate="%{customdata[0]}: %{y:.1f} (n=%{customdata[1]})<extra></extra>",
    )
    if target is not None:
        fig.add_hline(
            y=target,
            line_dash="dash",
            line_color="#000",
            annotation_text=_("target {value}").format(value=i18n.number(target, 1)),
        )
    return localise(fig).update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        showlegend=False,
        yaxis_title=f"{_(metric.label)} ({unit_word(metric.unit)})",
    )


def vertical_lines(fig: go.Figure, xs: list, color: str, width: float = 2) -> go.Figure:
    """Dotted vertical lines across the plot at ``xs``, added in one layout update: ``add_vline`` costs about 3 ms
    a line, which made the Overview's sparklines a tenth of the server's time under load (README, "Serving many
    users")."""
    if not xs:
        return fig
    line = {"dash": "dot", "color": color, "width": width}
    new = [{"type": "line", "x0": x, "x1": x, "y0": 0, "y1": 1, "xref": "x", "yref": "paper", "line": line} for x in xs]
    return fig.update_layout(shapes=[*fig.layout.shapes, *new])


def add_events(fig: go.Figure, events: pl.DataFrame) -> None:
    """Business events (releases, price changes, campaigns) as dashed vertical lines with their names."""
    vertical_lines(fig, events["occurred_at"].to_list(), "#777")
    for when, name, segment in events.select("occurred_at", "name", "segment").iter_rows():
        label = f"{name} ({segment})" if segment else name
        fig.add_annotation(
            x=when,
            y=1,
            yref="paper",
            text=label,
            showarrow=False,
            textangle=-90,
            xanchor="right",
            yanchor="top",
            font={"size": 10, "color": "#555"},
        )


def sparkline(line: pl.DataFrame, events: pl.DataFrame, unit: str, height: int = 46) -> go.Figure:
    """A headline figure month by month (``month``, ``value``): no axes, the value on hover, business events as
    dotted lines (named on hover)."""
    fig = go.Figure()
    if line.height == 0:
        return empty(_("no data"), height).update_annotations(font={"size": 11})
    suffix = "%" if unit == "%" else ""
    fig.add_scatter(
        x=line["month"].to_list(),
        y=line["value"].to_list(),
        customdata=[i18n.short_month(m) for m in line["month"]],
        mode="lines+markers",
        line={"color": "#0072B2", "width": 2},
        marker={"size": 3},
        hovertemplate=f"%{{customdata}}: %{{y:,.1f}}{suffix}<extra></extra>",
        connectgaps=False,
    )
    first, last = line["month"].min(), line["month"].max()
    rows = events.select("occurred_at", "name").iter_rows()
    shown = [(when, name) for when, name in rows if first <= when.date() <= last]
    vertical_lines(fig, [when for when, _name in shown], "#999", 1)
    if shown:  # one invisible marker per event, named on hover
        middle = line["value"].drop_nulls().mean()
        fig.add_scatter(
            x=[when for when, _name in shown],
            y=[middle] * len(shown),
            customdata=[f"{name} ({i18n.day(when)})" for when, name in shown],
            mode="markers",
            marker={"size": 8, "opacity": 0},
            hovertemplate="%{customdata}<extra></extra>",
        )
    return localise(fig).update_layout(
        height=height,
        margin={"l": 2, "r": 2, "t": 2, "b": 2},
        xaxis_visible=False,
        yaxis_visible=False,
        showlegend=False,
        hovermode="closest",
    )


def funnel_bars(steps: pl.DataFrame, names: dict[str, str], height: int = 170) -> go.Figure:
    """The funnel in brief: one bar per step, first step on top, with customers and the conversion from the step
    before written beside each bar."""
    labels = [names.get(s, s) for s in steps["stage_id"]]
    texts = [
        i18n.number(n) + (f" · {i18n.percent(c / 100)}" if c is not None else "")
        for n, c in zip(steps["customers"], steps["conversion_from_previous"], strict=True)
    ]
    hover = [
        ngettext("{stage}: {n} customer", "{stage}: {n} customers", n).format(stage=label, n=i18n.number(n))
        for label, n in zip(labels, steps["customers"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=steps["customers"].to_list(),
            y=labels,
            orientation="h",
            text=texts,
            textposition="outside",
            cliponaxis=False,
            marker_color="#0072B2",
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
        )
    )
    top = max(int(steps["customers"].max() or 0), 1)
    return localise(fig).update_layout(
        height=height,
        margin={"l": 4, "r": 4, "t": 2, "b": 2},
        font={"size": 11},
        xaxis={"visible": False, "range": [0, top * 1.45]},
        yaxis={"autorange": "reversed"},
        bargap=0.25,
    )
