"""Per-stage KPIs: CSAT, NPS, CES and FCR of every journey stage, with n, 95% interval, target and status."""

import streamlit as st

from components import downloads, session, shell
from components.builders import charts, kpi_table, labels, status, tables
from data_access import i18n, metrics
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.i18n import _
from data_access.queries import kpis

url, chosen = shell.start("stage_kpis")
frame = session.guarded(cache.stage_kpis, url, chosen, SETTINGS.min_n)
st.caption(
    chosen.caption()
    + " · "
    + _("figures on fewer than {n} answers are marked not enough data").format(n=SETTINGS.min_n)
)

if frame.height == 0:
    st.info(_("The store has no stages yet. Load `stages` (and the other tables) on the Data page."))
    st.stop()
answers = sum(int(frame[f"{m}_n"].sum()) for m in metrics.STAGE_METRICS)
if answers == 0 and int(frame["customers"].sum()) == 0:
    st.info(_("No journey events, survey answers or tickets in this selection. Widen the period or the filters."))
    st.stop()

# a link (an alert's) opens on its metric and stage
if "kpi_metric" not in st.session_state:
    wanted = st.query_params.get("metric")
    st.session_state["kpi_metric"] = wanted if wanted in metrics.STAGE_METRICS else "csat"
if st.query_params.get("stage") in frame["stage_id"].to_list() and "kpi_stage" not in st.session_state:
    st.session_state["kpi_stage"] = st.query_params["stage"]
metric = (
    st.segmented_control(
        _("Metric"),
        list(metrics.STAGE_METRICS),
        format_func=lambda m: _(metrics.METRICS[m].label),
        key="kpi_metric",
    )
    or "csat"
)
st.markdown(
    f"**{_(metrics.METRICS[metric].label)}**: {_(metrics.METRICS[metric].description)}. "
    + _("Bars show the 95%\u00a0interval; the black tick is the target.")
)
event = st.plotly_chart(
    charts.metric_by_stage(frame, metric),
    width="stretch",
    on_select="rerun",
    selection_mode="points",
    key="kpi_chart",
)
clicked = charts.clicked_stage(event)
if clicked:
    st.session_state["kpi_stage"] = clicked  # the stage picker below follows the click
st.markdown(status.legend_markdown(), unsafe_allow_html=True)

st.subheader(_("All stages"))
st.dataframe(tables.arrow(kpi_table.summary(frame)), hide_index=True, width="stretch")
detail = labels.words(labels.words(kpi_table.long(frame), "metric"), "status")
with st.expander(_("Every figure with its interval and target")):
    st.dataframe(tables.arrow(labels.headers(detail)), hide_index=True, width="stretch")
downloads.csv_button(_("Download CSV"), detail, "stage_kpis.csv", "kpi_csv", chosen.caption())

st.subheader(_("One stage up close"))
names = dict(zip(frame["stage_id"], frame["name"], strict=True))
stage = st.selectbox(_("Stage (or click its bar above)"), list(names), format_func=names.get, key="kpi_stage")
row = frame.filter(frame["stage_id"] == stage).row(0, named=True)
trend = session.guarded(cache.stage_trend, url, stage, metric, chosen, SETTINGS.min_n)
st.plotly_chart(charts.stage_trend(trend, metric, row[f"{metric}_target"], names[stage]), width="stretch")
behind = session.guarded(cache.stage_rows, url, stage, metric, chosen, SETTINGS.export_row_limit)
what = kpis.stage_rows_order(metric)
st.caption(
    f"{names[stage]}: {i18n.number(behind.height)} {what} · {chosen.caption()} · "
    + _("hollow points rest on fewer than {n} answers").format(n=SETTINGS.min_n)
)
st.dataframe(tables.arrow(labels.headers(behind.head(1_000))), hide_index=True, width="stretch")
downloads.csv_button(_("Download these rows"), behind, f"{stage}_{metric}.csv", "kpi_rows_csv", chosen.caption())
