"""Alerts: rules that tell their audiences when a KPI breaks, by e-mail and signed webhook."""

import streamlit as st

from components import alerts_panel, auth, digest_panel, session, shell
from data_access import access
from data_access import streamlit_cache as cache
from data_access.i18n import _

url, _chosen = shell.start("alerts")
viewer = auth.current()
cfg = alerts_panel.config()
if cfg is None:
    st.stop()
stages_frame = session.guarded(cache.stages, url)
stages = dict(zip(stages_frame["stage_id"], stages_frame["name"], strict=True))
st.caption(alerts_panel.channels_caption(cfg))

st.subheader(_("Rules"))
shown = alerts_panel.overview(url, viewer, stages)
alerts_panel.one_rule(url, viewer, shown, stages, cfg)
if viewer.may(access.EDIT):
    st.subheader(_("New rule"))
    alerts_panel.new_rule(url, viewer, stages, cfg)
st.subheader(_("The Overview by e-mail"))
digest_panel.panel(url, viewer)
if viewer.may(access.EDIT):
    st.subheader(_("Deliveries"))
    alerts_panel.delivery_log(url)
