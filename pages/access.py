"""Access (admins): who may see what, and what everyone did."""

import streamlit as st

from components import access_panel, shell

url = shell.open_page("access")
st.subheader("Roles")
access_panel.grants(url)
st.subheader("Audit log")
access_panel.audit_log(url)
