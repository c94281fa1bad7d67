"""The store the dashboard reads, opened once per session: first-run sample data with visible progress, and
store problems shown as a message instead of a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from data_access import ingest, store
from data_access.config import SETTINGS, StoreLocation, resolve_store

T = TypeVar("T")


def location() -> StoreLocation:
    return resolve_store(None)


def ensure_store() -> StoreLocation:
    """The configured store; when none is configured and the embedded file is missing, it is created and
    filled with the sample company, with a progress bar."""
    where = location()
    path = store.file_path(where.url) if where.is_default else None
    if path is not None and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        bar = st.progress(0.0, text="No store configured yet: creating the sample store...")
        try:
            ingest.seed(
                store.create_store_engine(where.url),
                SETTINGS.first_run_customers,
                42,
                lambda fraction, message: bar.progress(min(fraction, 1.0), text=message),
            )
        except Exception:
            path.unlink(missing_ok=True)  # never leave a half-filled store behind
            raise
        bar.empty()
    return where


def guarded(load: Callable[..., T], *args: object) -> T:
    """Runs a data load; a store problem becomes a readable message and stops the page."""
    try:
        return load(*args)
    except store.StoreBusy as exc:
        st.warning(f"{exc}", icon=":material/hourglass:")
        st.button("Try again")
        st.stop()
    except store.StoreError as exc:
        st.error(f"{exc}", icon=":material/error:")
        st.caption("Set the store with CJM_DATABASE_URL or .streamlit/secrets.toml; see the Data page and README.")
        st.stop()
    raise AssertionError("unreachable")
