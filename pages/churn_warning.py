"""Churn early warning: who is about to leave, why, and where the alerts cluster."""

from datetime import datetime, time, timedelta

import polars as pl
import streamlit as st

from components import alerts_panel, audience_panel, auth, downloads, session, shell
from components.builders import labels, tables
from data_access import access, i18n
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.i18n import _, ngettext
from data_access.queries import overview_words, risk

url, chosen = shell.start("churn_warning")
fresh = session.guarded(cache.freshness, url)
if fresh is None:
    st.info(_("No activity in the store yet."))
    st.stop()
a, b, c, d = st.columns(4)
as_of_day = a.date_input(_("As of the end of"), fresh.date(), key="risk_as_of")
window = b.number_input(_("Look back (days)"), 7, 180, risk.Triggers.window_days, key="risk_window")
share = c.slider(
    _("Activity decline below"),
    0.1,
    0.9,
    risk.Triggers.decline_share,
    0.05,
    key="risk_share",
    help=_("Share of the previous window's events under which activity counts as declining."),
)
low = d.number_input(_("Low ticket rating at or below"), 1, 4, risk.Triggers.low_csat, key="risk_low_csat")
triggers = risk.Triggers(window_days=int(window), decline_share=float(share), low_csat=int(low))
as_of = datetime.combine(as_of_day, time()) + timedelta(days=1)
st.caption(
    chosen.caption()
    + " · "
    + _(
        "customers not cancelled by {day}; triggers in the {days} days before it: activity below {share} of the "
        "{days} days before, an NPS answer 0-6, a ticket rated {low} or lower, an unresolved or reopened ticket. "
        "Score = {score}"
    ).format(
        day=i18n.day(as_of_day),
        days=int(window),
        share=i18n.percent(share),
        low=int(low),
        score=" + ".join(f"{w} × {_(n)}" for n, w in triggers.weights),
    )
)
wanted = st.query_params.get("customer")  # a link from the CRM: one customer's evidence first
if wanted:
    rows = session.guarded(cache.customer_evidence, url, wanted, as_of, chosen.scope)
    st.subheader(_("Customer {id}").format(id=wanted))
    if rows is None:
        st.warning(_("No customer {id} within your access.").format(id=wanted))
    else:
        for tab, name in zip(
            st.tabs([_("Journey events"), _("Tickets"), _("Survey answers")]),
            ("events", "tickets", "answers"),
            strict=True,
        ):
            frame = rows[name]
            if frame.height:
                tab.dataframe(tables.arrow(labels.headers(frame)), hide_index=True, width="stretch")
            else:
                tab.caption(_("None up to {day}.").format(day=i18n.day(as_of_day)))
alerts = session.guarded(cache.risk_alerts, url, chosen, as_of)
for spike in alerts["unsubscribes"].iter_rows(named=True):
    st.warning(
        _(
            "Unsubscribe spike in {segment} after **{event}** ({day}): {after} unsubscribes in the 14 days after "
            "against {before} in the 14 days before."
        ).format(**overview_words.spike_fields(spike)),
        icon=":material/unsubscribe:",
    )
for spike in alerts["complaints"].iter_rows(named=True):
    st.warning(
        _(
            "Complaint spike in {segment}: {tickets} {category} tickets in the week of {week} against {baseline} a "
            "week over the 8 weeks before (z = {z})."
        ).format(**overview_words.spike_fields(spike)),
        icon=":material/report:",
    )
frame = session.guarded(cache.at_risk, url, chosen, as_of, triggers, SETTINGS.export_row_limit)
if frame.height == 0:
    st.success(_("No customer triggers an alert in this selection."))
    st.stop()
stage_names = dict(session.guarded(cache.stages, url).select("stage_id", "name").iter_rows())
no_stage = _("no journey event in {days} days").format(days=2 * int(window))
frame = frame.with_columns(
    pl.col("stage_id").replace_strict(stage_names, default=None).fill_null(no_stage).alias("stage")
)
st.metric(
    _("Customers at risk"), i18n.number(frame.height) + ("+" if frame.height == SETTINGS.export_row_limit else "")
)

st.subheader(_("Where the alerts cluster"))
st.caption(
    _(
        "Customers at risk per reason (one customer can have several). Stage = the stage of the customer's latest "
        "journey event in the last {days} days."
    ).format(days=2 * int(window))
)
by_segment, by_stage = st.tabs([_("By segment"), _("By journey stage")])
by_segment.dataframe(
    tables.arrow(labels.headers(risk.where_alerts_cluster(frame, "segment"))), hide_index=True, width="stretch"
)
by_stage.dataframe(
    tables.arrow(labels.headers(risk.where_alerts_cluster(frame, "stage"))), hide_index=True, width="stretch"
)

st.subheader(_("Customers at risk, highest score first"))
left, right = st.columns(2)
segments = left.multiselect(
    _("Segment"), sorted(frame["segment"].unique().to_list()), key="risk_segments", placeholder=_("All")
)
stages = right.multiselect(
    _("Journey stage"),
    [n for n in [*stage_names.values(), no_stage] if n in set(frame["stage"])],
    key="risk_stages",
    placeholder=_("All"),
)
shown = frame.filter(
    pl.col("segment").is_in(segments) if segments else pl.lit(True),
    pl.col("stage").is_in(stages) if stages else pl.lit(True),
).drop("stage_id")
st.caption(
    ngettext(
        "{shown} of {n} customer; click a column to sort.",
        "{shown} of {n} customers; click a column to sort.",
        frame.height,
    ).format(shown=i18n.number(shown.height), n=i18n.number(frame.height))
)
shown = labels.words(shown, "reasons", "; ")
st.dataframe(tables.arrow(labels.headers(shown.head(1_000))), hide_index=True, width="stretch")
downloads.csv_button(
    _("Download the list for the CRM"), shown, f"at_risk_{as_of_day}.csv", "risk_csv", chosen.caption()
)
if auth.current().may(access.EDIT):
    names_to_ids = {name: stage_id for stage_id, name in stage_names.items()}
    picked = tuple(None if s == no_stage else names_to_ids.get(s) for s in stages)
    audience_panel.from_at_risk(url, auth.current(), tuple(segments), picked, alerts_panel.config())
