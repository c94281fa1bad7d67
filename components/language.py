"""The session's interface language: ``?lang=ru`` in a link opens the app in that language, the sidebar's switch
changes it for the session (and in the link), and otherwise ``CJM_LANG`` (else English) applies."""

from __future__ import annotations

import streamlit as st

from data_access import i18n
from data_access.i18n import _

STATE_KEY = "cjm_lang"
PARAM = "lang"
_SWITCH = "lang_switch"


def choose() -> str:
    """Sets this script run's language and returns it: the link's ``?lang=`` when it names a language (it is
    then remembered for the session), else the session's choice, else the default."""
    asked = st.query_params.get(PARAM)
    if asked in i18n.LANGUAGES and asked != st.session_state.get(STATE_KEY):
        st.session_state[STATE_KEY] = asked
        st.session_state[_SWITCH] = asked
    return i18n.use(st.session_state.get(STATE_KEY) or i18n.default_language())


def _switched() -> None:
    picked = st.session_state.get(_SWITCH)
    if picked in i18n.LANGUAGES:
        st.session_state[STATE_KEY] = picked
        st.query_params[PARAM] = picked  # a link copied from now on opens in this language


def switch() -> None:
    """The sidebar's language switch (shown when there is more than one language)."""
    if len(i18n.LANGUAGES) < 2:
        return
    if st.session_state.get(_SWITCH) not in i18n.LANGUAGES:
        st.session_state[_SWITCH] = i18n.current()
    st.sidebar.radio(
        _("Language"),
        list(i18n.LANGUAGES),
        format_func=i18n.LANGUAGES.__getitem__,
        key=_SWITCH,
        on_change=_switched,
        horizontal=True,
        label_visibility="collapsed",
    )
