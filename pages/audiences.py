"""Audiences: groups of customers defined by what they did, kept current, used as a filter everywhere, and pushed
to a CRM."""

import streamlit as st

from components import alerts_panel, audience_panel, auth, session, shell
from data_access import access
from data_access import streamlit_cache as cache
from data_access.i18n import _

url, chosen = shell.start("audiences")
viewer = auth.current()
stages_frame = session.guarded(cache.stages, url)
stages = dict(zip(stages_frame["stage_id"], stages_frame["name"], strict=True))
audience_panel.done_message()
computed = audience_panel.overview(url, viewer)
audience_panel.one(url, viewer, computed, alerts_panel.config(), chosen.audience)
if viewer.may(access.EDIT):
    st.subheader(_("New audience"))
    segments = session.guarded(cache.dimension_values, url, viewer.scope).get("segment", [])
    audience_panel.builder(url, viewer, stages, segments)
