"""The Alerts page's digest: who receives the Overview by e-mail every week or month, for which segment and in which
language; subscribing (one's own address, or anyone's for an analyst or admin) and stopping."""

from __future__ import annotations

import polars as pl
import streamlit as st

from components import session, writes
from components.builders import labels, tables
from data_access import access, digest, i18n
from data_access import streamlit_cache as cache
from data_access.access import Access
from data_access.i18n import N_, _

EVERY_WORDS = {"week": N_("every week"), "month": N_("every month")}
_DONE = "digest_done"


def _write(url: str, run) -> None:
    writes.write(url, run, done_key=_DONE, forget=cache.forget_alerts)


def panel(url: str, viewer: Access) -> None:
    """The subscriptions the viewer may see (everyone's for an editor, else their own) and the forms."""
    st.caption(
        _(
            "The Overview by e-mail: the nine headline figures with their change, n and month lines, the funnel in "
            "brief, the stages furthest from target, the churn alerts and the exits, offers and tests, with a link "
            "into the app. `notify run` or `notify schedule` sends it once per week or month, within the "
            "recipient's role and segment limit."
        )
    )
    if st.session_state.get(_DONE):
        st.success(st.session_state.pop(_DONE))
    subs = session.guarded(cache.digest_subscriptions, url)
    if not viewer.may(access.EDIT):
        subs = subs.filter(subs["email"] == viewer.email)
    every_segment = _("(every segment)")
    names = i18n.available()
    if subs.height:
        shown = subs.select(
            "email",
            pl.col("every").replace({k: _(v) for k, v in EVERY_WORDS.items()}),
            pl.when(pl.col("segment") == "").then(pl.lit(every_segment)).otherwise(pl.col("segment")).alias("segment"),
            pl.col("lang").replace(names),
            "added_by",
            "added_at",
        )
        st.dataframe(tables.arrow(labels.headers(shown)), hide_index=True, width="stretch", key="digest_list")
    else:
        st.caption(_("Nobody receives the digest yet."))
    segments = session.guarded(cache.dimension_values, url, viewer.scope).get("segment", [])
    choices = list(viewer.segments) if viewer.segments else ["", *segments]
    with st.form("digest_add", clear_on_submit=False):
        left, middle, right, last = st.columns([3, 2, 2, 1])
        email = left.text_input(
            _("E-mail"), value=viewer.email if "@" in viewer.email else "", placeholder="jane.doe@example.com"
        )
        every = middle.selectbox(_("How often"), digest.EVERY, format_func=lambda e: _(EVERY_WORDS[e]))
        segment = right.selectbox(_("Segment"), choices, format_func=lambda s: s or _("(every segment)"))
        languages = list(i18n.LANGUAGES)
        lang = last.selectbox(
            _("Language"), languages, index=languages.index(i18n.current()), format_func=lambda c: names.get(c, c)
        )
        if st.form_submit_button(_("Subscribe to the digest")):
            _write(url, lambda w: _subscribed(w, email, every, segment, lang, viewer))
    if subs.height:
        with st.form("digest_remove"):
            keys = [(r["email"], r["every"], r["segment"]) for r in subs.iter_rows(named=True)]
            gone = st.selectbox(
                _("Digest to stop"),
                keys,
                format_func=lambda k: " · ".join((k[0], _(EVERY_WORDS[k[1]]), k[2] or every_segment)),
            )
            if st.form_submit_button(_("Stop")):
                _write(url, lambda w: _stopped(w, gone, viewer))


def _subscribed(engine, email: str, every: str, segment: str, lang: str, viewer: Access) -> str:
    digest.subscribe(engine, email, every, segment, lang, viewer)
    return _("{email} gets the Overview {every}.").format(email=email.strip().lower(), every=_(EVERY_WORDS[every]))


def _stopped(engine, key: tuple[str, str, str], viewer: Access) -> str:
    email, every, segment = key
    digest.unsubscribe(engine, email, viewer, every, segment)
    return _("{email} no longer gets the Overview {every}.").format(email=email, every=_(EVERY_WORDS[every]))
