"""Panels of the Data page: store status, a refused load's report, the data contract."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from components import auth
from data_access import access, ingest, schema, store
from data_access import streamlit_cache as cache
from data_access.config import StoreLocation
from data_access.i18n import _


def store_status(where: StoreLocation, fresh: datetime | None, counts: dict[str, int] | None) -> None:
    st.markdown(
        f"| store | |\n|---|---|\n"
        f"| Database | {store.backend_name(where.url)} (`{store.safe_url(where.url)}`) |\n"
        f"| Configured by | {where.source} |\n"
        f"| Access | read-only for the figures; loads, edits, grants and the audit log write |\n"
        f"| Newest data | {fresh.strftime('%Y-%m-%d %H:%M UTC') if fresh else 'no data yet'} |\n"
    )
    if counts is None:
        st.caption("Rows per table are not shown to a viewer limited to some segments: they count every segment.")
        return
    st.dataframe(
        pl.DataFrame({"table": list(counts), "rows": list(counts.values())}),
        hide_index=True,
        column_config={"rows": st.column_config.NumberColumn(format="localized")},
    )


_LAST_LOAD = "data_last_load"


def upload(url: str) -> None:
    """The upload form: validates and loads the files, or shows why nothing was loaded."""
    done = st.session_state.pop(_LAST_LOAD, None)
    if done:
        st.success(done)
    with st.form("upload", clear_on_submit=False):
        files = st.file_uploader(
            "Files", accept_multiple_files=True, type=sorted(s.lstrip(".") for s in ingest.SUFFIXES)
        )
        mode = st.radio(
            "Mode",
            ingest.MODES,
            horizontal=True,
            captions=["add rows; same key = replaced", "empty these tables first"],
        )
        submitted = st.form_submit_button("Validate and load", type="primary")
    if not submitted:
        return
    if not files:
        st.warning("Choose at least one file first.")
        return
    auth.may_or_stop(access.LOAD, _("loading data"))
    too_big = [why for f in files if (why := ingest.upload_problem(f.name, f.size))]
    if too_big:
        st.error(f"Nothing was loaded: {'; '.join(too_big)}.")
        return
    sources = [ingest.Source(f.name, f.getvalue()) for f in files]
    bar = st.progress(0.0, text="Checking files...")
    try:
        writer = store.create_store_engine(url)
        try:
            written = ingest.ingest(
                writer,
                sources,
                mode=mode,
                progress=lambda fraction, message: bar.progress(min(fraction, 1.0), text=message),
            )
        finally:
            writer.dispose()
    except ingest.LoadRejected as exc:
        bar.empty()
        auth.audit("upload", ", ".join(s.name for s in sources), f"refused: {exc.problems.total} problem(s)")
        rejected(exc)
    except store.StoreError as exc:
        bar.empty()
        st.error(str(exc))
    else:
        auth.audit(
            "upload", ", ".join(s.name for s in sources), ", ".join(f"{t} {n:,} rows" for t, n in written.items())
        )
        cache.forget_results()
        st.session_state[_LAST_LOAD] = "Loaded: " + ", ".join(f"{t} {n:,} rows" for t, n in written.items())
        st.rerun()  # every figure on the page, the row counts included, now shows the new data


def rejected(exc: ingest.LoadRejected, headline: str = "Nothing was loaded") -> None:
    st.error(f"{headline}: {exc.problems.total} problem(s) found.")
    st.dataframe(
        pl.DataFrame(
            {
                "file": [p.file for p in exc.problems.shown],
                "row": [p.row for p in exc.problems.shown],
                "column": [p.column for p in exc.problems.shown],
                "problem": [p.reason for p in exc.problems.shown],
            },
            schema={"file": pl.String, "row": pl.Int64, "column": pl.String, "problem": pl.String},
        ),
        hide_index=True,
        width="stretch",
    )
    more = exc.problems.total - len(exc.problems.shown)
    if more > 0:
        st.caption(f"... and {more:,} more. Rows are counted from 1 after the header.")


def contract() -> None:
    st.caption("Timestamps are UTC: a value with an offset is converted, a value without one is taken as UTC.")
    for table in schema.TABLES:
        with st.expander(f"`{table.name}`"):
            rows = [
                {
                    "column": c.name,
                    "type": schema.type_name(c),
                    "required": "key"
                    if c.primary_key and not c.info["made_up"]
                    else ("yes" if c.info["required"] else "optional"),
                    "meaning": c.info["doc"],
                    "example": c.info["example"],
                }
                for c in table.columns
            ]
            st.dataframe(pl.DataFrame(rows), hide_index=True, width="stretch")
