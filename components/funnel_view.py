"""The funnel page's widgets and chart builders. Builders take result-sized frames and return Plotly figures."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from components.builders.charts import localise
from data_access import i18n
from data_access.i18n import _
from data_access.queries import funnel

CURRENT, PREVIOUS = "#0072B2", "#BBBBBB"


def spec_picker(stages: pl.DataFrame) -> funnel.FunnelSpec | None:
    """Steps, window and exclusions chosen by the user; None (with the reason shown) when they do not make a
    funnel."""
    names = dict(zip(stages["stage_id"], stages["name"], strict=True))
    default = [s for s, f in zip(stages["stage_id"], stages["in_funnel"], strict=True) if f]
    left, right = st.columns([3, 1])
    chosen = left.multiselect(
        _("Steps, in order"),
        list(names),
        default=default,
        format_func=names.get,
        key="funnel_steps",
        help=_("Pick the stages in the order a customer should pass them; remove and add one to move it."),
    )
    window = right.text_input(
        _("Conversion window"),
        funnel.DEFAULT_WINDOW,
        key="funnel_window",
        help=_("How long after the first step the others may follow: 15s, 90m, 12h, 30d or 2w."),
    )
    exclusions: list[funnel.Exclusion] = []
    with st.expander(_("Exclusions: drop customers who hit a stage between two steps")):
        others = [s for s in names if s not in chosen]
        stage, after, before = _("stage"), _("after step"), _("before step")  # the editor's column headers
        rows = st.data_editor(
            pl.DataFrame(schema={stage: pl.String, after: pl.String, before: pl.String}),
            num_rows="dynamic",
            key="funnel_exclusions",
            width="stretch",
            column_config={
                stage: st.column_config.SelectboxColumn(options=others, required=True),
                after: st.column_config.SelectboxColumn(options=chosen, required=True),
                before: st.column_config.SelectboxColumn(options=chosen, required=True),
            },
        )
        for row in pl.DataFrame(rows).iter_rows(named=True):
            if row[stage] and row[after] in chosen and row[before] in chosen:
                exclusions.append(funnel.Exclusion(row[stage], chosen.index(row[after]), chosen.index(row[before])))
    try:
        spec = funnel.FunnelSpec(tuple(chosen), funnel.parse_window(window), tuple(exclusions))
        spec.check(list(names))
    except funnel.FunnelError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    return spec


def steps_table(current: pl.DataFrame, previous: pl.DataFrame | None, names: dict[str, str]) -> pl.DataFrame:
    """Per step: customers, conversions, drop-off, and beside them the previous period and the change."""
    table = current.select(
        pl.col("stage_id").replace_strict(names, default=pl.col("stage_id")).alias(_("Step")),
        pl.col("customers").alias(_("Customers")),
        pl.col("conversion_from_previous").round(1).alias(_("From previous %")),
        pl.col("conversion_from_first").round(1).alias(_("From first %")),
        pl.col("dropped").alias(_("Dropped")),
    )
    if previous is not None:
        table = table.with_columns(
            previous["customers"].alias(_("Customers, previous")),
            previous["conversion_from_first"].round(1).alias(_("From first %, previous")),
            (current["conversion_from_first"] - previous["conversion_from_first"]).round(1).alias(_("Change, points")),
        )
    return table


def steps_figure(current: pl.DataFrame, previous: pl.DataFrame | None, names: dict[str, str]) -> go.Figure:
    labels = [names.get(s, s) for s in current["stage_id"]]
    fig = go.Figure()
    fig.add_bar(
        x=labels,
        y=current["customers"].to_list(),
        name=_("this period"),
        marker_color=CURRENT,
        text=[
            f"{i18n.number(c)}<br>{i18n.percent(p / 100, 1)}" if p is not None else i18n.number(c)
            for c, p in zip(current["customers"], current["conversion_from_first"], strict=True)
        ],
        textposition="outside",
    )
    if previous is not None:
        fig.add_bar(x=labels, y=previous["customers"].to_list(), name=_("previous period"), marker_color=PREVIOUS)
    fig.update_layout(
        barmode="group",
        height=380,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title=_("customers"),
        legend={"orientation": "h", "y": 1.1},
    )
    return localise(fig)


def timing_table(timing: pl.DataFrame, spec: funnel.FunnelSpec, names: dict[str, str]) -> pl.DataFrame:
    labels = {k: f"{names.get(spec.steps[k - 1])} → {names.get(spec.steps[k])}" for k in range(1, len(spec.steps))}
    return timing.select(
        pl.col("step").replace_strict(labels, return_dtype=pl.String).alias(_("Between")),
        pl.col("n").alias(_("Customers")),
        (pl.col("p50_seconds") / 3600).round(1).alias(_("Median, hours")),
        (pl.col("p90_seconds") / 3600).round(1).alias(_("90th percentile, hours")),
    )


def timing_figure(row: dict[str, object]) -> go.Figure:
    labels = [_(label) for label, _upper in funnel.TIME_BUCKETS]
    counts = [row[f"bucket_{i}"] for i in range(len(labels))]
    fig = go.Figure(go.Bar(x=labels, y=counts, marker_color=CURRENT, text=counts, textposition="outside"))
    return localise(fig).update_layout(
        height=300, margin={"l": 10, "r": 10, "t": 20, "b": 10}, yaxis_title=_("customers")
    )


def over_time_figure(frame: pl.DataFrame) -> go.Figure:
    fig = go.Figure(
        go.Scatter(
            x=frame["period"].to_list(),
            y=frame["conversion"].to_list(),
            mode="lines+markers",
            line={"color": CURRENT},
            customdata=[(i18n.day(p), *rest) for p, *rest in frame.select("period", "entered", "converted").rows()],
            hovertemplate="%{customdata[0]}<br>%{y:.1f}% ("
            + _("%{customdata[2]:,} of %{customdata[1]:,}")
            + ")<extra></extra>",
        )
    )
    return localise(fig).update_layout(
        height=320, margin={"l": 10, "r": 10, "t": 20, "b": 10}, yaxis_title=_("converted to the last step, %")
    )
