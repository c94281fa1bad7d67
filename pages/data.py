"""The Data page: where the store is, what it holds, the data contract, and loading files with validation."""

import streamlit as st

from components import data_panels, session
from data_access import ingest, store
from data_access import streamlit_cache as cache

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
with st.form("upload", clear_on_submit=False):
    files = st.file_uploader("Files", accept_multiple_files=True, type=sorted(s.lstrip(".") for s in ingest.SUFFIXES))
    mode = st.radio(
        "Mode", ingest.MODES, horizontal=True, captions=["add rows; same key = replaced", "empty these tables first"]
    )
    submitted = st.form_submit_button("Validate and load", type="primary")
if submitted:
    if not files:
        st.warning("Choose at least one file first.")
    else:
        sources = [ingest.Source(f.name, f.getvalue()) for f in files]
        bar = st.progress(0.0, text="Checking files...")
        try:
            written = ingest.ingest(
                store.create_store_engine(where.url),
                sources,
                mode=mode,
                progress=lambda fraction, message: bar.progress(min(fraction, 1.0), text=message),
            )
        except ingest.LoadRejected as exc:
            bar.empty()
            data_panels.rejected(exc)
        except store.StoreError as exc:
            bar.empty()
            st.error(str(exc))
        else:
            cache.forget_results()
            st.success("Loaded: " + ", ".join(f"{t} {n:,} rows" for t, n in written.items()))

st.subheader("Data contract")
data_panels.contract()
