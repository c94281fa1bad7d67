"""CJM retention dashboard: the entry point. Sets up the page, the menu, the store and the global filters."""

import streamlit as st

from components import filters, session

st.set_page_config(page_title="CJM retention dashboard", page_icon=":material/route:", layout="wide")

# The menu is declared before any widget: with a pages/ folder beside this file, Streamlit runs the very first
# script run of a new server in its older multipage mode until st.navigation is called, and widgets drawn
# before that call would lose their first change.
menu = st.navigation(
    {
        "Leadership": [
            st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
            st.Page("pages/retention.py", title="Retention", icon=":material/group:"),
            st.Page("pages/churn_warning.py", title="Churn early warning", icon=":material/notifications:"),
        ],
        "Analysis": [
            st.Page("pages/funnel.py", title="Funnel", icon=":material/filter_alt:"),
            st.Page("pages/stage_kpis.py", title="Stage KPIs", icon=":material/leaderboard:"),
            st.Page("pages/journey_map.py", title="Journey map", icon=":material/map:"),
            st.Page("pages/review.py", title="KPI review", icon=":material/compare_arrows:"),
        ],
        "Support": [st.Page("pages/support.py", title="Support quality", icon=":material/support_agent:")],
        "Data": [
            st.Page("pages/data.py", title="Data", icon=":material/database:"),
            st.Page("pages/map_editor.py", title="Maps and targets", icon=":material/edit_note:"),
        ],
    }
)
where = session.ensure_store()
if session.has_tables(where.url, explain=False):
    filters.render_sidebar(where.url)
menu.run()
