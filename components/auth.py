"""Sign-in and roles in the app: Streamlit's own OpenID Connect sign-in (``st.login`` / ``st.user``, configured by
the ``[auth]`` section of ``.streamlit/secrets.toml``), the viewer's access from the store's grants and the token's
claim, the pages of the signed-out and of those without a role, and the audit of what people do.

Without an ``[auth]`` section the app runs in local mode: one user on their own machine, who may do everything; it
says so in the sidebar. With ``CJM_REQUIRE_LOGIN=1`` (or ``require_login = true`` under ``[access]``) a missing
``[auth]`` section is an error page instead, so that a server is never opened to everyone by mistake."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from components import session
from components.context import ACCESS_KEY, NOBODY
from components.context import viewer as current  # the viewer of this run
from data_access import access, store
from data_access import streamlit_cache as cache
from data_access.access import Access
from data_access.config import SETTINGS
from data_access.i18n import _

_SIGNED_IN_RECORDED = "cjm_sign_in_recorded"


@dataclass(frozen=True)
class Options:
    """The ``[access]`` section of secrets.toml."""

    roles_claim: str | None = None  # an ID-token claim listing the person's groups, e.g. "groups"
    group_roles: dict[str, str] = field(default_factory=dict)  # group -> "role" or "role:segment"
    admin_contact: str | None = None  # whom a person without a role is told to ask
    require_login: bool = False


def _secret(name: str) -> Any:
    """A top-level section of st.secrets, or None (also when there is no secrets file at all)."""
    try:
        return st.secrets.get(name)
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return None


def options() -> Options:
    raw = _secret("access") or {}
    return Options(
        roles_claim=raw.get("roles_claim") or None,
        group_roles={str(k): str(v) for k, v in (raw.get("group_roles") or {}).items()},
        admin_contact=raw.get("admin_contact") or None,
        require_login=SETTINGS.require_login or bool(raw.get("require_login", False)),
    )


def sign_in_configured() -> bool:
    return bool(_secret("auth"))


def _providers() -> list[str | None]:
    """The providers of the [auth] section: None for one configured in the section itself, else its named ones."""
    section = _secret("auth") or {}
    named = [k for k, v in section.items() if hasattr(v, "keys")]
    return [None] if "server_metadata_url" in section or not named else named


@dataclass(frozen=True)
class Gate:
    """How this run starts: with the viewer's access, or with a page of its own (signed out, no role, a server that
    requires sign-in without it configured) that is the only thing shown."""

    access: Access = NOBODY
    page: Callable[[], None] | None = None
    title: str = ""
    local: bool = False


def gate() -> Gate:
    """Decides who is looking, drawing nothing but what a signed-in viewer's first store access needs."""
    settings = options()
    if not sign_in_configured():
        if settings.require_login:
            sys.stderr.write("CJM: sign-in is required (CJM_REQUIRE_LOGIN) but secrets.toml has no [auth] section\n")
            return Gate(page=_misconfigured, title=_("Sign-in is not configured"))
        return Gate(access=Access.local(), local=True)
    if not st.user.get("is_logged_in", False):
        return Gate(page=_sign_in, title=_("Sign in"))
    claims = st.user.to_dict()
    email = str(claims.get("email") or "").strip().lower()
    if not email or claims.get("email_verified") is False:
        return Gate(page=_no_access, title=_("No access"))
    url = session.ensure_store().url
    extra = tuple(access.claim_grants(claims, settings.roles_claim, settings.group_roles))
    viewer = session.guarded(cache.access_for, url, email, extra)
    if not viewer.roles:
        return Gate(access=viewer, page=_no_access, title=_("No access"))
    return Gate(access=viewer)


def remember(found: Gate) -> None:
    """Keeps the viewer for the pages of this run and records a sign-in once per session."""
    st.session_state[ACCESS_KEY] = found.access
    if not found.local and found.access.email and not st.session_state.get(_SIGNED_IN_RECORDED):
        st.session_state[_SIGNED_IN_RECORDED] = True
        audit("sign-in", "app", found.access.caption())


def remembered() -> bool:
    """Whether app.py has recorded the viewer in this session (every run through it does, before the page)."""
    return ACCESS_KEY in st.session_state


def sidebar(found: Gate) -> None:
    with st.sidebar:
        if found.local:
            st.caption(":material/lock_open: " + _("Local mode: sign-in is off"))
            return
        st.caption(f":material/person: {found.access.caption()}")
        if st.button(_("Sign out"), key="auth_sign_out", icon=":material/logout:"):
            st.logout()


def audit(action: str, object_: str, detail: str | None = None) -> None:
    """Records what the viewer did in the audit log. A store that cannot take the entry is told in a toast; the
    action itself goes on (a download is not held back by a busy store)."""
    who = current().email or access.LOCAL_USER
    try:
        writer = store.create_store_engine(session.location().url)
        try:
            access.record(writer, who, action, object_, detail)
        finally:
            writer.dispose()
    except store.StoreError as exc:
        sys.stderr.write(f"CJM: audit entry not written ({action} {object_}): {exc}\n")
        st.toast(_("The audit log could not record this action; the store said: {error}").format(error=str(exc)[:200]))


def _sign_in() -> None:
    st.title(_("CJM retention dashboard"))
    st.markdown(_("Sign in to see where your customers' journey leaks."))
    for provider in _providers():
        label = _("Sign in") if provider is None else _("Sign in with {provider}").format(provider=provider)
        if st.button(label, type="primary", key=f"auth_sign_in_{provider or 'default'}", icon=":material/login:"):
            st.login() if provider is None else st.login(provider)


def _no_access() -> None:
    viewer = current()
    contact = options().admin_contact or _("your dashboard's administrator")
    email = viewer.email or str(st.user.get("email") or "")
    st.title(_("No access"))
    if not email:
        st.warning(
            _("Your sign-in did not give a verified e-mail address, which the dashboard needs to find your role.")
        )
    else:
        st.warning(
            _("You are signed in as {email}, but no role has been granted to you.").format(email=email),
            icon=":material/block:",
        )
    st.markdown(
        _("Ask **{contact}** to grant you one (leadership, support_lead, analyst or admin), for example:").format(
            contact=contact
        )
        + f"\n\n`python -m data_access access grant {email or 'EMAIL'} leadership`"
    )
    if st.button(_("Sign out"), key="auth_sign_out_no_access", icon=":material/logout:"):
        st.logout()


def _misconfigured() -> None:
    st.title(_("Sign-in is not configured"))
    st.error(
        _(
            "This dashboard requires sign-in (CJM_REQUIRE_LOGIN, or require_login under [access]), but "
            ".streamlit/secrets.toml has no [auth] section. Nothing is shown until it is added; see the README, "
            "section Deploying for a team."
        ),
        icon=":material/lock:",
    )


def may_or_stop(right: str, what: str) -> None:
    """Stops the page with a refusal unless the viewer has ``right`` (checked where the action is, not only hidden)."""
    if not current().may(right):
        st.warning(_("Your role does not allow {what}.").format(what=what), icon=":material/block:")
        st.stop()
