"""The store the dashboard reads, opened once per session: first-run sample data with visible progress, and
store problems shown as a message instead of a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from components import context
from data_access import i18n, store
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS, StoreLocation, resolve_store
from data_access.i18n import _
from data_access.loading import first_run

T = TypeVar("T")


def location() -> StoreLocation:
    return resolve_store(None)


def ensure_store() -> StoreLocation:
    """The configured store; when none is configured and the embedded file is missing, the sample company's store
    is created, with a progress bar (:func:`first_start`)."""
    where = location()
    path = store.file_path(where.url) if where.is_default else None
    if path is not None and not path.exists():
        first_start(path)
    elif path is not None and guarded(cache.outdated_tables, where.url):
        # the dashboard's own file, made by an earlier version: brought up to date, as a load would
        with st.spinner(_("Bringing the store up to date (the customers' attributes onto their rows)...")):
            guarded(store.upgrade_store, store.create_store_engine(where.url))
        cache.outdated_tables.clear()
    cache.follow_store(where.url)
    return where


def first_start(path: Path) -> None:
    """Builds the sample store at ``path`` whole (:func:`first_run.build_sample_store`). A visitor who clicks away
    meanwhile stops this script at its next progress update: the build goes on to the end without drawing, and
    the click is let through after it, so that the store is never left half-built."""
    bar = st.progress(0.0, text=_("No store configured yet: creating the sample store..."))
    away: list[ScriptControlException] = []

    def report(fraction: float, message: str) -> None:
        if away:
            return
        try:
            bar.progress(min(fraction, 1.0), text=message)
        except ScriptControlException as exc:  # a rerun or a stop asked for while the store is being built
            away.append(exc)

    try:
        first_run.build_sample_store(
            path,
            SETTINGS.first_run_customers,
            42,
            report,
            i18n.default_language(),  # CJM_LANG=ru: the sample company speaks Russian too
        )
    except store.StoreError as exc:  # waited too long for another visitor's build, or the disk refused it
        bar.empty()
        st.error(str(exc), icon=":material/error:")
        st.button(_("Try again"))
        st.stop()
    if away:
        raise away[0]
    bar.empty()


def has_tables(url: str, *, explain: bool = True) -> bool:
    """Whether the store holds the contract's tables, made by this version; if not, says how to get them (the Data
    page still works)."""
    missing = guarded(cache.missing_tables, url)
    if missing:
        _say(
            explain,
            _(
                "The store has no {tables} table(s) yet. Load your files on the Data page (that creates them), or "
                "run `python -m data_access init` (empty tables) or `seed` (the sample company) with `--db` set to "
                "this store."
            ).format(tables=", ".join(missing)),
        )
        return False
    outdated = guarded(cache.outdated_tables, url)
    if outdated:
        _say(
            explain,
            _(
                "The store was made by an earlier version: its {tables} table(s) lack the customers' attributes on "
                "their rows. Run `python -m data_access init` with `--db` set to this store, or load any file on the "
                "Data page: either brings it up to date."
            ).format(tables=", ".join(outdated)),
        )
    return not outdated


def _say(explain: bool, text: str) -> None:
    if explain:
        st.info(text, icon=":material/info:")


def guarded(load: Callable[..., T], *args: object) -> T:
    """Runs a data load (with its spinner, in the session's language, when it takes a while); a store problem
    becomes a readable message and stops the page."""
    spinner = cache.SPINNERS.get(getattr(load, "__name__", ""))
    try:
        if spinner is None:
            return load(*args)
        with st.spinner(_(spinner)):
            return load(*args)
    except store.QueryTimeout as exc:
        st.error(
            _("{page}, with the filters {filters}: {error}").format(
                page=context.page_title(_("This page")), filters=context.filters().caption(), error=exc
            ),
            icon=":material/timer_off:",
        )
        st.button(_("Try again"))
        st.stop()
    except store.StoreBusy as exc:
        st.warning(f"{exc}", icon=":material/hourglass:")
        st.button(_("Try again"))
        st.stop()
    except store.StoreError as exc:
        st.error(f"{exc}", icon=":material/error:")
        st.caption(_("Set the store with CJM_DATABASE_URL or .streamlit/secrets.toml; see the Data page and README."))
        st.stop()
    raise AssertionError("unreachable")
