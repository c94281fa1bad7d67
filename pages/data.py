"""The Data page: where the store is, what it holds, the data contract, and loading files with validation."""

import streamlit as st

from components import auth, data_panels, session, shell, source_panel
from data_access import access, i18n
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.i18n import _

shell.open_page("data")
where = session.location()
viewer = auth.current()

st.subheader(_("Store"))
# the row counts are every segment's: not for a viewer limited to some segments
counts = None if viewer.segments else session.guarded(cache.row_counts, where.url)
fresh = session.guarded(cache.freshness, where.url)
data_panels.store_status(where, fresh, counts)

st.subheader(_("Load your files"))
if viewer.may(access.LOAD):
    st.markdown(
        _(
            "CSV, Parquet or Excel files named after the tables (`customers.csv`, `tickets.parquet`, ...), up to "
            "{mb} MB each. Every file is checked before anything is written; a load with any problem writes "
            "nothing. Loading the same file again replaces rows with the same key instead of adding them twice."
        ).format(mb=i18n.number(SETTINGS.upload_max_mb))
    )
    data_panels.upload(where.url)
else:
    st.info(_("Your role reads the data; an admin loads it."), icon=":material/lock:")

st.subheader(_("Connect a tool's export"))
if viewer.may(access.LOAD):
    st.markdown(
        _(
            "An export as your tool writes it (Zendesk, Intercom, Freshdesk, Delighted, Typeform, SurveyMonkey, "
            "Qualtrics, PostHog, Amplitude, Mixpanel, Segment, Stripe, Shopify): its columns are mapped onto the "
            "contract, product events become stages by the stage rules (Maps and targets), and customers are found by "
            "id or e-mail. Nothing is written until you load it; its vendor ids make a re-load change nothing."
        )
    )
    source_panel.connect(where.url)
    with st.expander(_("Load log")):
        source_panel.load_log(where.url)

st.subheader(_("Data contract"))
data_panels.contract()
