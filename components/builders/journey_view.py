"""The journey map grid: lanes down, stages across, metric cells coloured by their status (with the value, n and
an icon, so colour is never the only cue), pains and moments of truth marked where the stage has a red metric."""

from __future__ import annotations

import io
import re
from html import escape

import pandas as pd
import plotly.graph_objects as go
import polars as pl

from components.builders import status
from components.builders.charts import localise
from data_access import exports, i18n, metrics
from data_access.filters import dimension_label
from data_access.i18n import N_, _
from data_access.queries.journey import LANES_BY_KEY, LIVE_LANES

# light tints of the status colours: the text stays readable on them
TINT = {
    metrics.STATUS_GOOD: "#cfe3f1",
    metrics.STATUS_WARN: "#f8e3b5",
    metrics.STATUS_BAD: "#f4c7ab",
    metrics.STATUS_NO_TARGET: "#ffffff",
    metrics.STATUS_NO_DATA: "#eeeeee",
}
FLAGGED = "#fbe0d6"  # a pain or moment of truth where the stage hurts
PHASE_LANE = "phase"  # the header row that groups the stages by their phase (stages.phase)
PHASE_BANDS = ("#e4e4ee", "#f4f4f4")  # neighbouring phases alternate between these
QUALITATIVE_LABELS = {  # schema.MAP_LANES as a row heading says them
    "actions": N_("Actions"),
    "thoughts": N_("Thoughts"),
    "feelings": N_("Feelings"),
    "touchpoints": N_("Touchpoints"),
    "company_actions": N_("Company actions"),
    "pains": N_("Pains"),
    "opportunities": N_("Opportunities"),
    "departments": N_("Departments"),
    "jtbd": N_("Jobs to be done"),
    "moments_of_truth": N_("Moments of truth"),
    "expectations": N_("Expectations"),
    PHASE_LANE: N_("Phase"),
}


def lane_label(lane: str) -> str:
    """A lane of the map (qualitative or live) in the current language."""
    if lane in LANES_BY_KEY:
        return _(LANES_BY_KEY[lane].label)
    return _(QUALITATIVE_LABELS.get(lane, lane))


FLAG_LANES = ("pains", "moments_of_truth")


def stage_labels(stages: pl.DataFrame) -> dict[str, str]:
    """Each stage's column heading: its name, with its key after it where two stages share a name (a grid's
    columns must differ)."""
    names = dict(stages.select("stage_id", "name").iter_rows())
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    return {s: name if counts[name] == 1 else f"{name} ({s})" for s, name in names.items()}


def _value(lane_key: str, value: float | None) -> str:
    lane = LANES_BY_KEY[lane_key]
    if value is None:
        return "–"
    if lane.unit == "count":
        return i18n.number(value)
    if lane.unit == "%":
        return i18n.percent(value / 100, 1)
    if lane.unit == "points":
        return ("+" if value > 0 else "") + i18n.number(value)
    if lane.unit == "days":
        return _("{days} d").format(days=i18n.number(value, 1))
    return i18n.number(value, 2) if lane.unit == "score" else i18n.number(value, 1)


def grid(
    stages: pl.DataFrame, cells: pl.DataFrame, live: pl.DataFrame, lanes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(the grid's text, the background colour of each cell, the lane key of each row). ``lanes``: the qualitative
    lanes to show, in order; every live lane follows them. Where the stages have phases, a first row names each
    stage's phase, neighbouring phases on alternating bands."""
    names = stage_labels(stages)
    order = stages["stage_id"].to_list()
    hurt = set(live.filter(pl.col("status") == metrics.STATUS_BAD)["stage_id"].to_list())
    text = {(r["stage_id"], r["lane"]): r["text"] for r in cells.iter_rows(named=True)}
    figures = {(r["stage_id"], r["lane"]): r for r in live.iter_rows(named=True)}
    rows, colours, keys, labels = [], [], [], []
    phases = stages["phase"].to_list() if "phase" in stages.columns else [None] * len(order)
    if any(phases):
        rows.append([p or "" for p in phases])
        colours.append([PHASE_BANDS[band % 2] for band in phase_bands(phases)])
        keys.append(PHASE_LANE)
        labels.append(lane_label(PHASE_LANE))
    for lane in lanes:
        rows.append([text.get((s, lane), "") for s in order])
        flag = lane in FLAG_LANES
        colours.append([FLAGGED if flag and s in hurt and text.get((s, lane)) else "#ffffff" for s in order])
        keys.append(lane)
        labels.append(lane_label(lane))
    for lane in LIVE_LANES:
        row, colour = [], []
        for s in order:
            got = figures.get((s, lane.key))
            if got is None:
                row.append("")
                colour.append("#ffffff")
                continue
            icon = status.STYLE.get(got["status"], status.STYLE[metrics.STATUS_NO_DATA])[1]
            if lane.key == "customers":
                row.append(_value(lane.key, got["value"]))
            elif not got["n"] or got["value"] is None:
                row.append(_("no data"))
            elif lane.higher_is_better is None or got["status"] == metrics.STATUS_NO_TARGET:
                row.append(f"{_value(lane.key, got['value'])} · n {i18n.number(got['n'])}")
            else:
                row.append(f"{icon} {_value(lane.key, got['value'])} · n {i18n.number(got['n'])}")
            colour.append(TINT.get(got["status"], "#ffffff"))
        rows.append(row)
        colours.append(colour)
        keys.append(lane.key)
        labels.append(_(lane.label))
    columns = [names[s] for s in order]
    return (
        pd.DataFrame(rows, index=labels, columns=columns),
        pd.DataFrame(colours, index=labels, columns=columns),
        keys,
    )


def phase_bands(phases: list[str | None]) -> list[int]:
    """The band of each stage (0, 1, 2...): a new band starts wherever the phase changes from the stage before."""
    bands, band = [], 0
    for i, phase in enumerate(phases):
        if i and phase != phases[i - 1]:
            band += 1
        bands.append(band)
    return bands


COMPACT_CHARS = 13  # a cell's text in the whole-map view: about what a narrow column shows
COMPACT_WIDTH = 82  # pixels per stage: ten stages and the lane names fit a 1440-pixel window beside the sidebar
_SAMPLE_SIZE = re.compile(r" · n [\d\s.,\u00a0\u202f]+$")


def compact(text: pd.DataFrame) -> pd.DataFrame:
    """The grid for the whole map at once: a figure keeps its status icon and value but not its n (the opened cell
    gives it), a text is cut to :data:`COMPACT_CHARS` (an ellipsis says so)."""

    def short(value: str) -> str:
        value = _SAMPLE_SIZE.sub("", value)
        return value if len(value) <= COMPACT_CHARS else value[: COMPACT_CHARS - 1].rstrip() + "…"

    return text.map(short)


def styled(text: pd.DataFrame, colours: pd.DataFrame) -> object:
    """The grid as a pandas Styler: each cell on its status colour."""
    return text.style.apply(lambda _: colours.map(lambda c: f"background-color: {c}; color: #222"), axis=None)


def emotion_curve(live: pl.DataFrame, stages: pl.DataFrame) -> go.Figure:
    """The map's emotion curve: the mean CSAT score (1-5) of each stage, in map order, with its n."""
    names = dict(stages.select("stage_id", "name").iter_rows())
    order = stages["stage_id"].to_list()
    points = {r["stage_id"]: r for r in live.filter(pl.col("lane") == "emotion").iter_rows(named=True)}
    xs = [names[s] for s in order if s in points and points[s]["value"] is not None]
    ys = [points[s]["value"] for s in order if s in points and points[s]["value"] is not None]
    ns = [points[s]["n"] for s in order if s in points and points[s]["value"] is not None]
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines+markers+text",
            text=[i18n.number(y, 2) for y in ys],
            textposition="top center",
            customdata=ns,
            hovertemplate="%{x}: %{y:.2f} (n=%{customdata})<extra></extra>",
            line={"color": "#CC79A7", "shape": "spline"},
        )
    )
    return localise(fig).update_layout(
        height=220,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"range": [1, 5.4], "title": _("mean CSAT (1-5)")},
    )


def legend() -> str:
    swatches = " · ".join(
        f"<span style='background:{TINT[s]};padding:0 6px;border:1px solid #ccc'>{status.badge(s)}</span>"
        for s in (metrics.STATUS_GOOD, metrics.STATUS_WARN, metrics.STATUS_BAD, metrics.STATUS_NO_DATA)
    )
    flagged = escape(_("a pain or moment of truth where the stage has a metric off target"))
    return f"{swatches} · <span style='background:{FLAGGED};padding:0 6px;border:1px solid #ccc'>{flagged}</span>"


CHANGED = "#f8e3b5"  # a cell that differs between the two maps compared (marked with ≠ too)


def differences(stages: pl.DataFrame, a: pl.DataFrame, b: pl.DataFrame, lanes: list[str]) -> pl.DataFrame:
    """Cells of ``lanes`` that differ between maps a and b: stage, lane, a, b, change (added, removed, changed)."""
    names = dict(stages.select("stage_id", "name").iter_rows())
    pair = (
        a.filter(pl.col("lane").is_in(lanes))
        .join(b.filter(pl.col("lane").is_in(lanes)), on=["stage_id", "lane"], how="full", coalesce=True, suffix="_b")
        .filter(pl.col("text").fill_null("") != pl.col("text_b").fill_null(""))
    )
    order = {s: i for i, s in enumerate(stages["stage_id"])}
    lane_order = {lane: i for i, lane in enumerate(lanes)}
    return (
        pair.with_columns(
            pl.when(pl.col("text").is_null())
            .then(pl.lit(_("added")))
            .when(pl.col("text_b").is_null())
            .then(pl.lit(_("removed")))
            .otherwise(pl.lit(_("changed")))
            .alias("change"),
            pl.col("stage_id").replace_strict(order, default=len(order)).alias("_s"),
            pl.col("lane").replace_strict(lane_order, default=len(lanes)).alias("_l"),
        )
        .sort("_s", "_l")
        .select(
            pl.col("stage_id").replace_strict(names, default=None).fill_null(pl.col("stage_id")).alias("stage"),
            pl.col("lane").replace_strict({k: lane_label(k) for k in lanes}, default=pl.col("lane")).alias("lane"),
            pl.col("text").alias("a"),
            pl.col("text_b").alias("b"),
            "change",
        )
    )


def compare_grid(
    stages: pl.DataFrame, a: pl.DataFrame, b: pl.DataFrame, lanes: list[str], a_name: str, b_name: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two maps side by side: for each lane a row per map, stages across; cells that differ are marked ≠ and
    tinted in both rows."""
    order = stages["stage_id"].to_list()
    names = stage_labels(stages)
    texts = [{(r["stage_id"], r["lane"]): r["text"] or "" for r in frame.iter_rows(named=True)} for frame in (a, b)]
    rows, colours, labels = [], [], []
    for lane in lanes:
        for which, map_name in enumerate((a_name, b_name)):
            row, colour = [], []
            for s in order:
                mine, other = texts[which].get((s, lane), ""), texts[1 - which].get((s, lane), "")
                differ = mine != other
                row.append("≠ " + (mine or _("(empty)")) if differ else mine)
                colour.append(CHANGED if differ else "#ffffff")
            rows.append(row)
            colours.append(colour)
            labels.append(f"{lane_label(lane)} · {map_name}")
    columns = [names[s] for s in order]
    return pd.DataFrame(rows, index=labels, columns=columns), pd.DataFrame(colours, index=labels, columns=columns)


def no_cells() -> pl.DataFrame:
    return pl.DataFrame(schema={"stage_id": pl.String, "lane": pl.String, "text": pl.String})


def stage_figures(live: pl.DataFrame, stage_id: str) -> pl.DataFrame:
    """Every live figure of one stage: lane, value, n, target, status."""
    rows = {r["lane"]: r for r in live.filter(pl.col("stage_id") == stage_id).iter_rows(named=True)}
    return pl.DataFrame(
        [
            (
                _(lane.label),
                _value(lane.key, rows[lane.key]["value"]),
                rows[lane.key]["n"],
                rows[lane.key]["target"],
                status.badge(rows[lane.key]["status"]) if lane.higher_is_better is not None else "",
            )
            for lane in LIVE_LANES
            if lane.key in rows
        ],
        schema={
            _("figure"): pl.String,
            _("value"): pl.String,
            "n": pl.Int64,
            _("target"): pl.Float64,
            _("status"): pl.String,
        },
        orient="row",
    )


def breakdown_label(by: str) -> str:
    """A breakdown's name as a user reads it."""
    return _("problem type") if by == "category" else dimension_label(by)


def breakdown_table(split: pl.DataFrame, metric_name: str, by: str) -> pl.DataFrame:
    """A stage's metric per value of a customer attribute, with n and the 95% interval."""
    m = metric_name
    label = _(metrics.METRICS[m].label)
    return split.select(
        pl.col("value").alias(by[:1].upper() + by[1:]),
        pl.col(m).round(1).alias(label),
        pl.col(f"{m}_n").alias("n"),
        pl.col(f"{m}_lo").round(1).alias(_("95%\u00a0low")),
        pl.col(f"{m}_hi").round(1).alias(_("95%\u00a0high")),
        pl.when(pl.col(f"{m}_enough")).then(pl.lit("")).otherwise(pl.lit(_("few answers"))).alias(_("note")),
    )


def to_html(text: pd.DataFrame, colours: pd.DataFrame, title: str, caption: str) -> str:
    """The grid as a standalone HTML page (colours, legend and what it shows included), for a review deck."""
    table = exports.html_table(styled(text, colours).set_table_attributes('class="map"'))
    style = (
        "body{font-family:system-ui,sans-serif;margin:24px;color:#222}"
        "table.map{border-collapse:collapse;font-size:13px}"
        "table.map th,table.map td{border:1px solid #ccc;padding:6px 8px;vertical-align:top;max-width:220px}"
        "table.map thead th{background:#f4f4f4}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title><style>{style}</style>"
        f"</head><body><h1>{escape(title)}</h1><p>{escape(caption)}</p>{table}<p>{legend()}</p></body></html>"
    )


def to_xlsx(text: pd.DataFrame, colours: pd.DataFrame, title: str, caption: str) -> bytes:
    """The grid as an XLSX sheet with the cells' colours kept."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = _("Journey map")[:31]
    exports.append_row(sheet, [title])
    exports.append_row(sheet, [caption])
    sheet["A1"].font = Font(bold=True, size=14)
    write_grid(sheet, text, colours)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_grid(sheet: object, text: pd.DataFrame, colours: pd.DataFrame) -> None:
    """Appends a grid to an openpyxl sheet: a header row of the columns, then each row's label and cells on their
    colours (wrapped, bold labels)."""
    from openpyxl.styles import Alignment, Font, PatternFill

    exports.append_row(sheet, ["", *text.columns])
    header = sheet.max_row
    for label, values in zip(text.index, text.itertuples(index=False), strict=True):
        exports.append_row(sheet, [label, *values])
    for cell in sheet[header]:
        cell.font = Font(bold=True)
    for r, row in enumerate(colours.itertuples(index=False), start=header + 1):
        sheet.cell(row=r, column=1).font = Font(bold=True)
        for c, colour in enumerate(row, start=2):
            cell = sheet.cell(row=r, column=c)
            cell.fill = PatternFill("solid", fgColor=colour.lstrip("#").upper())
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 28
    for c in range(2, len(text.columns) + 2):
        sheet.column_dimensions[sheet.cell(row=header, column=c).column_letter].width = 28
