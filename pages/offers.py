"""Retention offers: which offers customers accept, and how many of them are still customers 90 days later,
against those who declined and those who were not offered anything."""

import streamlit as st

from components import session, shell
from components.builders import tables, why_view
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.filters import dimension_label
from data_access.i18n import _
from data_access.queries import why

url, chosen = shell.start("offers")
stages = session.guarded(cache.stages, url)
names = dict(zip(stages["stage_id"], stages["name"], strict=True))
options = [None, *names]
default = options.index("churn_attempt") if "churn_attempt" in names else 0
attempt = st.selectbox(
    _("Compare with the customers who reached this stage and got no offer"),
    options,
    index=default,
    format_func=lambda s: _("(nobody)") if s is None else names[s],
    key="offers_attempt_stage",
)
# the whole from the default breakdown's rows: one read for the page as it opens
by_segment = session.guarded(cache.offer_outcomes, url, chosen, attempt, "segment")
outcomes = why.outcomes_overall(by_segment, attempt)
st.caption(
    chosen.caption()
    + " · "
    + _(
        "offers counted by the day they were made · kept = not churned in the {days} days after the offer (after "
        "the first event at the stage, for those not offered)"
    ).format(days=why.WINDOW_DAYS)
)
if outcomes.filter(outcomes["outcome"] != why.NOT_OFFERED).height == 0:
    st.info(_("No retention offers in this selection. Load the offers table on the Data page, or widen the period."))
    st.stop()
st.markdown(why_view.best_offer_sentence(outcomes, SETTINGS.min_n))
st.plotly_chart(why_view.offers_figure(outcomes), width="stretch")
left, right = st.columns([3, 2])
left.dataframe(tables.arrow(why_view.outcomes_table(outcomes)), hide_index=True, width="stretch")
right.dataframe(tables.arrow(why_view.acceptance_table(why.acceptance(outcomes))), hide_index=True, width="stretch")
st.caption(_("Revenue: the customers' orders in the 90 days after the offer. Intervals: Wilson, 95%."))
st.subheader(_("Per customer group"))
by = (
    st.segmented_control(
        _("By"), ["segment", "plan", "channel", "region"], format_func=dimension_label, default="segment",
        key="offers_by",
    )
    or "segment"
)  # fmt: skip
grouped = by_segment if by == "segment" else session.guarded(cache.offer_outcomes, url, chosen, attempt, by)
st.dataframe(tables.arrow(why_view.outcomes_table(grouped, by)), hide_index=True, width="stretch")
