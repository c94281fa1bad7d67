"""The Access page's panels (admins only): the grants with a form to grant and revoke, and the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from components import auth, downloads, session, writes
from components.builders import labels, tables
from data_access import access, i18n, schema
from data_access import streamlit_cache as cache
from data_access.config import SETTINGS
from data_access.i18n import _

_DONE = "access_done"
AUDIT_SHOWN = 500  # newest entries shown on the page (the command line prints them all)


def _write(url: str, run: Callable[[Any], str]) -> None:
    """A grant or revoke (the right is checked where it writes; the data layer records the audit entry)."""
    writes.write(url, run, done_key=_DONE, forget=cache.forget_access, right=(access.GRANT, _("granting roles")))


def grants(url: str) -> None:
    done = st.session_state.get(_DONE)
    if done:
        st.success(done)
    table = session.guarded(cache.grants, url)
    st.dataframe(
        tables.arrow(
            labels.headers(table.with_columns(table["segment"].replace({schema.ALL_SEGMENTS: _("every segment")})))
        ),
        hide_index=True,
        width="stretch",
        key="access_grants",
    )
    me = auth.current().email
    segments = session.guarded(cache.dimension_values, url, auth.current().scope).get("segment", [])
    with st.form("access_grant", clear_on_submit=False):
        left, middle, right = st.columns(3)
        email = left.text_input("E-mail", placeholder="jane.doe@example.com")
        role = middle.selectbox(_("Role"), access.ROLES)
        segment = right.selectbox(
            _("Only the segment"), ["", *segments], format_func=lambda s: s or _("(every segment)")
        )
        if st.form_submit_button(_("Grant"), type="primary"):
            limit = segment or None
            _write(url, lambda w: access.grant(w, email, role, limit, me))
    if table.height:
        options = [f"{r['email']} · {r['role']} · {r['segment']}" for r in table.iter_rows(named=True)]
        with st.form("access_revoke"):
            picked = st.selectbox(_("Grant to revoke"), options)
            if st.form_submit_button(_("Revoke")):
                row = table.row(options.index(picked), named=True)
                _write(url, lambda w: access.revoke(w, row["email"], row["role"], me, row["segment"]))
    st.caption(
        _(
            "A person's roles add up; their segment limit is the union of their grants' segments, and a grant for "
            "every segment lifts it. Changes reach a signed-in person within {seconds} s. From the command line: "
            "`python -m data_access access grant EMAIL ROLE [--segment VALUE]`."
        ).format(seconds=SETTINGS.access_ttl_seconds)
    )


def audit_log(url: str) -> None:
    entries = session.guarded(cache.audit_entries, url, AUDIT_SHOWN)
    st.caption(
        _(
            "The newest {n} entries: sign-ins, grants and revokes, uploads, edits of maps and targets, saved reviews "
            "and every download. All of them: `python -m data_access audit --since DATE`."
        ).format(n=i18n.number(AUDIT_SHOWN))
    )
    st.dataframe(tables.arrow(labels.headers(entries)), hide_index=True, width="stretch", key="access_audit")
    downloads.csv_button(_("Download the audit log"), entries, "audit_log.csv", "access_audit_csv")
