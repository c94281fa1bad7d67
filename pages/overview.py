"""Overview: retention and the customer experience at a glance, this window against the one before."""

import streamlit as st

from components import overview_view, session, shell
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.queries import overview

url, chosen = shell.start("overview")
overview_view.one_screen()
span = session.guarded(cache.data_range, url)
last_day = chosen.period.last_day or (span[1].date() if span else None)
if last_day is None:
    st.info("No journey events yet: load data on the Data page.")
    st.stop()
left, right = st.columns([1, 3], vertical_alignment="bottom")
horizon = (
    left.segmented_control("Compare the last", list(overview.HORIZONS), default="half-year", key="overview_horizon")
    or "half-year"
)
w = overview.windows_ending(last_day, overview.HORIZONS[horizon])
data = session.guarded(cache.overview_data, url, chosen, w, SETTINGS.min_n)
events, names = data["events"], data["stage_names"]
shown = [e for e in events.iter_rows(named=True) if w.spark_first <= e["occurred_at"].date() < w.end]
right.caption(
    f"{chosen.caption()} · whole months: {w.caption()}"
    + (" · events: " + ", ".join(f"{e['name']} ({e['occurred_at']:%d %b %Y})" for e in shown) if shown else "")
)
headline, side = st.columns([3, 2], gap="medium")
with headline:
    overview_view.cards(data["cards"], data["lines"], events)
    overview_view.why_row(data["why"])
with side:
    overview_view.funnel_brief(data["funnel"], names, ", ".join(chosen.segment) if chosen.segment else "all")
    overview_view.worst_stages(data["worst"])
    overview_view.alerts(data["unsubscribes"], data["complaints"])
