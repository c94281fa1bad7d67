"""The Support page's live panel: the newest tickets and the ticket CSAT of the last days, redrawn by itself every
``CJM_LIVE_REFRESH`` seconds (``st.fragment(run_every=...)``), so a support lead's screen stays current without
reloading the page; only this panel reruns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import streamlit as st

from components import session
from components.builders import support_view, tables
from data_access import i18n
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.filters import Filters
from data_access.i18n import _
from data_access.queries import support


def csat_sentence(csat: pl.DataFrame, since: datetime, newest: datetime, min_n: int) -> str:
    """ "Ticket CSAT 64.7% (95% interval 41.3 to 82.7, n = 17) on tickets opened 24 Oct 19:48 to 31 Oct 19:48"."""
    since_text, newest_text = i18n.short_moment(since), i18n.short_moment(newest)
    row = csat.row(0, named=True) if csat.height else None
    if row is None or not row["ticket_csat_n"]:
        return _("No rated tickets among the tickets opened {since} to {newest}.").format(
            since=since_text, newest=newest_text
        )
    n = row["ticket_csat_n"]
    figure = _("**Ticket CSAT {value}** (95%\u00a0interval {lo} to {hi}, n = {n})").format(
        value=i18n.percent(row["ticket_csat"] / 100, 1),
        lo=i18n.number(row["ticket_csat_lo"], 1),
        hi=i18n.number(row["ticket_csat_hi"], 1),
        n=i18n.number(n),
    )
    if n < min_n:
        figure += _(", not enough data to judge (fewer than {n})").format(n=min_n)
    return _("{figure} on the tickets opened {since} to {newest}.").format(
        figure=figure, since=since_text, newest=newest_text
    )


def newest_sentence(tickets: pl.DataFrame) -> str:
    """ "Newest ticket T0000003697, opened 31 Oct 19:48: line 2, financial, open." """
    row = tickets.row(0, named=True)
    category = row["category"] or _("no category")
    return _("Newest ticket **{ticket}**, opened {opened}: line {line}, {category}, {status}.").format(
        ticket=row["ticket_id"],
        opened=i18n.short_moment(row["opened_at"]),
        line=row["final_line"],
        category=category,
        status=_(row["status"]),
    )


@st.fragment(run_every=timedelta(seconds=max(SETTINGS.live_refresh_seconds, 1)))
def live(url: str, filters: Filters) -> None:
    found = session.guarded(cache.live_support, url, filters)
    checked = datetime.now(UTC)
    with st.container(border=True, key="support_live"):
        st.markdown(
            _("**Live** · the newest tickets of {customers}, whatever the period").format(
                customers=filters.customer_caption()
            )
        )
        if found["newest"] is None:
            st.info(_("No tickets yet for these customers."))
        else:
            st.markdown(
                newest_sentence(found["tickets"])
                + " "
                + csat_sentence(found["csat"], found["since"], found["newest"], SETTINGS.min_n)
            )
            st.dataframe(
                tables.arrow(support_view.live_table(found["tickets"])),
                hide_index=True,
                width="stretch",
                height=220,
                key="support_live_tickets",
            )
        st.caption(
            _(
                "Checked {time} UTC; redrawn every {seconds} s (CJM_LIVE_REFRESH), the last {tickets} tickets and "
                "{days} days of ratings."
            ).format(
                time=f"{checked:%H:%M:%S}",
                seconds=SETTINGS.live_refresh_seconds,
                tickets=support.LIVE_TICKETS,
                days=support.LIVE_DAYS,
            )
        )
