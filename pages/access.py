"""Access (admins): who may see what, and what everyone did."""

import streamlit as st

from components import access_panel, shell
from data_access.i18n import _

url = shell.open_page("access")
st.subheader(_("Roles"))
access_panel.grants(url)
st.subheader(_("Audit log"))
access_panel.audit_log(url)
