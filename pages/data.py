"""The Data page: where the store is, what it holds, the data contract, and loading files with validation."""

import streamlit as st

from components import data_panels, session, shell
from data_access import streamlit_cache as cache

shell.through_app()  # first: a visit straight to this page still runs app.py

where = session.location()
st.title("Data")

st.subheader("Store")
counts = session.guarded(cache.row_counts, where.url)
fresh = session.guarded(cache.freshness, where.url)
data_panels.store_status(where, fresh, counts)

st.subheader("Load your files")
st.markdown(
    "CSV, Parquet or Excel files named after the tables (`customers.csv`, `tickets.parquet`, ...). Every file "
    "is checked before anything is written; a load with any problem writes nothing. Loading the same file "
    "again replaces rows with the same key instead of adding them twice."
)
data_panels.upload(where.url)

st.subheader("Data contract")
data_panels.contract()
