"""CJM retention dashboard: the entry point. Sets up the page, the store, the global filters and the menu."""

import streamlit as st

from components import filters, session

st.set_page_config(page_title="CJM retention dashboard", page_icon=":material/route:", layout="wide")

where = session.ensure_store()
filters.render_sidebar(where.url)

menu = st.navigation(
    {
        "Analysis": [
            st.Page("pages/stage_kpis.py", title="Stage KPIs", icon=":material/leaderboard:", default=True),
        ],
        "Data": [st.Page("pages/data.py", title="Data", icon=":material/database:")],
    }
)
menu.run()
