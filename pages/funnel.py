"""Funnel: where customers drop between journey stages, who drops, and whether it is getting better."""

import streamlit as st

from components import downloads, funnel_view, session, shell
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.queries import funnel

url, chosen = shell.start("funnel")
stages = session.guarded(cache.stages, url)
if stages.height == 0:
    st.info("The store has no stages yet. Load `stages` (and the other tables) on the Data page.")
    st.stop()
names = dict(zip(stages["stage_id"], stages["name"], strict=True))
spec = funnel_view.spec_picker(stages)
if spec is None:
    st.stop()
st.caption(f"{chosen.caption()} · {spec.caption()}")

current = session.guarded(cache.funnel_steps, url, spec, chosen)
if current["customers"][0] == 0:
    st.info("No customer reached the first step in this selection. Widen the period or the filters.")
    st.stop()
try:
    before = chosen.with_period(funnel.previous_period(chosen.period))
    previous = session.guarded(cache.funnel_steps, url, spec, before)
except funnel.FunnelError:
    before, previous = None, None
if previous is not None and previous["customers"][0] == 0:
    previous = None  # nothing to compare with: the table and chart show this period alone

who = ", ".join(chosen.segment) if chosen.segment else None
leak = funnel.biggest_leak(current, names, who)
if leak:
    st.markdown(f"#### Biggest leak: {leak}")
st.plotly_chart(funnel_view.steps_figure(current, previous, names), width="stretch")
st.dataframe(funnel_view.steps_table(current, previous, names), hide_index=True, width="stretch")
if before is not None:
    state = "" if previous is not None else ": no customer entered the funnel then"
    st.caption(f"Previous period of equal length: {before.period.caption()}{state}")

st.subheader("Who converts: each group against the rest")
by = st.selectbox(
    "Break down by",
    funnel.BREAKDOWNS,
    key="funnel_by",
    format_func=lambda b: "new vs returning" if b == funnel.RETURNING else b,
)
across = funnel.without_filter_on(chosen, by)  # a breakdown by segment compares every segment
groups = session.guarded(cache.funnel_breakdown, url, spec, across, by)
st.dataframe(funnel.against_the_rest(groups, len(spec.steps) - 1), hide_index=True, width="stretch")
st.caption(
    f"Conversion from {names[spec.steps[0]]} to {names[spec.steps[-1]]}; significant at p < 0.05 "
    f"(two-proportion z-test against all other customers) · {across.caption()}. "
    "Returning = ordered before the period."
)

st.subheader("Time to convert")
timing = session.guarded(cache.funnel_timing, url, spec, chosen)
if timing.height:
    st.dataframe(funnel_view.timing_table(timing, spec, names), hide_index=True, width="stretch")
    step = st.selectbox(
        "Histogram of",
        timing["step"].to_list(),
        key="funnel_timing_step",
        format_func=lambda k: f"{names[spec.steps[k - 1]]} → {names[spec.steps[k]]}",
    )
    st.plotly_chart(
        funnel_view.timing_figure(timing.filter(timing["step"] == step).row(0, named=True)), width="stretch"
    )
else:
    st.info("Nobody reached the second step: no time to convert yet.")

st.subheader("Conversion over time")
grain = st.segmented_control("By", ["week", "month"], default="month", key="funnel_grain") or "month"
trend = session.guarded(cache.funnel_over_time, url, spec, chosen, grain)
st.plotly_chart(funnel_view.over_time_figure(trend), width="stretch")
st.caption(
    f"Share of customers reaching {names[spec.steps[-1]]}, by the {grain} they entered {names[spec.steps[0]]}. "
    f"The latest {grain}s are still converting: their customers have had less than the window."
)

st.subheader("Customers who dropped")
drop_step = st.selectbox(
    "Dropped after",
    list(range(len(spec.steps) - 1)),
    key="funnel_drop_step",
    format_func=lambda k: f"{names[spec.steps[k]]} (never reached {names[spec.steps[k + 1]]})",
)
dropped = session.guarded(cache.funnel_dropped, url, spec, chosen, drop_step, SETTINGS.export_row_limit)
st.caption(
    f"{chosen.caption()} · {spec.caption()} · {dropped.height:,} customers"
    + (f" (the first {SETTINGS.export_row_limit:,})" if dropped.height == SETTINGS.export_row_limit else "")
)
st.dataframe(dropped.head(1_000), hide_index=True, width="stretch")
downloads.csv_button(
    "Download CSV for the CRM",
    dropped,
    f"dropped_after_{spec.steps[drop_step]}.csv",
    "funnel_dropped_csv",
    f"{chosen.caption()} · {spec.caption()}",
)
