"""Churn early warning: who is about to leave, why, and where the alerts cluster."""

from datetime import datetime, time, timedelta

import polars as pl
import streamlit as st

from components import downloads, session, shell
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.queries import risk

url, chosen = shell.start("churn_warning")
fresh = session.guarded(cache.freshness, url)
if fresh is None:
    st.info("No activity in the store yet.")
    st.stop()
a, b, c, d = st.columns(4)
as_of_day = a.date_input("As of the end of", fresh.date(), key="risk_as_of")
window = b.number_input("Look back (days)", 7, 180, risk.Triggers.window_days, key="risk_window")
share = c.slider(
    "Activity decline below",
    0.1,
    0.9,
    risk.Triggers.decline_share,
    0.05,
    key="risk_share",
    help="Share of the previous window's events under which activity counts as declining.",
)
low = d.number_input("Low ticket rating at or below", 1, 4, risk.Triggers.low_csat, key="risk_low_csat")
triggers = risk.Triggers(window_days=int(window), decline_share=float(share), low_csat=int(low))
as_of = datetime.combine(as_of_day, time()) + timedelta(days=1)
st.caption(
    f"{chosen.caption()} · customers not cancelled by {as_of_day}; triggers in the {int(window)} days before it: "
    f"activity below {share:.0%} of the {int(window)} days before, an NPS answer 0-6, a ticket rated "
    f"{int(low)} or lower, an unresolved or reopened ticket. Score = "
    + " + ".join(f"{w} × {n}" for n, w in triggers.weights)
)
alerts = session.guarded(cache.risk_alerts, url, chosen, as_of)
for spike in alerts["unsubscribes"].iter_rows(named=True):
    st.warning(
        f"Unsubscribe spike in {spike['segment']} after **{spike['event']}** ({spike['occurred_at']:%Y-%m-%d}): "
        f"{spike['after']} unsubscribes in the 14 days after against {spike['before']} in the 14 days before.",
        icon=":material/unsubscribe:",
    )
for spike in alerts["complaints"].iter_rows(named=True):
    st.warning(
        f"Complaint spike in {spike['segment']}: {spike['tickets']} {spike['category']} tickets in the week of "
        f"{spike['last_week']} against {spike['baseline']:.1f} a week over the 8 weeks before (z = {spike['z']:.1f}).",
        icon=":material/report:",
    )
frame = session.guarded(cache.at_risk, url, chosen, as_of, triggers, SETTINGS.export_row_limit)
if frame.height == 0:
    st.success("No customer triggers an alert in this selection.")
    st.stop()
stage_names = dict(session.guarded(cache.stages, url).select("stage_id", "name").iter_rows())
no_stage = f"no journey event in {2 * int(window)} days"
frame = frame.with_columns(
    pl.col("stage_id").replace_strict(stage_names, default=None).fill_null(no_stage).alias("stage")
)
st.metric("Customers at risk", f"{frame.height:,}" + ("+" if frame.height == SETTINGS.export_row_limit else ""))

st.subheader("Where the alerts cluster")
st.caption(
    f"Customers at risk per reason (one customer can have several). Stage = the stage of the customer's latest "
    f"journey event in the last {2 * int(window)} days."
)
by_segment, by_stage = st.tabs(["By segment", "By journey stage"])
by_segment.dataframe(risk.where_alerts_cluster(frame, "segment"), hide_index=True, width="stretch")
by_stage.dataframe(risk.where_alerts_cluster(frame, "stage"), hide_index=True, width="stretch")

st.subheader("Customers at risk, highest score first")
left, right = st.columns(2)
segments = left.multiselect(
    "Segment", sorted(frame["segment"].unique().to_list()), key="risk_segments", placeholder="All"
)
stages = right.multiselect(
    "Journey stage",
    [n for n in [*stage_names.values(), no_stage] if n in set(frame["stage"])],
    key="risk_stages",
    placeholder="All",
)
shown = frame.filter(
    pl.col("segment").is_in(segments) if segments else pl.lit(True),
    pl.col("stage").is_in(stages) if stages else pl.lit(True),
).drop("stage_id")
st.caption(f"{shown.height:,} of {frame.height:,} customers; click a column to sort.")
st.dataframe(shown.head(1_000), hide_index=True, width="stretch")
downloads.csv_button("Download the list for the CRM", shown, f"at_risk_{as_of_day}.csv", "risk_csv", chosen.caption())
