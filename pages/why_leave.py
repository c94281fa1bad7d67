"""Why they leave: the reasons customers give in the exit interview, by segment, plan or period, with intervals;
their comments; and the journey stage where they last had a bad score."""

import streamlit as st

from components import session, shell, why_view
from data_access import schema
from data_access import streamlit_cache as cache

url, chosen = shell.start("why_leave")
by = st.segmented_control(
    "Break down by", ["segment", "plan", "persona", "channel", "region"], default="segment", key="why_by"
) or "segment"  # fmt: skip
views = session.guarded(cache.exit_views, url, chosen, by)
overall = views["overall"]
st.caption(f"{chosen.caption()} · exit interviews (survey = exit) counted by the day they were answered")
if overall.height == 0:
    st.info(
        "No exit answers in this selection. Exit interviews are survey_responses rows with survey = exit and a "
        f"reason ({', '.join(schema.EXIT_REASONS)}); load them on the Data page, or widen the period."
    )
    st.stop()
st.markdown(why_view.top_reason_sentence(overall))
st.plotly_chart(why_view.reasons_by(views["by"], by), width="stretch")
st.subheader("Over time")
st.plotly_chart(why_view.reasons_trend(views["trend"]), width="stretch")
st.subheader("Where in the journey it went wrong")
stages = session.guarded(cache.stages, url)
names = dict(zip(stages["stage_id"], stages["name"], strict=True))
st.dataframe(why_view.bad_stage_table(views["bad_stage"], names), hide_index=True, width="stretch")
st.caption("The stage of each leaver's last bad score before the exit interview: CSAT 1-2, NPS 0-6 or CES 1-3.")
st.subheader("In their words")
reasons = overall.sort("share", descending=True)["reason"].to_list()
reason = st.selectbox("Reason", reasons, key="why_reason")
comments = session.guarded(cache.exit_comments, url, chosen, reason, 50)
if comments.height == 0:
    st.caption("No comments for this reason.")
else:
    st.dataframe(comments, hide_index=True, width="stretch")
    st.caption(f"The newest {comments.height} comments" + (" (masked for your role)" if chosen.scope.masked else ""))
