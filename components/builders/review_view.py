"""The KPI review as shown and as handed round: the table of both periods with each change's verdict, the journey
grid of period B coloured by the change, the clearest changes in words, and the report (XLSX and HTML)."""

from __future__ import annotations

import io
from datetime import datetime
from html import escape

import pandas as pd
import plotly.graph_objects as go
import polars as pl

from components.builders import journey_view, why_view
from components.builders.charts import localise
from data_access import exports, i18n, metrics
from data_access.filters import Filters, Period
from data_access.i18n import _
from data_access.queries import review

# a change's colour: only a significant change is a win or a loss (the status palette's good and bad tints)
VERDICT_TINT = {
    review.IMPROVED: journey_view.TINT[metrics.STATUS_GOOD],
    review.DECLINED: journey_view.TINT[metrics.STATUS_BAD],
    review.NO_CLEAR_CHANGE: "#ffffff",
    review.TOO_FEW: journey_view.TINT[metrics.STATUS_NO_DATA],
}
VERDICT_ICON = {review.IMPROVED: "▲", review.DECLINED: "▼", review.NO_CLEAR_CHANGE: "=", review.TOO_FEW: "…"}


def about(
    a: Period,
    b: Period,
    customers: Filters,
    fresh: datetime | None,
    min_n: int,
    saved: str | None = None,
    sidebar: bool = True,
) -> list[str]:
    """What a review covers, in words: its periods, its customers (a saved review's name; ``sidebar``: the page's
    sidebar period does not apply), how fresh its data is, and when a change counts."""
    return [
        _("Period A: {a} · period B: {b}").format(a=a.caption(), b=b.caption()),
        _("Customers: {customers}").format(customers=customers.customer_caption())
        + (
            " · " + _("saved review {name}").format(name=saved)
            if saved is not None
            else " " + _("(the sidebar's period does not apply here)")
            if sidebar
            else ""
        ),
        _("Data as of {moment} UTC").format(moment=i18n.moment(fresh)) if fresh else _("Data freshness unknown"),
        _(
            "A change is improved or declined only when it is significant (p < {level}) with at least {n} answers, "
            "tickets or customers behind both periods; otherwise no clear change."
        ).format(level=i18n.number(metrics.SIGNIFICANCE_LEVEL, 2), n=min_n),
    ]


def experiment_lines(judged: list) -> list[str]:
    """Each experiment's verdict in one line (markdown bold marks the verdict word), as the Experiments page says."""
    return [
        f"{info['experiment']} ({_(why_view.METRIC_WORDS[info['primary_metric']])}): {why_view.verdict_line(v)}"
        for info, _variants, verdicts in judged
        for v in verdicts
    ]


def report_lines(about_lines: list[str], tested: list[str]) -> list[str]:
    """The report's opening lines: what it covers, then each experiment's verdict in plain text."""
    return [*about_lines, *(_("Experiment {line}").format(line=line.replace("**", "")) for line in tested)]


def where_label(stage_id: str, names: dict[str, str]) -> str:
    return _("Whole journey") if stage_id == review.WHOLE_JOURNEY else names.get(stage_id, stage_id)


def table(frame: pl.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """One row per stage and KPI, in words and formatted numbers."""
    rows = []
    for r in frame.iter_rows(named=True):
        kpi = review.KPIS[r["metric"]]
        p = r["p_value"]
        rows.append(
            {
                _("Stage"): where_label(r["stage_id"], names),
                "KPI": _(kpi.label),
                "A": review.format_value(kpi, r["a"]),
                "n A": r["a_n"],
                "B": review.format_value(kpi, r["b"]),
                "n B": r["b_n"],
                _("Change"): review.format_change(kpi, r["change"]),
                "p": "–" if p is None else review.p_text(p).removeprefix("p = "),
                _("Verdict"): f"{VERDICT_ICON[r['verdict']]} {review.verdict_word(r['verdict'])}",
                _("Target"): "–" if r["target"] is None else review.format_value(kpi, r["target"]),
                _("Status (B)"): _(r["status"]) if r["status"] else "",
                **({_("Done"): r["done"] or "", _("Planned"): r["planned"] or ""} if "done" in r else {}),
            }
        )
    return pd.DataFrame(rows)


def styled_table(frame: pl.DataFrame, names: dict[str, str]) -> object:
    """:func:`table` with each row on its verdict's tint."""
    shown = table(frame, names)
    tints = [VERDICT_TINT[v] for v in frame["verdict"].to_list()]
    return shown.style.apply(lambda row: [f"background-color: {tints[row.name]}; color: #222"] * len(row), axis=1)


def change_grid(frame: pl.DataFrame, stages: pl.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Period B's journey grid: KPIs down, stages across (the whole journey last), each cell B's value and its
    change, on the verdict's tint. Returns (text, colours)."""
    order = [*stages["stage_id"].to_list(), review.WHOLE_JOURNEY]
    names = journey_view.stage_labels(stages)
    cells = {(r["stage_id"], r["metric"]): r for r in frame.iter_rows(named=True)}
    text, colours, labels = [], [], []
    for key, kpi in review.KPIS.items():
        if not any((s, key) in cells for s in order):
            continue
        row, tint = [], []
        for s in order:
            got = cells.get((s, key))
            if got is None or got["b"] is None:
                row.append("")
                tint.append("#ffffff")
                continue
            row.append(
                f"{VERDICT_ICON[got['verdict']]} {review.format_value(kpi, got['b'])} "
                f"({review.format_change(kpi, got['change'])}) · n {i18n.number(got['b_n'])}"
            )
            tint.append(VERDICT_TINT[got["verdict"]])
        text.append(row)
        colours.append(tint)
        labels.append(_(kpi.label))
    columns = [where_label(s, names) for s in order]
    return pd.DataFrame(text, index=labels, columns=columns), pd.DataFrame(colours, index=labels, columns=columns)


def legend() -> str:
    return (
        " ".join(
            f"<span style='background:{VERDICT_TINT[v]};border:1px solid #ccc;padding:1px 6px'>"
            f"{VERDICT_ICON[v]} {escape(review.verdict_word(v))}</span>"
            for v in (review.IMPROVED, review.DECLINED, review.NO_CLEAR_CHANGE, review.TOO_FEW)
        )
        + " · "
        + escape(_("improved and declined only where the change is significant (p < 0.05)"))
    )


def changes_chart(frame: pl.DataFrame, names: dict[str, str]) -> go.Figure:
    """The significant changes as bars (points of change), improvements and declines in their tints."""
    chosen = frame.filter(pl.col("verdict").is_in([review.IMPROVED, review.DECLINED]))
    labels = [
        f"{_(review.KPIS[m].label)}, {where_label(s, names)}"
        for s, m in zip(chosen["stage_id"], chosen["metric"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=chosen["change"].to_list(),
            y=labels,
            orientation="h",
            marker_color=["#0072B2" if v == review.IMPROVED else "#D55E00" for v in chosen["verdict"]],
            text=[
                review.format_change(review.KPIS[m], c) for m, c in zip(chosen["metric"], chosen["change"], strict=True)
            ],
            textposition="outside",
        )
    )
    fig.update_layout(
        title=_("Significant changes, B against A (blue improved, orange declined)"),
        height=max(220, 40 * chosen.height + 120),
        margin={"l": 10, "r": 40, "t": 50, "b": 30},
        xaxis_title=_("change (points; per customer for contacts)"),
        yaxis={"autorange": "reversed"},
    )
    return localise(fig)


def to_html(frame: pl.DataFrame, stages: pl.DataFrame, about: list[str], said: dict[str, list[str]]) -> str:
    """The review as one self-contained HTML page: what it covers first, the clearest changes, the chart (with
    plotly.js inlined: it opens offline), the grid of period B and the whole table."""
    names = dict(stages.select("stage_id", "name").iter_rows())
    text, colours = change_grid(frame, stages)
    grid = exports.html_table(journey_view.styled(text, colours))
    full = exports.html_table(styled_table(frame, names).hide(axis="index"))
    chart = changes_chart(frame, names).to_html(include_plotlyjs=True, full_html=False)
    none = escape(_("None significant."))
    lists = "".join(
        f"<h2>{escape(title)}</h2><ul>{''.join(f'<li>{escape(line)}</li>' for line in said.get(v, []))}</ul>"
        if said.get(v)
        else f"<h2>{escape(title)}</h2><p>{none}</p>"
        for v, title in ((review.IMPROVED, _("Improved")), (review.DECLINED, _("Declined")))
    )
    style = (
        "body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:13px}"
        "th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top}thead th{background:#f4f4f4}"
    )
    head = "".join(f"<p>{escape(line)}</p>" for line in about)
    title = escape(_("KPI review"))
    grid_title, table_title = escape(_("Period B's journey, coloured by the change")), escape(_("Every stage and KPI"))
    return (
        f"<!doctype html><html lang='{i18n.current()}'><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{style}</style></head><body><h1>{title}</h1>{head}{lists}{chart}"
        f"<h2>{grid_title}</h2>{grid}<p>{legend()}</p><h2>{table_title}</h2>{full}</body></html>"
    )


def to_xlsx(frame: pl.DataFrame, stages: pl.DataFrame, about: list[str], said: dict[str, list[str]]) -> bytes:
    """The review as a workbook: the figures (coloured by verdict, what the review covers on top), the clearest
    changes, and period B's grid with its colours."""
    from openpyxl import load_workbook
    from openpyxl.styles import Font

    book = load_workbook(io.BytesIO(review.to_xlsx(frame.drop("warn"), about)))
    changes = book.create_sheet(_("Changes")[:31])
    for verdict, title in ((review.IMPROVED, _("Improved")), (review.DECLINED, _("Declined"))):
        exports.append_row(changes, [title])
        changes.cell(row=changes.max_row, column=1).font = Font(bold=True)
        for line in said.get(verdict, []) or [_("None significant.")]:
            exports.append_row(changes, [line])
        changes.append([])
    changes.column_dimensions["A"].width = 120
    text, colours = change_grid(frame, stages)
    journey_view.write_grid(book.create_sheet(_("Grid of B")[:31]), text, colours)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
