"""The interface's one write path: every change made from a page (a saved map or target, a saved review, a grant, an
alert rule or subscription) runs through :func:`write`, which checks the viewer's right where the write happens, runs
it on a writing engine, shows a refusal (a file's problems as a table, anything else as one line) and keeps the
page as it was, or on success records the audit entry, forgets the cached results the write made stale, and shows
what was done after the rerun (:func:`done`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from components import auth, data_panels
from data_access import access, delivery, store
from data_access.alerts import AlertError
from data_access.i18n import _
from data_access.loading.ingest import LoadRejected

# what a write may refuse with, worded for the person at the keyboard
REFUSALS: tuple[type[Exception], ...] = (
    LoadRejected,
    access.AccessError,
    AlertError,
    delivery.NotifyError,
    store.StoreError,
)


def write(
    url: str,
    action: Callable[[Any], str],
    *,
    done_key: str,
    forget: Callable[[], None],
    right: tuple[str, str] | None = None,
    audited: tuple[str, str] | None = None,
    on_refusal: Callable[[], None] | None = None,
) -> None:
    """Runs ``action`` (given a writing engine, it returns what it did, in words) on the store at ``url``.

    ``right``: the right the viewer needs and the words for what it allows (refused with a stop otherwise);
    ``audited``: the audit entry's action and object, when the data layer does not record one itself;
    ``forget``: forgets the cached results this write made stale; ``done_key``: where :func:`done` finds the message;
    ``on_refusal``: runs before a refusal is shown (to clear the message of the change before)."""
    if right is not None:
        auth.may_or_stop(*right)
    st.session_state.pop(done_key, None)
    try:
        did = store.with_writer(url, action)
    except REFUSALS as exc:
        if on_refusal is not None:
            on_refusal()
        if isinstance(exc, LoadRejected):
            data_panels.rejected(exc, _("Nothing was saved"))
        else:
            st.error(str(exc))
        return
    if audited is not None:
        auth.audit(*audited, did)
    forget()
    st.session_state[done_key] = did
    st.rerun()


def done(done_key: str) -> str | None:
    """What the last write under ``done_key`` did (kept across its rerun), or None."""
    return st.session_state.get(done_key)
