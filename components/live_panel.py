"""The Support page's live panel: the newest tickets and the ticket CSAT of the last days, redrawn by itself every
``CJM_LIVE_REFRESH`` seconds (``st.fragment(run_every=...)``), so a support lead's screen stays current without
reloading the page; only this panel reruns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import streamlit as st

from components import session
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.filters import Filters
from data_access.queries import support


def csat_sentence(csat: pl.DataFrame, since: datetime, newest: datetime, min_n: int) -> str:
    """ "Ticket CSAT 64.7% (95% interval 41.3 to 82.7, n = 17) on tickets opened 24 Oct 19:48 to 31 Oct 19:48"."""
    span = f"tickets opened {since:%d %b %H:%M} to {newest:%d %b %H:%M}"
    row = csat.row(0, named=True) if csat.height else None
    if row is None or not row["ticket_csat_n"]:
        return f"No rated tickets among the {span}."
    n = row["ticket_csat_n"]
    figure = f"**Ticket CSAT {row['ticket_csat']:.1f}%** (95% interval {row['ticket_csat_lo']:.1f} to "
    figure += f"{row['ticket_csat_hi']:.1f}, n = {n:,})"
    if n < min_n:
        figure += f", not enough data to judge (fewer than {min_n})"
    return f"{figure} on the {span}."


def newest_sentence(tickets: pl.DataFrame) -> str:
    """ "Newest ticket T0000003697, opened 31 Oct 19:48: line 2, financial, open." """
    row = tickets.row(0, named=True)
    category = row["category"] or "no category"
    return (
        f"Newest ticket **{row['ticket_id']}**, opened {row['opened_at']:%d %b %H:%M}: line {row['final_line']}, "
        f"{category}, {row['status']}."
    )


@st.fragment(run_every=timedelta(seconds=max(SETTINGS.live_refresh_seconds, 1)))
def live(url: str, filters: Filters) -> None:
    found = session.guarded(cache.live_support, url, filters)
    checked = datetime.now(UTC)
    with st.container(border=True, key="support_live"):
        st.markdown(f"**Live** · the newest tickets of {filters.customer_caption()}, whatever the period")
        if found["newest"] is None:
            st.info("No tickets yet for these customers.")
        else:
            st.markdown(
                newest_sentence(found["tickets"])
                + " "
                + csat_sentence(found["csat"], found["since"], found["newest"], SETTINGS.min_n)
            )
            st.dataframe(found["tickets"], hide_index=True, width="stretch", height=220, key="support_live_tickets")
        st.caption(
            f"Checked {checked:%H:%M:%S} UTC; redrawn every {SETTINGS.live_refresh_seconds} s (CJM_LIVE_REFRESH), "
            f"the last {support.LIVE_TICKETS} tickets and {support.LIVE_DAYS} days of ratings."
        )
