"""The global filters in the sidebar: kept across pages (widgets live in the entry script) and mirrored in
the URL's query parameters, so a view can be shared as a link."""

from __future__ import annotations

from datetime import date

import streamlit as st

from components import context
from components.context import FILTERS_KEY, viewer
from components.session import guarded
from data_access import schema
from data_access import streamlit_cache as cache
from data_access.filters import AudienceChoice, FilterError, Filters, Period, dimension_label
from data_access.i18n import _

_PERIOD = "f_period"
_AUDIENCE = "f_audience"
_READ_URL = "f_read_from_url"
_FILTER_PARAMS = {"from", "to", "audience", *schema.FILTER_DIMENSIONS}


def _key(dim: str) -> str:
    return f"f_{dim}"


def _from_url(bounds: tuple[date, date] | None, options: dict[str, list[str]], audiences: list[str]) -> None:
    """Once per session: widget state from the link's query parameters (unknown values are ignored)."""
    params = st.query_params
    if bounds and ("from" in params or "to" in params):
        try:
            lo = date.fromisoformat(params.get("from", bounds[0].isoformat()))
            hi = date.fromisoformat(params.get("to", bounds[1].isoformat()))
            if lo <= hi:
                st.session_state[_PERIOD] = (lo, hi)
        except ValueError:
            st.toast(_("The link's period could not be read; showing all data."))
    for dim in schema.FILTER_DIMENSIONS:
        chosen = [v for v in params.get_all(dim) if v in options.get(dim, [])]
        if chosen:
            st.session_state[_key(dim)] = chosen
    if params.get("audience") in audiences:
        st.session_state[_AUDIENCE] = params.get("audience")


def _to_url(filters: Filters, bounds: tuple[date, date] | None) -> None:
    wanted: dict[str, str | list[str]] = {}
    period = filters.period
    shown = (period.start.date(), period.last_day) if period.start is not None and period.last_day else None
    if bounds and shown and shown != bounds:
        wanted["from"] = shown[0].isoformat()
        wanted["to"] = shown[1].isoformat()
    for dim, values in filters.dimension_values().items():
        wanted[dim] = list(values)
    if filters.audience is not None:
        wanted["audience"] = filters.audience.key
    current = {
        k: (st.query_params.get_all(k) if k in schema.FILTER_DIMENSIONS else st.query_params.get(k))
        for k in st.query_params
    }
    # parameters a page keeps of its own (a selected cell of the journey map) stay in the link
    wanted |= {k: v for k, v in current.items() if k not in _FILTER_PARAMS}
    if current != wanted:
        st.query_params.from_dict(wanted)


def render_sidebar(url: str) -> Filters:
    """Draws the filters and returns them; pages read the same object with :func:`current`. Only the values of
    the viewer's scope are offered (a link's other values are ignored, and the queries apply the scope anyway)."""
    scope = viewer().scope
    span = guarded(cache.data_range, url)
    options = guarded(cache.dimension_values, url, scope)
    audiences = {a.key: a for a in guarded(cache.audience_choices, url, scope)}
    bounds = (span[0].date(), span[1].date()) if span else None
    if not st.session_state.get(_READ_URL):
        st.session_state[_READ_URL] = True
        _from_url(bounds, options, list(audiences))
    with st.sidebar:
        st.header(_("Filters"))
        period = Period()
        if bounds:
            picked = st.date_input(
                _("Period"),
                value=bounds,
                min_value=bounds[0],
                max_value=bounds[1],
                key=_PERIOD,
                help=_("Both days included. Defaults to all the data."),
            )
            days = picked if isinstance(picked, tuple) else (picked,)
            if len(days) == 2:
                period = Period.days(days[0], days[1])
            elif len(days) == 1:
                period = Period.days(days[0], days[0])
        else:
            st.caption(_("No journey events yet: the period filter appears once there is data."))
        chosen: dict[str, tuple[str, ...]] = {}
        for dim in schema.FILTER_DIMENSIONS:
            if options.get(dim):
                label = dimension_label(dim)
                chosen[dim] = tuple(
                    st.multiselect(label[:1].upper() + label[1:], options[dim], key=_key(dim), placeholder=_("All"))
                )
        audience = _audience_choice(audiences)
        try:
            filters = Filters(period=period, scope=scope, audience=audience, **chosen)
        except FilterError as exc:
            st.error(str(exc))
            filters = Filters(scope=scope, audience=audience, **chosen)
        st.caption(filters.caption())
    st.session_state[FILTERS_KEY] = filters
    _to_url(filters, bounds)
    return filters


def _audience_choice(audiences: dict[str, AudienceChoice]) -> AudienceChoice | None:
    """The Audience choice (shown once some audience has been computed)."""
    if st.session_state.get(_AUDIENCE) not in (None, *audiences):
        del st.session_state[_AUDIENCE]  # removed since it was chosen
    if not audiences:
        return None
    key = st.selectbox(
        _("Audience"),
        list(audiences),
        index=None,
        format_func=lambda k: audiences[k].name,
        key=_AUDIENCE,
        placeholder=_("All customers"),
        help=_("Only the members of an audience, as of its last recompute (see the Audiences page)."),
    )
    return audiences.get(key) if key else None


current = context.filters  # what the pages read: the filters drawn on this run, with the viewer's scope
