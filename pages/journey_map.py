"""Journey map: the CX team's map made live. Lanes down, stages across; metric lanes coloured against the targets;
a click on a cell opens the numbers and the rows behind it (kept in the link)."""

import streamlit as st

from components import downloads, session, shell
from components.builders import charts, journey_view, labels, tables
from data_access import i18n, metrics, schema
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.i18n import _, ngettext
from data_access.queries import funnel, kpis
from data_access.queries.journey import LINE_LANES

url, chosen = shell.start("journey_map")
stages = session.guarded(cache.stages, url)
if stages.height == 0:
    st.info(_("The store has no stages yet. Load `stages` (and the other tables) on the Data page."))
    st.stop()
maps = session.guarded(cache.journey_maps, url)
left, right = st.columns([2, 3])
if maps and st.query_params.get("map") in maps and "journey_map" not in st.session_state:
    st.session_state["journey_map"] = st.query_params["map"]
chosen_map = left.selectbox(_("Map"), maps, key="journey_map") if maps else None
lanes = right.multiselect(
    _("Lanes of the map"),
    list(schema.MAP_LANES),
    default=["actions", "feelings", "touchpoints", "pains", "opportunities", "moments_of_truth"],
    format_func=journey_view.lane_label,
    key="journey_lanes",
)
if chosen_map:
    st.query_params["map"] = chosen_map
else:
    st.caption(_("No journey map in the store yet (table `journey_map`): the metric lanes alone are shown."))
cells = session.guarded(cache.journey_cells, url, chosen_map) if chosen_map else None
live = session.guarded(cache.journey_live, url, chosen, SETTINGS.min_n)
text, colours, keys = journey_view.grid(stages, cells if cells is not None else journey_view.no_cells(), live, lanes)
st.caption(
    chosen.caption()
    + " · "
    + _(
        "metric cells: value · n · status against the targets (fewer than {n} answers: not judged) · click a cell "
        "for the numbers and the rows behind it"
    ).format(n=SETTINGS.min_n)
)

# a shared link opens with its cell selected
stage_ids = stages["stage_id"].to_list()
names = dict(stages.select("stage_id", "name").iter_rows())
wanted_stage, wanted_lane = st.query_params.get("stage"), st.query_params.get("lane")
if "journey_grid" not in st.session_state and wanted_stage in names and wanted_lane in keys:
    st.session_state["journey_grid"] = {
        "selection": {
            "cells": [[keys.index(wanted_lane), journey_view.stage_labels(stages)[wanted_stage]]],
            "rows": [],
            "columns": [],
        }
    }
whole = st.toggle(
    _("The whole map at once"),
    key="journey_compact",
    help=_(
        "Every stage in view: narrow columns, each text cut short and each figure without its n (click a cell for "
        "all of it)."
    ),
)
shown_text = journey_view.compact(text) if whole else text
event = st.dataframe(
    journey_view.styled(shown_text, colours),
    key="journey_grid",
    on_select="rerun",
    selection_mode="single-cell",
    width="stretch",
    height=min(38 + 35 * len(keys), 900),
    column_config={c: st.column_config.TextColumn(width=journey_view.COMPACT_WIDTH) for c in text.columns}
    if whole
    else None,
)
st.markdown(journey_view.legend(), unsafe_allow_html=True)
title = _("Journey map: {map}").format(map=chosen_map or _("metric lanes"))
about = chosen.caption() + " · " + _("value · n · status against the targets")
html_col, xlsx_col, _rest = st.columns([1, 1, 3])
with html_col:
    downloads.file_button(
        _("Export as HTML"),
        lambda: journey_view.to_html(text, colours, title, about),  # built when clicked
        "journey_map.html",
        downloads.HTML,
        "journey_html",
        about,
    )
with xlsx_col:
    downloads.file_button(
        _("Export as XLSX"),
        lambda: journey_view.to_xlsx(text, colours, title, about),
        "journey_map.xlsx",
        downloads.XLSX,
        "journey_xlsx",
        about,
    )
st.plotly_chart(journey_view.emotion_curve(live, stages), width="stretch")

others = [m for m in maps if m != chosen_map]
if "journey_compare_on" not in st.session_state:
    st.session_state["journey_compare_on"] = st.query_params.get("compare") in others
if chosen_map and others and st.toggle(_("Compare with another map (current against ideal)"), key="journey_compare_on"):
    wanted = st.query_params.get("compare")
    versus = st.selectbox(
        _("Compare with"), others, index=others.index(wanted) if wanted in others else 0, key="journey_compare"
    )
    st.query_params["compare"] = versus
    theirs = session.guarded(cache.journey_cells, url, versus)
    mine = cells if cells is not None else journey_view.no_cells()
    changed = journey_view.differences(stages, mine, theirs, lanes)
    st.caption(
        ngettext(
            "{n} cell of the lanes shown differs; it is marked ≠ and tinted in both rows.",
            "{n} cells of the lanes shown differ; they are marked ≠ and tinted in both rows.",
            changed.height,
        ).format(n=i18n.number(changed.height))
    )
    both, tints = journey_view.compare_grid(stages, mine, theirs, lanes, chosen_map, versus)
    st.dataframe(journey_view.styled(both, tints), width="stretch", height=min(38 + 35 * len(both), 700))
    st.dataframe(
        tables.arrow(labels.headers(changed).rename({"a": chosen_map, "b": versus}, strict=False)),
        hide_index=True,
        width="stretch",
    )
elif "compare" in st.query_params:
    del st.query_params["compare"]

picked = event.selection.cells if event and event.selection else []
if not picked:
    for gone in ("stage", "lane"):  # a cleared selection leaves the link too
        if gone in st.query_params:
            del st.query_params[gone]
    st.info(_("Click a cell of the map to open the numbers and the rows behind it."))
    st.stop()
row, column = picked[0]
lane = keys[row]
stage = stage_ids[list(text.columns).index(column)]
st.query_params["stage"], st.query_params["lane"] = stage, lane
label = journey_view.lane_label(lane)
st.subheader(f"{names[stage]}: {label}")
if whole and shown_text.iloc[row][column] != text.iloc[row][column]:
    st.text(text.iloc[row][column])  # the cell's whole text, cut short in the whole-map view (as text: loaded data)
figures = journey_view.stage_figures(live, stage)
st.dataframe(tables.arrow(figures), hide_index=True, width="stretch")

metric = {"emotion": "csat", "tickets_per_100": "fcr", "fcr_line_2": "fcr"}.get(lane, lane)
line = LINE_LANES.get(lane)
if metric in metrics.STAGE_METRICS:
    shown = lane if lane in LINE_LANES else metric
    target = live.filter((live["stage_id"] == stage) & (live["lane"] == shown))["target"]
    trend = session.guarded(cache.stage_trend, url, stage, metric, chosen, SETTINGS.min_n, line)
    fig = charts.stage_trend(trend, metric, target[0] if target.len() else None, names[stage])
    charts.add_events(fig, session.guarded(cache.business_events, url, chosen.scope))
    st.plotly_chart(fig, width="stretch")
    options = [b for b in ("segment", "persona", "channel", kpis.PROBLEM_TYPE) if b in kpis.breakdowns(metric)]
    first = kpis.PROBLEM_TYPE if line else "segment"
    by = st.segmented_control(
        _("Break down by"), options, default=first, format_func=journey_view.breakdown_label, key=f"journey_by_{metric}"
    )
    split = session.guarded(cache.stage_breakdown, url, stage, metric, chosen, by or first, SETTINGS.min_n, line)
    st.dataframe(
        tables.arrow(journey_view.breakdown_table(split, metric, journey_view.breakdown_label(by or first))),
        hide_index=True,
    )
    behind = session.guarded(cache.stage_rows, url, stage, metric, chosen, SETTINGS.export_row_limit, line)
    what = kpis.stage_rows_order(metric) + (
        _(", tickets whose last line was {line} only").format(line=line) if line else ""
    )
    st.caption(f"{i18n.number(behind.height)} {what}")
    st.dataframe(tables.arrow(labels.headers(behind.head(1_000))), hide_index=True, width="stretch")
    downloads.csv_button(_("Download these rows"), behind, f"{stage}_{metric}.csv", "journey_csv", chosen.caption())
elif lane in ("conversion", "dropoff", "days_to_next", "customers") and stage in session.guarded(
    cache.funnel_stages, url
):
    steps = session.guarded(cache.funnel_stages, url)
    spec = funnel.FunnelSpec(steps, funnel.parse_window(funnel.DEFAULT_WINDOW))
    step = steps.index(stage)
    if step + 1 < len(steps):
        dropped = session.guarded(cache.funnel_dropped, url, spec, chosen, step, SETTINGS.export_row_limit)
        st.caption(
            ngettext(
                "{n} customer reached {stage} and not {next} (default funnel, {window} window) · {filters}",
                "{n} customers reached {stage} and not {next} (default funnel, {window} window) · {filters}",
                dropped.height,
            ).format(
                n=i18n.number(dropped.height),
                stage=names[stage],
                next=names[steps[step + 1]],
                window=funnel.DEFAULT_WINDOW,
                filters=chosen.caption(),
            )
        )
        st.dataframe(tables.arrow(labels.headers(dropped.head(1_000))), hide_index=True, width="stretch")
        downloads.csv_button(
            _("Download the customers who dropped here"),
            dropped,
            f"dropped_after_{stage}.csv",
            "journey_dropped_csv",
            chosen.caption(),
        )
    else:
        st.caption(_("{stage} is the funnel's last step.").format(stage=names[stage]))
