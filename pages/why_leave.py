"""Why they leave: the reasons customers give in the exit interview, by segment, plan or period, with intervals;
their comments; and the journey stage where they last had a bad score."""

import streamlit as st

from components import session, shell
from components.builders import labels, tables, why_view
from data_access import schema
from data_access import streamlit_cache as cache
from data_access.filters import dimension_label
from data_access.i18n import _, ngettext

url, chosen = shell.start("why_leave")
by = st.segmented_control(
    _("Break down by"), ["segment", "plan", "persona", "channel", "region"], format_func=dimension_label,
    default="segment", key="why_by",
) or "segment"  # fmt: skip
views = session.guarded(cache.exit_views, url, chosen, by)
overall = views["overall"]
st.caption(chosen.caption() + " · " + _("exit interviews (survey = exit) counted by the day they were answered"))
if overall.height == 0:
    st.info(
        _(
            "No exit answers in this selection. Exit interviews are survey_responses rows with survey = exit and a "
            "reason ({reasons}); load them on the Data page, or widen the period."
        ).format(reasons=", ".join(schema.EXIT_REASONS))
    )
    st.stop()
st.markdown(why_view.top_reason_sentence(overall))
st.plotly_chart(why_view.reasons_by(views["by"], by), width="stretch")
st.subheader(_("Over time"))
st.plotly_chart(why_view.reasons_trend(views["trend"]), width="stretch")
st.subheader(_("Where in the journey it went wrong"))
stages = session.guarded(cache.stages, url)
names = dict(zip(stages["stage_id"], stages["name"], strict=True))
st.dataframe(tables.arrow(why_view.bad_stage_table(views["bad_stage"], names)), hide_index=True, width="stretch")
st.caption(_("The stage of each leaver's last bad score before the exit interview: CSAT 1-2, NPS 0-6 or CES 1-3."))
st.subheader(_("In their words"))
reasons = overall.sort("share", descending=True)["reason"].to_list()
reason = st.selectbox(_("Reason"), reasons, format_func=_, key="why_reason")
comments = session.guarded(cache.exit_comments, url, chosen, reason, 50)
if comments.height == 0:
    st.caption(_("No comments for this reason."))
else:
    st.dataframe(tables.arrow(labels.headers(comments)), hide_index=True, width="stretch")
    st.caption(
        ngettext("The newest {n} comment", "The newest {n} comments", comments.height).format(n=comments.height)
        + (" " + _("(masked for your role)") if chosen.scope.masked else "")
    )
