"""Panels of the Data page: store status, a refused load's report, the data contract."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from data_access import ingest, schema, store
from data_access.config import StoreLocation


def store_status(where: StoreLocation, fresh: datetime | None, counts: dict[str, int]) -> None:
    st.markdown(
        f"| store | |\n|---|---|\n"
        f"| Database | {store.backend_name(where.url)} (`{store.safe_url(where.url)}`) |\n"
        f"| Configured by | {where.source} |\n"
        f"| Access | read-only for the dashboard; the loads below write |\n"
        f"| Newest data | {fresh.strftime('%Y-%m-%d %H:%M UTC') if fresh else 'no data yet'} |\n"
    )
    st.dataframe(
        pl.DataFrame({"table": list(counts), "rows": list(counts.values())}),
        hide_index=True,
        column_config={"rows": st.column_config.NumberColumn(format="localized")},
    )


def rejected(exc: ingest.LoadRejected) -> None:
    st.error(f"Nothing was loaded: {exc.problems.total} problem(s) found.")
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
