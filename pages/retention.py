"""Retention: signup cohorts and how many of them are still active, period after period."""

import polars as pl
import streamlit as st

from components import downloads, session, shell
from components.builders import retention_view, tables
from data_access import schema
from data_access import streamlit_cache as cache
from data_access.filters import dimension_label
from data_access.i18n import N_, _
from data_access.queries import retention

url, chosen = shell.start("retention")
a, b, c = st.columns(3)
GRAINS = {"month": N_("month"), "week": N_("week")}
grain = (
    a.segmented_control(
        _("Cohorts by"), list(GRAINS), format_func=lambda g: _(GRAINS[g]), default="month", key="retention_grain"
    )
    or "month"
)
mode = (
    b.segmented_control(
        _("Count customers"),
        retention.MODES,
        default="in",
        key="retention_mode",
        format_func=lambda m: _("active in that period") if m == "in" else _("active then or later"),
    )
    or "in"
)
by = c.selectbox(_("Curves by"), schema.FILTER_DIMENSIONS, format_func=dimension_label, key="retention_by")
st.caption(
    chosen.caption()
    + " · "
    + (
        _(
            "cohorts by signup month within the period; a customer is active in a month with a journey event or an "
            "order in it; age 0 is the signup month"
        )
        if grain == "month"
        else _(
            "cohorts by signup week within the period; a customer is active in a week with a journey event or an "
            "order in it; age 0 is the signup week"
        )
    )
)

grouped = session.guarded(cache.retention_cohorts, url, chosen, grain, mode, by)
frame = retention.overall(grouped)
st.plotly_chart(retention_view.heatmap(frame, grain), width="stretch")
downloads.csv_button(_("Download the cohort table"), frame, f"retention_{grain}.csv", "retention_csv", chosen.caption())

st.subheader(_("Retention curves by {attribute}").format(attribute=dimension_label(by)))
curve = retention.curves(grouped, by) if grouped.height else grouped
if curve.height:
    st.plotly_chart(retention_view.curves(curve, by, grain), width="stretch")
    st.caption(_("Each point weighs the cohorts by their size; a cohort too young for an age leaves that point."))
else:
    st.info(_("No customers signed up in this selection."))

st.subheader(_("Revenue and lifetime value by {attribute}").format(attribute=dimension_label(by)))
money = session.guarded(cache.retention_value, url, chosen, grain, by)
if money["value"].height:
    st.plotly_chart(retention_view.value_curves(retention.value_curves(money["value"], by), by, grain), width="stretch")
st.dataframe(
    tables.arrow(
        money["repeat"].select(
            pl.col(by).alias(dimension_label(by).capitalize()),
            pl.col("buyers").alias(_("Customers with an order")),
            pl.col("repeat_buyers").alias(_("with two or more")),
            pl.col("repeat_rate").round(1).alias(_("Repeat purchase %")),
        )
        if money["repeat"].height
        else money["repeat"]
    ),
    hide_index=True,
)
st.caption(
    _(
        "Lifetime value so far = the cohort's cumulative revenue divided by its size, weighted over cohorts. "
        "Repeat purchase rate = customers with two or more orders over customers with one or more."
    )
)

st.subheader(_("Churn and reactivation over time"))
churn = session.guarded(cache.churn_over_time, url, chosen, grain)
events = session.guarded(cache.business_events, url, chosen.scope)
st.plotly_chart(retention_view.churn_figure(churn, events, grain), width="stretch")
st.caption(
    _(
        "Churn rate of a period = customers whose cancellation falls in it over customers signed up before it and "
        "not cancelled by then. Reactivation rate = customers who cancelled before the period and are active again "
        "in it (an event or an order after cancelling) over all who had cancelled before it. Customer filters "
        "apply; all periods are shown."
    )
)
