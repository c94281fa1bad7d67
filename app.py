"""CJM retention dashboard: the entry point. Sets up the page, who is looking, the menu of their pages, the store
and the global filters."""

import components.preload  # noqa: F401, I001 - first: the libraries the pages use, imported before any page runs
import streamlit as st

from components import auth, filters, language, session, shell
from data_access.i18n import _

language.choose()
st.set_page_config(page_title=_("CJM retention dashboard"), page_icon=":material/route:", layout="wide")

# The menu is declared before any widget: with a pages/ folder beside this file, Streamlit runs the very first
# script run of a new server in its older multipage mode until st.navigation is called, and widgets drawn
# before that call would lose their first change.
found = auth.gate()
auth.remember(found)
if found.page is not None:  # signed out, no role, or sign-in required but not configured: that page alone
    st.navigation([st.Page(found.page, title=found.title, url_path="welcome")], position="hidden").run()
    st.stop()
menu = st.navigation(shell.menu(found.access), expanded=True)  # every page listed, none behind "View more"
where = session.ensure_store()
auth.sidebar(found)
language.switch()
if session.has_tables(where.url, explain=False):
    filters.render_sidebar(where.url)
menu.run()
