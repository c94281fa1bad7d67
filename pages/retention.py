"""Retention: signup cohorts and how many of them are still active, period after period."""

import polars as pl
import streamlit as st

from components import downloads, retention_view, session, shell
from data_access import schema
from data_access import streamlit_cache as cache
from data_access.queries import retention

url, chosen = shell.start("retention")
a, b, c = st.columns(3)
grain = a.segmented_control("Cohorts by", ["month", "week"], default="month", key="retention_grain") or "month"
mode = (
    b.segmented_control(
        "Count customers",
        retention.MODES,
        default="in",
        key="retention_mode",
        format_func=lambda m: "active in that period" if m == "in" else "active then or later",
    )
    or "in"
)
by = c.selectbox("Curves by", schema.FILTER_DIMENSIONS, key="retention_by")
st.caption(
    f"{chosen.caption()} · cohorts by signup date within the period; a customer is active in a {grain} with a "
    f"journey event or an order in it; age 0 is the signup {grain}"
)

grouped = session.guarded(cache.retention_cohorts, url, chosen, grain, mode, by)
frame = retention.overall(grouped)
st.plotly_chart(retention_view.heatmap(frame, grain), width="stretch")
downloads.csv_button("Download the cohort table", frame, f"retention_{grain}.csv", "retention_csv", chosen.caption())

st.subheader(f"Retention curves by {by}")
curve = retention.curves(grouped, by) if grouped.height else grouped
if curve.height:
    st.plotly_chart(retention_view.curves(curve, by, grain), width="stretch")
    st.caption("Each point weighs the cohorts by their size; a cohort too young for an age leaves that point.")
else:
    st.info("No customers signed up in this selection.")

st.subheader(f"Revenue and lifetime value by {by}")
money = session.guarded(cache.retention_value, url, chosen, grain, by)
if money["value"].height:
    st.plotly_chart(retention_view.value_curves(retention.value_curves(money["value"], by), by, grain), width="stretch")
st.dataframe(
    money["repeat"].select(
        pl.col(by).alias(by.capitalize()),
        pl.col("buyers").alias("Customers with an order"),
        pl.col("repeat_buyers").alias("with two or more"),
        pl.col("repeat_rate").round(1).alias("Repeat purchase %"),
    )
    if money["repeat"].height
    else money["repeat"],
    hide_index=True,
)
st.caption(
    "Lifetime value so far = the cohort's cumulative revenue divided by its size, weighted over cohorts. "
    "Repeat purchase rate = customers with two or more orders over customers with one or more."
)

st.subheader("Churn and reactivation over time")
churn = session.guarded(cache.churn_over_time, url, chosen, grain)
events = session.guarded(cache.business_events, url, chosen.scope)
st.plotly_chart(retention_view.churn_figure(churn, events, grain), width="stretch")
st.caption(
    f"Churn rate of a {grain} = customers whose cancellation falls in it over customers signed up before it and not "
    f"cancelled by then. Reactivation rate = customers who cancelled before the {grain} and are active again in it "
    "(an event or an order after cancelling) over all who had cancelled before it. Customer filters apply; all "
    "periods are shown."
)
