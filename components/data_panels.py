"""Panels of the Data page: store status, a refused load's report, the data contract."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
import streamlit as st

from components import auth, writes
from components.builders import tables
from data_access import access, i18n, schema, store
from data_access import streamlit_cache as cache
from data_access.config import StoreLocation
from data_access.i18n import N_, _, ngettext
from data_access.loading import ingest


def store_status(where: StoreLocation, fresh: datetime | None, counts: dict[str, int] | None) -> None:
    newest = i18n.moment(fresh) + " UTC" if fresh else _("no data yet")
    rows = [
        (_("Database"), f"{store.backend_name(where.url)} (`{store.safe_url(where.url)}`)"),
        (_("Configured by"), where.source),
        (_("Access"), _("read-only for the figures; loads, edits, grants and the audit log write")),
        (_("Newest data"), newest),
    ]
    heading = _("store")
    st.markdown(f"| {heading} | |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in rows))
    if counts is None:
        st.caption(_("Rows per table are not shown to a viewer limited to some segments: they count every segment."))
        return
    table, rows = _("table"), _("rows")
    st.dataframe(
        tables.arrow(pl.DataFrame({table: list(counts), rows: list(counts.values())})),
        hide_index=True,
        column_config={rows: st.column_config.NumberColumn(format="localized")},
    )


_LAST_LOAD = "data_last_load"


def upload(url: str) -> None:
    """The upload form: validates and loads the files, or shows why nothing was loaded."""
    done = st.session_state.pop(_LAST_LOAD, None)
    if done:
        st.success(done)
    with st.form("upload", clear_on_submit=False):
        files = st.file_uploader(
            _("Files"), accept_multiple_files=True, type=sorted(s.lstrip(".") for s in ingest.SUFFIXES)
        )
        mode = st.radio(
            _("Mode"),
            ingest.MODES,
            format_func=lambda m: _(MODE_WORDS.get(m, m)),
            horizontal=True,
            captions=[_("add rows; same key = replaced"), _("empty these tables first")],
        )
        submitted = st.form_submit_button(_("Validate and load"), type="primary")
    if not submitted:
        return
    if not files:
        st.warning(_("Choose at least one file first."))
        return
    auth.may_or_stop(access.LOAD, _("loading data"))
    too_big = [why for f in files if (why := ingest.upload_problem(f.name, f.size))]
    if too_big:
        st.error(_("Nothing was loaded: {reasons}.").format(reasons="; ".join(too_big)))
        return
    sources = [ingest.Source(f.name, f.getvalue()) for f in files]
    bar = st.progress(0.0, text=_("Checking files..."))

    def load(writer: Any) -> writes.Done:  # a writing engine
        written = ingest.ingest(
            writer,
            sources,
            mode=mode,
            progress=lambda fraction, message: bar.progress(min(fraction, 1.0), text=message),
        )
        return writes.Done(
            _("Loaded: {tables}").format(
                tables=", ".join(
                    ngettext("{table} {n} row", "{table} {n} rows", n).format(table=t, n=i18n.number(n))
                    for t, n in written.items()
                )
            ),
            audit_detail=", ".join(f"{t} {n:,} rows" for t, n in written.items()),
        )

    # every figure on the page, the row counts included, shows the new data after the rerun
    writes.write(
        url,
        load,
        done_key=_LAST_LOAD,
        forget=cache.forget_results,
        right=(access.LOAD, _("loading data")),
        audited=("upload", ", ".join(s.name for s in sources)),
        audit_refused=True,
        on_refusal=bar.empty,
        nothing_done=_("Nothing was loaded"),
    )


MODE_WORDS = {"append": N_("append"), "replace": N_("replace")}


def contract() -> None:
    st.caption(_("Timestamps are UTC: a value with an offset is converted, a value without one is taken as UTC."))
    for table in schema.TABLES:
        with st.expander(f"`{table.name}`"):
            rows = [
                {
                    _("column"): c.name,
                    _("type"): _(schema.type_name(c)),
                    _("required"): _("key")
                    if c.primary_key and not c.info["made_up"]
                    else (_("yes") if c.info["required"] else _("optional")),
                    _("meaning"): schema.column_doc(c),
                    _("example"): c.info["example"],
                }
                for c in schema.contract_columns(table)
            ]
            st.dataframe(tables.arrow(pl.DataFrame(rows)), hide_index=True, width="stretch")
