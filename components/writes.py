"""The interface's one write path: every change made from a page (an upload, a saved map or target, a saved review, a
grant, an alert rule or subscription) runs through :func:`write`, which checks the viewer's right where the write
happens, runs it on a writing engine, shows a refusal (a file's problems as a table, anything else as one line) and
keeps the page as it was, or on success records the audit entry, forgets the cached results the write made stale,
and leaves what was done in the session for the page to show after the rerun."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
import streamlit as st

from components import auth
from components.builders import tables
from data_access import access, delivery, i18n, store
from data_access.alerts import AlertError
from data_access.audiences import RuleError
from data_access.digest import DigestError
from data_access.i18n import _, ngettext
from data_access.loading.ingest import LoadRejected

# what a write may refuse with, worded for the person at the keyboard
REFUSALS: tuple[type[Exception], ...] = (
    LoadRejected,
    access.AccessError,
    AlertError,
    delivery.NotifyError,
    store.StoreError,
    RuleError,
    DigestError,
)


@dataclass(frozen=True)
class Done:
    """What a write did: the words shown after the rerun, and what the audit log records when that differs."""

    message: str
    audit_detail: str | None = None


def write(
    url: str,
    action: Callable[[Any], str | Done],
    *,
    done_key: str,
    forget: Callable[[], None],
    right: tuple[str, str] | None = None,
    audited: tuple[str, str] | None = None,
    on_refusal: Callable[[], None] | None = None,
    nothing_done: str | None = None,
    audit_refused: bool = False,
) -> None:
    """Runs ``action`` (given a writing engine, it returns what it did, in words, or a :class:`Done`) on the store
    at ``url``.

    - ``right``: the right the viewer needs and the words for what it allows (refused with a stop otherwise);
    - ``audited``: the audit entry's action and object, when the data layer does not record one itself, and with
      ``audit_refused`` a refused file is recorded too;
    - ``forget``: forgets the cached results this write made stale;
    - ``done_key``: the session key where the page finds the message after the rerun;
    - ``on_refusal``: runs before a refusal is shown (to clear the message of the change before, or a progress bar);
    - ``nothing_done``: the headline of a file's refusal."""
    if right is not None:
        auth.may_or_stop(*right)
    st.session_state.pop(done_key, None)
    try:
        did = store.with_writer(url, action)
    except REFUSALS as exc:
        if on_refusal is not None:
            on_refusal()
        if isinstance(exc, LoadRejected):
            if audited is not None and audit_refused:
                auth.audit(*audited, f"refused: {exc.problems.total} problem(s)")
            rejected(exc, nothing_done or _("Nothing was saved"))
        else:
            st.error(str(exc))
        return
    done_as = did if isinstance(did, Done) else Done(did)
    if audited is not None:
        auth.audit(*audited, done_as.audit_detail or done_as.message)
    forget()
    st.session_state[done_key] = done_as.message
    st.rerun()


def rejected(exc: LoadRejected, headline: str | None = None) -> None:
    """A refused file or save: how many problems, and the first of them as a table (file, row, column, problem)."""
    st.error(
        ngettext("{headline}: {n} problem found.", "{headline}: {n} problems found.", exc.problems.total).format(
            headline=headline or _("Nothing was loaded"), n=i18n.number(exc.problems.total)
        )
    )
    st.dataframe(
        tables.arrow(
            pl.DataFrame(
                {
                    _("file"): [p.file for p in exc.problems.shown],
                    _("row"): [p.row for p in exc.problems.shown],
                    _("column"): [p.column for p in exc.problems.shown],
                    _("problem"): [p.reason for p in exc.problems.shown],
                },
                schema={_("file"): pl.String, _("row"): pl.Int64, _("column"): pl.String, _("problem"): pl.String},
            )
        ),
        hide_index=True,
        width="stretch",
    )
    more = exc.problems.total - len(exc.problems.shown)
    if more > 0:
        st.caption(_("... and {n} more. Rows are counted from 1 after the header.").format(n=i18n.number(more)))
