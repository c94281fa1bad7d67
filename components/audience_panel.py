"""The Audiences page's panels: the audiences with their size and when each was last computed, one audience up close
(its rule, entries and exits per day, its members within the viewer's limit, where it is pushed and what was sent),
and the builder for the common shapes (or a rule pasted as JSON) with a count of its members before it is saved."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from components import downloads, session, writes
from components.builders import charts, labels, tables
from data_access import access, alerts, audiences, delivery, i18n
from data_access import streamlit_cache as cache
from data_access.access import Access
from data_access.audiences import Audience, RuleError, push
from data_access.filters import AudienceChoice
from data_access.i18n import _, ngettext

_DONE = "audiences_done"
STALE = timedelta(days=1)  # a last recompute older than this is said to be old


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _write(url: str, run: Any, audited: tuple[str, str] | None = None) -> None:
    writes.write(
        url,
        run,
        done_key=_DONE,
        forget=cache.forget_audiences,
        right=(access.EDIT, _("changing audiences")),
        audited=audited,
    )


def done_message() -> None:
    message = st.session_state.pop(_DONE, None)
    if message:
        st.success(message, icon=":material/check_circle:")


def overview(url: str, viewer: Access) -> list[AudienceChoice]:
    """The table of audiences and the recompute button; returns the computed ones."""
    book = session.guarded(cache.audience_book, url)
    computed = {c.key: c for c in session.guarded(cache.audience_choices, url, viewer.scope)}
    if not book:
        st.info(_("No audiences yet: make one below, or with `python -m data_access audiences add`."))
        return []
    rows = [
        {
            _("audience"): a.name,
            _("key"): a.key,
            _("members"): computed[a.key].members if a.key in computed else None,
            _("computed"): computed[a.key].computed_at if a.key in computed else None,
            _("owner"): a.owner,
        }
        for a in book
    ]
    st.dataframe(tables.arrow(pl.DataFrame(rows)), hide_index=True, width="stretch", key="audiences_table")
    newest = max((c.computed_at for c in computed.values() if c.computed_at), default=None)
    if newest is None:
        st.warning(_("Not computed yet: the members appear after the first recompute."), icon=":material/schedule:")
    elif _now() - newest > STALE:
        st.warning(
            _("Last computed {when}: the members may have changed since. `notify schedule` keeps them current.").format(
                when=i18n.moment(newest)
            ),
            icon=":material/schedule:",
        )
    if st.button(_("Recompute every audience now"), key="audiences_recompute"):
        _write(url, _recomputed, ("audience", "recompute"))
    return list(computed.values())


def _recomputed(engine: Any) -> str:
    changes = audiences.recompute(engine, _now())
    return "; ".join(
        _("{key}: {n} members ({entered} entered, {left} left)").format(
            key=c.audience, n=i18n.number(c.members), entered=i18n.number(c.entered), left=i18n.number(c.left)
        )
        for c in changes
    ) or _("No audiences to recompute.")


def daily_chart(frame: pl.DataFrame) -> go.Figure:
    """Entered (up) and left (down) per day."""
    if frame.height == 0:
        return charts.empty(_("Nobody has entered or left yet."), 220)
    fig = go.Figure(
        [
            go.Bar(x=frame["day"].to_list(), y=frame["entered"].to_list(), name=_("entered"), marker_color="#2e7d32"),
            go.Bar(x=frame["day"].to_list(), y=(-frame["left"]).to_list(), name=_("left"), marker_color="#c62828"),
        ]
    )
    fig.update_layout(barmode="relative", height=240, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    fig.update_yaxes(title=_("customers"))
    return charts.localise(fig)


def one(
    url: str,
    viewer: Access,
    computed: list[AudienceChoice],
    cfg: delivery.NotifyConfig | None,
    first: AudienceChoice | None = None,
) -> None:
    """One audience up close (``first``: the one shown first, the sidebar's choice)."""
    book = {a.key: a for a in session.guarded(cache.audience_book, url)}
    if not book:
        return
    by_key = {c.key: c for c in computed}
    keys = list(book)
    index = keys.index(first.key) if first is not None and first.key in book else 0
    key = st.selectbox(
        _("Audience"), keys, index=index, format_func=lambda k: book[k].name, key=f"audiences_one_{keys[index]}"
    )
    chosen = book[key]
    state = by_key.get(key)
    with st.expander(_("Its rule")):
        st.code(json.dumps(chosen.rule, indent=2, ensure_ascii=False), language="json")
    if state is None:
        st.info(_("Not computed yet."))
        return
    detail = session.guarded(cache.audience_detail, url, key, viewer.scope, state.computed_at, 1_000)
    st.caption(state.caption())
    st.plotly_chart(daily_chart(detail["daily"]), width="stretch", key="audiences_daily")
    st.markdown("**" + _("Members") + "**")
    members = detail["members"]
    if viewer.scope.segments:
        st.caption(viewer.scope.caption())
    st.caption(
        ngettext(
            "{shown} of {n} member, newest first.", "{shown} of {n} members, newest first.", detail["total"]
        ).format(shown=i18n.number(members.height), n=i18n.number(detail["total"]))
    )
    st.dataframe(tables.arrow(labels.headers(members)), hide_index=True, width="stretch", key="audiences_members")
    downloads.csv_button(
        _("Download the members (CSV)"), members, f"audience_{key}.csv", "audiences_members_csv", f"audience {key}"
    )
    if viewer.may(access.EDIT):
        _destinations(url, viewer, chosen, detail, cfg)
        if st.button(_("Remove this audience"), key="audiences_remove"):
            _write(url, lambda w: _removed(w, key), ("audience", f"remove {key}"))


def _removed(engine: Any, key: str) -> str:
    audiences.remove(engine, key)
    return _("Removed the audience {key}.").format(key=key)


def _destinations(
    url: str, viewer: Access, chosen: Audience, detail: dict[str, Any], cfg: delivery.NotifyConfig | None
) -> None:
    st.markdown("**" + _("Pushed to the CRM") + "**")
    subs = detail["subscriptions"]
    for s in subs:
        left, right = st.columns([4, 1])
        left.markdown(
            _("**{destination}**: from {since}; cooldown {hours} h{backfill}").format(
                destination=s.destination,
                since=i18n.moment(s.since) if s.since else _("the first recompute"),
                hours=i18n.number(s.cooldown.total_seconds() / 3600, 1),
                backfill=", " + _("with the members then") if s.backfill else "",
            )
        )
        if right.button(_("Stop"), key=f"audiences_unsub_{s.destination}"):
            _write(
                url,
                lambda w, d=s.destination: _unsubscribed(w, chosen.key, d),
                ("audience", f"unsubscribe {chosen.key}"),
            )
    hooks = sorted(cfg.webhooks) if cfg else []
    if not hooks:
        st.caption(_("No webhooks configured: add one under `[notify.webhooks.NAME]` in `.streamlit/secrets.toml`."))
    else:
        left, middle, right = st.columns(3)
        destination = left.selectbox(_("Destination"), hooks, key="audiences_destination")
        hours = middle.number_input(_("Cooldown (hours)"), 0, 24 * 30, 24, key="audiences_cooldown")
        backfill = right.checkbox(_("Send the members it has now too"), key="audiences_backfill")
        if st.button(_("Push this audience"), key="audiences_subscribe", type="primary"):
            _write(
                url,
                lambda w: _subscribed(w, cfg, chosen.key, destination, backfill, int(hours), viewer),
                ("audience", f"subscribe {chosen.key}"),
            )
        st.caption(
            _(
                "Each entry and exit is sent once, signed the Standard Webhooks way (or as Segment's track call), "
                "by the next `notify run`."
            )
        )
    pushes = detail["pushes"]
    if pushes.height:
        st.dataframe(tables.arrow(labels.headers(pushes.drop("audience"))), hide_index=True, width="stretch")


def _subscribed(engine: Any, cfg: Any, key: str, destination: str, backfill: bool, hours: int, viewer: Access) -> str:
    push.subscribe(
        engine,
        cfg,
        key,
        destination,
        backfill=backfill,
        cooldown=timedelta(hours=hours),
        segments=viewer.scope.segments,
        by=viewer.email,
    )
    return _("{destination} gets {key} from the next run on.").format(destination=destination, key=key)


def _unsubscribed(engine: Any, key: str, destination: str) -> str:
    push.unsubscribe(engine, key, destination)
    return _("{destination} no longer gets {key}.").format(destination=destination, key=key)


def rule_of(
    segments: list[str],
    risk: int | None,
    tickets: tuple[int, int] | None,
    detractor_days: int | None,
    quiet_days: int | None,
    reached: tuple[str, str] | None,
    join: str,
) -> dict | None:
    """The builder's choices as a rule (None when nothing is chosen)."""
    parts: list[dict] = []
    if segments:
        parts.append({"attr": "segment", "op": "in", "value": segments})
    if risk is not None:
        parts.append({"risk": {"op": "gte", "value": risk}})
    if tickets is not None:
        parts.append({"tickets": {}, "window": {"last_days": tickets[1]}, "count": {"op": "gte", "value": tickets[0]}})
    if detractor_days is not None:
        parts.append(
            {"answers": {"survey": "nps", "score": {"op": "lte", "value": 6}}, "window": {"last_days": detractor_days}}
        )
    if quiet_days is not None:
        parts.append({"last_seen": {"days_ago": {"op": "gte", "value": quiet_days}}})
    if reached is not None:
        parts.append({"events": {"stage": reached[0]}})
        parts.append({"events": {"stage": reached[1]}, "count": {"op": "eq", "value": 0}})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {join: parts}


def builder(url: str, viewer: Access, stages: dict[str, str], segments: list[str]) -> None:
    """The form for a new audience."""
    left, right = st.columns(2)
    name = left.text_input(_("Name"), key="audiences_new_name", placeholder=_("e.g. At risk B2B"))
    key = right.text_input(
        _("Key"), value=alerts.slug(name) if name else "", key=f"audiences_new_key_{alerts.slug(name)}"
    )
    join = st.radio(
        _("Customers who meet"),
        ["all", "any"],
        format_func=lambda j: _("every condition") if j == "all" else _("any condition"),
        horizontal=True,
        key="audiences_new_join",
    )
    chosen_segments = st.multiselect(
        _("Segment"), list(viewer.segments) or segments, key="audiences_new_segments", placeholder=_("All")
    )
    a, b = st.columns(2)
    risk = b_ticket = detractor = quiet = reached = None
    if a.checkbox(_("Churn risk score at least"), key="audiences_new_risk_on"):
        risk = int(b.number_input(_("Score"), 1, 20, 5, key="audiences_new_risk"))
    a, b, c = st.columns(3)
    if a.checkbox(_("Tickets in the last days"), key="audiences_new_tickets_on"):
        b_ticket = (
            int(b.number_input(_("At least (tickets)"), 1, 100, 2, key="audiences_new_tickets")),
            int(c.number_input(_("In the last (days)"), 1, 730, 30, key="audiences_new_tickets_days")),
        )
    a, b = st.columns(2)
    if a.checkbox(_("A detractor answer (NPS 0-6)"), key="audiences_new_detractor_on"):
        detractor = int(b.number_input(_("In the last (days)"), 1, 730, 90, key="audiences_new_detractor_days"))
    a, b = st.columns(2)
    if a.checkbox(_("No activity for"), key="audiences_new_quiet_on"):
        quiet = int(b.number_input(_("Days"), 1, 730, 30, key="audiences_new_quiet_days"))
    a, b, c = st.columns(3)
    if stages and a.checkbox(_("Reached a stage but not another"), key="audiences_new_reached_on"):
        ids = list(stages)
        reached = (
            b.selectbox(_("Reached"), ids, format_func=stages.get, key="audiences_new_reached"),
            c.selectbox(_("But not"), ids, index=min(1, len(ids) - 1), format_func=stages.get, key="audiences_new_not"),
        )
    built = rule_of(chosen_segments, risk, b_ticket, detractor, quiet, reached, join)
    pasted = st.text_area(_("Or the rule as JSON (see the README: Audiences)"), key="audiences_new_json", height=100)
    rule: dict | None = built
    if pasted.strip():
        try:
            rule = json.loads(pasted)
        except json.JSONDecodeError as exc:
            st.error(_("Not JSON: {error}").format(error=exc))
            return
    if rule is None:
        st.caption(_("Choose at least one condition."))
        return
    st.code(json.dumps(rule, ensure_ascii=False), language="json")
    try:
        count = session.guarded(cache.audience_preview, url, json.dumps(rule, sort_keys=True), viewer.scope)
    except RuleError as exc:
        st.error(str(exc))
        return
    st.caption(ngettext("{n} customer meets it now.", "{n} customers meet it now.", count).format(n=i18n.number(count)))
    if st.button(_("Save the audience"), type="primary", key="audiences_save"):
        made = Audience(key.strip(), name.strip(), viewer.email, rule)
        _write(url, lambda w: _saved(w, made), ("audience", f"save {made.key}"))


def _saved(engine: Any, made: Audience) -> str:
    audiences.add(engine, made)
    (change,) = audiences.recompute(engine, _now(), (made.key,))
    return _("Saved {name}: {n} members.").format(name=made.name, n=i18n.number(change.members))


def from_at_risk(
    url: str,
    viewer: Access,
    segments: tuple[str, ...],
    stages: tuple[str | None, ...],
    cfg: delivery.NotifyConfig | None,
) -> None:
    """The Churn early warning's list as a live audience (score at least N, the segments and stages chosen above),
    pushed to a destination: the customers who enter it later are sent as they come, and those who leave it too."""
    with st.expander(_("Push these customers to the CRM"), icon=":material/send:"):
        left, right = st.columns(2)
        score = int(left.number_input(_("Score at least"), 1, 20, 5, key="risk_audience_score"))
        hooks = sorted(cfg.webhooks) if cfg else []
        destination = right.selectbox(
            _("Destination"), ["", *hooks], format_func=lambda h: h or _("(none yet)"), key="risk_audience_hook"
        )
        words = [_("Churn risk {n}+").format(n=score), *segments]
        name = st.text_input(_("Name"), value=" ".join(words), key=f"risk_audience_name_{score}_{'-'.join(segments)}")
        rule: dict = {"risk": {"op": "gte", "value": score}} | ({"stages": list(stages)} if stages else {})
        if segments:
            rule = {"all": [rule, {"attr": "segment", "op": "in", "value": list(segments)}]}
        st.caption(
            _(
                "A live audience: recomputed after each load and by `notify run`, with the default triggers as of now; "
                "each customer who enters or leaves it is sent once."
            )
        )
        if st.button(_("Make the audience"), type="primary", key="risk_audience_make"):
            made = Audience(alerts.slug(name), name.strip(), viewer.email, rule)
            _write(url, lambda w: _pushed_list(w, made, destination, cfg, viewer), ("audience", f"save {made.key}"))
        if st.session_state.get(_DONE):
            done_message()


def _pushed_list(engine: Any, made: Audience, destination: str, cfg: Any, viewer: Access) -> str:
    said = _saved(engine, made)
    if destination:
        push.subscribe(
            engine, cfg, made.key, destination, backfill=True, segments=viewer.scope.segments, by=viewer.email
        )
        said += " " + _("Its members and every later entry and exit go to {destination}.").format(
            destination=destination
        )
    return said
