"""Funnel: where customers drop between journey stages, who drops, and whether it is getting better."""

import streamlit as st

from components import downloads, funnel_view, session, shell
from components.builders import labels, tables
from data_access import i18n
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.filters import dimension_label
from data_access.i18n import N_, _, ngettext
from data_access.queries import funnel

url, chosen = shell.start("funnel")
stages = session.guarded(cache.stages, url)
if stages.height == 0:
    st.info(_("The store has no stages yet. Load `stages` (and the other tables) on the Data page."))
    st.stop()
names = dict(zip(stages["stage_id"], stages["name"], strict=True))
spec = funnel_view.spec_picker(stages)
if spec is None:
    st.stop()
st.caption(f"{chosen.caption()} · {spec.caption()}")

current = session.guarded(cache.funnel_steps, url, spec, chosen)
if current["customers"][0] == 0:
    st.info(_("No customer reached the first step in this selection. Widen the period or the filters."))
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
    st.markdown("#### " + _("Biggest leak: {leak}").format(leak=leak))
st.plotly_chart(funnel_view.steps_figure(current, previous, names), width="stretch")
st.dataframe(tables.arrow(funnel_view.steps_table(current, previous, names)), hide_index=True, width="stretch")
if before is not None:
    state = "" if previous is not None else _(": no customer entered the funnel then")
    st.caption(_("Previous period of equal length: {period}").format(period=before.period.caption()) + state)

st.subheader(_("Who converts: each group against the rest"))
by = st.selectbox(
    _("Break down by"),
    funnel.BREAKDOWNS,
    key="funnel_by",
    format_func=lambda b: _("new vs returning") if b == funnel.RETURNING else dimension_label(b),
)
across = funnel.without_filter_on(chosen, by)  # a breakdown by segment compares every segment
groups = session.guarded(cache.funnel_breakdown, url, spec, across, by)
st.dataframe(
    tables.arrow(labels.headers(labels.words(funnel.against_the_rest(groups, len(spec.steps) - 1), "verdict"))),
    hide_index=True,
    width="stretch",
)
st.caption(
    _(
        "Conversion from {first} to {last}; significant at p < 0.05 (two-proportion z-test against all other "
        "customers) · {filters}. Returning = ordered before the period."
    ).format(first=names[spec.steps[0]], last=names[spec.steps[-1]], filters=across.caption())
)

st.subheader(_("Time to convert"))
timing = session.guarded(cache.funnel_timing, url, spec, chosen)
if timing.height:
    st.dataframe(tables.arrow(funnel_view.timing_table(timing, spec, names)), hide_index=True, width="stretch")
    step = st.selectbox(
        _("Histogram of"),
        timing["step"].to_list(),
        key="funnel_timing_step",
        format_func=lambda k: f"{names[spec.steps[k - 1]]} → {names[spec.steps[k]]}",
    )
    st.plotly_chart(
        funnel_view.timing_figure(timing.filter(timing["step"] == step).row(0, named=True)), width="stretch"
    )
else:
    st.info(_("Nobody reached the second step: no time to convert yet."))

st.subheader(_("Conversion over time"))
GRAINS = {"week": N_("week"), "month": N_("month")}
grain = (
    st.segmented_control(_("By"), list(GRAINS), format_func=lambda g: _(GRAINS[g]), default="month", key="funnel_grain")
    or "month"
)
trend = session.guarded(cache.funnel_over_time, url, spec, chosen, grain)
st.plotly_chart(funnel_view.over_time_figure(trend), width="stretch")
st.caption(
    (
        _(
            "Share of customers reaching {last}, by the month they entered {first}. The latest months are still "
            "converting: their customers have had less than the window."
        )
        if grain == "month"
        else _(
            "Share of customers reaching {last}, by the week they entered {first}. The latest weeks are still "
            "converting: their customers have had less than the window."
        )
    ).format(last=names[spec.steps[-1]], first=names[spec.steps[0]])
)

st.subheader(_("Customers who dropped"))
drop_step = st.selectbox(
    _("Dropped after"),
    list(range(len(spec.steps) - 1)),
    key="funnel_drop_step",
    format_func=lambda k: _("{stage} (never reached {next})").format(
        stage=names[spec.steps[k]], next=names[spec.steps[k + 1]]
    ),
)
dropped = session.guarded(cache.funnel_dropped, url, spec, chosen, drop_step, SETTINGS.export_row_limit)
st.caption(
    f"{chosen.caption()} · {spec.caption()} · "
    + ngettext("{n} customer", "{n} customers", dropped.height).format(n=i18n.number(dropped.height))
    + (
        " " + _("(the first {n})").format(n=i18n.number(SETTINGS.export_row_limit))
        if dropped.height == SETTINGS.export_row_limit
        else ""
    )
)
st.dataframe(tables.arrow(labels.headers(dropped.head(1_000))), hide_index=True, width="stretch")
downloads.csv_button(
    _("Download CSV for the CRM"),
    dropped,
    f"dropped_after_{spec.steps[drop_step]}.csv",
    "funnel_dropped_csv",
    f"{chosen.caption()} · {spec.caption()}",
)
