"""Per-stage KPIs: CSAT, NPS, CES and FCR of every journey stage, with n, 95% interval, target and status."""

import streamlit as st

from components import charts, filters, kpi_table, session, status
from data_access import metrics
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS

url = session.location().url
if not session.has_tables(url):
    st.stop()
chosen = filters.current()
frame = session.guarded(cache.stage_kpis, url, chosen, SETTINGS.min_n)

st.title("Stage KPIs")
st.caption(f"{chosen.caption()} · figures on fewer than {SETTINGS.min_n} answers are marked not enough data")

if frame.height == 0:
    st.info("The store has no stages yet. Load `stages` (and the other tables) on the Data page.")
    st.stop()
answers = sum(int(frame[f"{m}_n"].sum()) for m in metrics.METRICS)
if answers == 0 and int(frame["customers"].sum()) == 0:
    st.info("No journey events, survey answers or tickets in this selection. Widen the period or the filters.")
    st.stop()

metric = (
    st.segmented_control(
        "Metric",
        list(metrics.METRICS),
        default="csat",
        format_func=lambda m: metrics.METRICS[m].label,
        key="kpi_metric",
    )
    or "csat"
)
st.markdown(
    f"**{metrics.METRICS[metric].label}**: {metrics.METRICS[metric].description}. "
    "Bars show the 95% interval; the black tick is the target."
)
st.plotly_chart(charts.metric_by_stage(frame, metric), width="stretch")
st.markdown(status.legend_markdown(), unsafe_allow_html=True)

st.subheader("All stages")
st.dataframe(kpi_table.summary(frame), hide_index=True, width="stretch")
detail = kpi_table.long(frame)
with st.expander("Every figure with its interval and target"):
    st.dataframe(detail, hide_index=True, width="stretch")
st.download_button("Download CSV", detail.write_csv(), file_name="stage_kpis.csv", mime="text/csv")
