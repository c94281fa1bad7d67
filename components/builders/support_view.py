"""The support page's tables and chart builders (result-sized frames in, Plotly figures and display frames out)."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

import plotly.graph_objects as go
import polars as pl

from components.builders import labels, status
from components.builders.charts import add_events, localise
from data_access import i18n, metrics
from data_access.i18n import N_, _

LINE_NAMES = {"1": N_("Line 1 (bot and operators)"), "bot": N_("of which entered via the bot"),
              "2": N_("Line 2 (managers)"), "3": N_("Line 3 (experts)"), "all": N_("All tickets")}  # fmt: skip
LINE_ORDER = ("1", "bot", "2", "3", "all")
LINE_COLOURS = {"1": "#0072B2", "bot": "#56B4E9", "2": "#D55E00", "3": "#009E73", "all": "#555555"}


def line_name(line: str) -> str:
    """A support line in words, in the current language ("bot" is indented under line 1 in a table)."""
    return _(LINE_NAMES[line])


def _hours(column: str) -> pl.Expr:
    return (pl.col(column) / 3600).round(1)


def _rates(frame: pl.DataFrame, metric: str, min_n: int) -> list[str]:
    """ "62.4% (n=318)" or "not enough data (n=12)" or "–" per row."""
    out = []
    for value, n in frame.select(metric, f"{metric}_n").iter_rows():
        if not n or value is None:
            out.append("–")
        elif n < min_n:
            out.append(f"{_(metrics.STATUS_NO_DATA)} (n={i18n.number(n)})")
        else:
            out.append(f"{i18n.percent(value / 100, 1)} (n={i18n.number(n)})")
    return out


def lines_table(frame: pl.DataFrame, reference: datetime | None, min_n: int) -> pl.DataFrame:
    """One row per line with every figure in words and numbers."""
    ordered = pl.DataFrame({"line": list(LINE_ORDER)}).join(frame, on="line", how="left")
    age = (
        # cast: with no open ticket the store's column comes back all null, typed Null
        ((pl.lit(reference) - pl.col("oldest_open").cast(pl.Datetime("us"))).dt.total_hours() / 24).round(1)
        if reference is not None
        else pl.lit(None, pl.Float64)
    )
    table = ordered.select(
        pl.col("line").replace_strict({v: ("  " if v == "bot" else "") + line_name(v) for v in LINE_ORDER}),
        "tickets",
        pl.col("share").round(1),
        "open",
        age.alias("age"),
        (pl.col("median_first_response_seconds") / 60).round(1),
        (pl.col("p90_first_response_seconds") / 60).round(1),
        _hours("median_resolution_seconds"),
        _hours("p90_resolution_seconds"),
        "first_response_breaches",
        "resolution_breaches",
    )
    table.columns = [
        _("Line"),
        _("Tickets"),
        _("Share %"),
        _("Open"),
        _("Oldest open, days"),
        _("First response, median min"),
        _("First response, p90 min"),
        _("Resolution, median h"),
        _("Resolution, p90 h"),
        _("SLA breaches, response"),
        _("SLA breaches, resolution"),
    ]
    rates = {
        "fcr": "FCR",
        "reopen_rate": N_("Reopened"),
        "ticket_csat": "CSAT",
        "escalation_rate": N_("Escalated"),
        "containment": N_("Bot containment"),
        "verified_containment": N_("Verified containment"),
    }
    return table.with_columns(pl.Series(_(name), _rates(ordered, m, min_n)) for m, name in rates.items())


def rate_by_line(frame: pl.DataFrame, metric_name: str, min_n: int) -> go.Figure:
    """One bar per line with its 95% interval; lines below the minimum sample are hatched grey."""
    metric = metrics.METRICS[metric_name]
    m = metric_name
    rows = pl.DataFrame({"line": list(LINE_ORDER)}).join(frame, on="line", how="left").filter(pl.col(f"{m}_n") > 0)
    enough = [n >= min_n for n in rows[f"{m}_n"].to_list()]
    values = rows[m].to_list()
    fig = go.Figure(
        go.Bar(
            x=[f"{line_name(v)}<br>n={i18n.number(n)}" for v, n in zip(rows["line"], rows[f"{m}_n"], strict=True)],
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
            text=[i18n.percent(v / 100, 1) for v in values],
            textposition="inside",
            insidetextanchor="start",
        )
    )
    return localise(fig).update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title=f"{_(metric.label)} (%)",
        yaxis_range=[0, 105],
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
            name=line_name(line),
            line={"color": LINE_COLOURS[line]},
            customdata=list(zip([i18n.day(p) for p in rows["period"]], rows[f"{metric_name}_n"], strict=True)),
            hovertemplate="%{customdata[0]}: %{y:.1f}% (n=%{customdata[1]})<extra></extra>",
        )
    add_events(fig, events)
    return localise(fig).update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title=f"{_(metric.label)} (%)",
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
                row_t.append(_(metrics.STATUS_NO_DATA) if cell.height else "–")
            else:
                row_z.append(cell["fcr"][0])
                row_t.append(f"{i18n.percent(cell['fcr'][0] / 100)}<br>n={i18n.number(cell['fcr_n'][0])}")
        z.append(row_z)
        text.append(row_t)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[line_name(v) for v in lines],
            y=categories,
            text=text,
            texttemplate="%{text}",
            colorscale="Cividis",
            zmin=0,
            zmax=100,
            colorbar={"title": "FCR %"},
            hovertemplate="%{y}, %{x}: %{text}<extra></extra>",
        )
    )
    return localise(fig).update_layout(height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10})


def cluster_trend_figure(trend: pl.DataFrame, events: pl.DataFrame) -> go.Figure:
    fig = go.Figure()
    for category in sorted(trend["category"].unique().to_list()):
        rows = trend.filter(pl.col("category") == category)
        fig.add_scatter(x=rows["period"].to_list(), y=rows["tickets"].to_list(), mode="lines", name=category)
    add_events(fig, events)
    return localise(fig).update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title=_("tickets"),
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
        path = [_("in: {channel}").format(channel=entry)]
        path += [_("Bot")] if by_bot else [_("Line {n}").format(n=k) for k in range(1, line + 1)]
        path.append(_(outcome))
        for a, b in pairwise(path):
            add(a, b, n)
    entries = {a for a, _b in links} - {b for _a, b in links}  # the channels: where no link arrives
    nodes = sorted({x for pair in links for x in pair}, key=lambda x: (x not in entries, x))
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
    return localise(fig).update_layout(height=420, margin={"l": 10, "r": 10, "t": 30, "b": 10})


def agents_table(agents: pl.DataFrame, min_n: int) -> pl.DataFrame:
    return agents.select(
        pl.col("final_line").alias(_("Line")),
        pl.col("agent_id").alias(_("Agent")),
        pl.col("tickets").alias(_("Tickets")),
        pl.when(pl.col("fcr_n") >= min_n).then(pl.col("fcr").round(1)).alias("FCR %"),
        pl.col("fcr_n").alias("FCR n"),
        pl.when(pl.col("ticket_csat_n") >= min_n).then(pl.col("ticket_csat").round(1)).alias("CSAT %"),
        pl.col("ticket_csat_n").alias("CSAT n"),
        pl.when(pl.col("reopen_rate_n") >= min_n).then(pl.col("reopen_rate").round(1)).alias(_("Reopened %")),
        _hours("median_resolution_seconds").alias(_("Resolution, median h")),
        pl.when(pl.col("leaves_unresolved"))
        .then(pl.lit(_("leaves requests unresolved")))
        .otherwise(pl.when(pl.col("fcr_n") < min_n).then(pl.lit(_(metrics.STATUS_NO_DATA))).otherwise(pl.lit("")))
        .alias(_("Note")),
    )


def escalation_sentence(frame: pl.DataFrame) -> str:
    """How many tickets line 1 handed to line 2, and line 2 to line 3 (by the highest line that worked on them)."""
    count = dict(zip(frame["line"].to_list(), frame["tickets"].to_list(), strict=True))
    total, beyond_1, at_3 = count.get("all", 0), count.get("2", 0) + count.get("3", 0), count.get("3", 0)
    if not total:
        return _("No tickets.")
    up = _("{share} of tickets went from line 1 to line 2 ({n} of {of})").format(
        share=i18n.percent(beyond_1 / total, 1), n=i18n.number(beyond_1), of=i18n.number(total)
    )
    if not beyond_1:
        return up + "."
    return up + _("; {share} of those went on to line 3 ({n} of {of}).").format(
        share=i18n.percent(at_3 / beyond_1, 1), n=i18n.number(at_3), of=i18n.number(beyond_1)
    )


def clusters_table(clusters: pl.DataFrame, min_n: int) -> pl.DataFrame:
    table = clusters.select(
        pl.col("category").alias(_("Cluster")),
        pl.col("line").alias(_("Line")),
        pl.col("tickets").alias(_("Tickets")),
    )
    return table.with_columns(
        pl.Series("FCR", _rates(clusters, "fcr", min_n)),
        pl.Series("CSAT", _rates(clusters, "ticket_csat", min_n)),
        pl.Series(_("Resolution, median h"), (clusters["median_resolution_seconds"] / 3600).round(1)),
    )


LIVE_HEADERS = {
    "opened_at": N_("opened"),
    "ticket_id": N_("ticket"),
    "final_line": N_("line"),
    "category": N_("category"),
    "status": N_("status"),
    "csat": N_("rating"),
    "segment": N_("segment"),
}


def live_table(tickets: pl.DataFrame) -> pl.DataFrame:
    """The live panel's newest tickets as a reader takes them: headers in words, the status in the current
    language, and a dash where a ticket has no rating (not "None")."""
    shown = labels.words(tickets, "status").with_columns(
        pl.col("csat").cast(pl.String).fill_null("–"), pl.col("category").fill_null("–")
    )
    return shown.rename({c: _(LIVE_HEADERS[c]) for c in shown.columns if c in LIVE_HEADERS})
