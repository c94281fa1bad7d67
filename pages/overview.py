"""Overview: retention and the customer experience at a glance, this window against the one before."""

import streamlit as st

from components import overview_view, session, shell
from data_access import i18n
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.i18n import _
from data_access.queries import overview

url, chosen = shell.start("overview")
overview_view.one_screen()
span = session.guarded(cache.data_range, url)
last_day = chosen.period.last_day or (span[1].date() if span else None)
if last_day is None:
    st.info(_("No journey events yet: load data on the Data page."))
    st.stop()
left, right = st.columns([4, 9], vertical_alignment="bottom")
horizon = (
    left.segmented_control(
        _("Compare the last"),
        list(overview.HORIZONS),
        format_func=lambda h: _(overview.HORIZONS_SHOWN[h]),
        default=st.query_params.get("horizon") if st.query_params.get("horizon") in overview.HORIZONS else "half-year",
        key="overview_horizon",
    )
    or "half-year"
)
w = overview.windows_ending(last_day, overview.HORIZONS[horizon])
data = session.guarded(cache.overview_data, url, chosen, w, SETTINGS.min_n)
events, names = data["events"], data["stage_names"]
shown = [e for e in events.iter_rows(named=True) if w.spark_first <= e["occurred_at"].date() < w.end]
right.caption(
    _("{filters} · whole months: {months}").format(filters=chosen.caption(), months=w.caption())
    + (
        " · "
        + _("events: {events}").format(events=", ".join(f"{e['name']} ({i18n.day(e['occurred_at'])})" for e in shown))
        if shown
        else ""
    )
)
headline, side = st.columns([3, 2], gap="medium")
with headline:
    overview_view.cards(data["cards"], data["lines"], events)
    overview_view.why_row(data["why"])
with side:
    overview_view.funnel_brief(data["funnel"], names, i18n.either(chosen.segment) if chosen.segment else None)
    overview_view.worst_stages(data["worst"])
    overview_view.alerts(data["unsubscribes"], data["complaints"])
