"""Maps and targets: the CX team edits its journey maps, the targets that colour them and the rules that turn product
events into stages, imports and exports them as CSV. Every save is checked and written in one transaction."""

import streamlit as st

from components import editors, session, shell
from data_access import streamlit_cache as cache
from data_access.i18n import _

shell.open_page("map_editor")
where = session.location()
stages = session.guarded(cache.stages, where.url)
if stages.height == 0:
    st.info(_("The store has no stages yet. Load `stages` on the Data page first: maps and targets are per stage."))
    st.stop()
editors.last_save()
maps, targets, rules, files = st.tabs([_("Journey maps"), _("Targets"), _("Stage rules"), _("Import and export")])
with maps:
    editors.map_editor(where.url, stages)
with targets:
    editors.targets_editor(where.url, stages)
with rules:
    editors.rules_editor(where.url, stages)
with files:
    editors.files(where.url)
