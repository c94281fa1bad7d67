"""Experiments: each experiment's variants on its primary metric with intervals, the lift and its interval, the
p-value, a sample-ratio-mismatch check, the minimum detectable effect and a plain verdict."""

import streamlit as st

from components import session, shell, why_view
from data_access import metrics
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS

url, chosen = shell.start("experiments")
newest = session.guarded(cache.freshness, url)
results = session.guarded(cache.experiment_results, url, chosen, newest, SETTINGS.min_n)
st.caption(
    f"{chosen.customer_caption()} · every assignment of each experiment; a 90-day metric judges only assignments "
    "at least 90 days before the newest data · tests from scipy.stats: chi-square for the lift and the sample "
    f"ratio, 95% intervals, the minimum detectable effect at 80% power; fewer than {SETTINGS.min_n} per variant: "
    "not enough data"
)
if not results:
    st.info("No experiments yet. Load experiment_info and experiments on the Data page.")
    st.stop()
shown = {metrics.WINNER: st.success, metrics.NO_DIFFERENCE: st.info, metrics.NOT_ENOUGH: st.info}
for info, variants, verdicts in results:
    st.subheader(info["experiment"])
    stage = f" at {info['stage_id']}" if info["stage_id"] else ""
    st.caption(
        f"{info['hypothesis']} · primary metric: {why_view.METRIC_WORDS[info['primary_metric']]}{stage} · "
        f"from {info['start_at']:%Y-%m-%d}"
        + (f" to {info['end_at']:%Y-%m-%d}" if info["end_at"] else " (running)")
        + (f" · owner {info['owner']}" if info["owner"] else "")
    )
    if not verdicts:
        st.info("Fewer than two variants assigned in this selection.")
        continue
    for v in verdicts:
        shown.get(v.verdict, st.error)(why_view.verdict_line(v))
    left, right = st.columns([2, 3])
    left.plotly_chart(why_view.variants_figure(variants, info["primary_metric"]), width="stretch")
    right.dataframe(variants, hide_index=True, width="stretch")
    right.caption("assigned: customers given the variant; n: those the metric judges; k: its successes.")
