"""The Alerts page's panels: the rules the viewer may see with how each stands on its last complete period, one
rule up close (subscribe, unsubscribe, and for editors its channels, a test message, switch off, remove), a form for
a new rule (analysts and admins), and the delivery log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import polars as pl
import streamlit as st

from components import session, writes
from components.builders import labels, tables
from data_access import access, alerts, delivery, i18n, metrics
from data_access import streamlit_cache as cache
from data_access.access import Access
from data_access.alerts import Finding, Rule
from data_access.config import SETTINGS
from data_access.i18n import N_, _, ngettext

_DONE = "alerts_done"
_SLOT = "alerts_message_slot"  # where the last change's message stands, this run
EVERY = ""  # the choice of every stage (a stage id is never empty)
ALL_SEGMENTS = ""  # the choice of every segment


def config() -> delivery.NotifyConfig | None:
    """The delivery settings from the secrets, or None with an error shown when they are malformed."""
    try:
        return delivery.NotifyConfig.load()
    except (ValueError, TypeError) as exc:
        st.error(
            _("The [notify] settings in .streamlit/secrets.toml cannot be read: {error}").format(error=exc),
            icon=":material/error:",
        )
        return None


def _write(url: str, run: Callable[[Any], str]) -> None:
    """A change of a rule or a subscription (the data layer checks who may, and records the audit entry); the
    message of the change before no longer stands above a refusal."""
    writes.write(url, run, done_key=_DONE, forget=cache.forget_alerts, on_refusal=_clear_message)


def _clear_message() -> None:
    slot = st.session_state.get(_SLOT)
    if slot is not None:
        slot.empty()


def _as_of(url: str) -> datetime:
    newest = session.guarded(cache.freshness, url)
    return alerts.as_of_from(newest, datetime.now(UTC).replace(tzinfo=None))


STATES = {"fires": N_("fires"), "quiet": N_("quiet"), "off": N_("switched off")}


def state_of(found: Finding) -> str:
    if found.fires:
        return _(STATES["fires"])
    if not found.enough:
        return _(metrics.STATUS_NO_DATA)
    return _(STATES["quiet"])


def rules_table(
    shown: list[Rule], subs: pl.DataFrame, findings: dict[str, Finding], stages: dict[str, str], me: str
) -> pl.DataFrame:
    """One row per rule: what it watches and how it stands on its last complete period."""
    mine = alerts.EMAIL_PREFIX + me
    rows = []
    for r in shown:
        channels = subs.filter(subs["rule_id"] == r.rule_id)["channel"].to_list()
        found = findings[r.rule_id]
        rows.append(
            (
                r.name,
                r.condition(),
                r.where(stages),
                found.window.key,
                found.figure(),
                state_of(found) if r.enabled else _(STATES["off"]),
                found.why,
                len(channels),
                mine in channels,
                r.rule_id,
            )
        )
    columns = [
        _("rule"),
        _("fires when"),
        _("where"),
        _("period"),
        _("figure"),
        _("state"),
        _("why"),
        _("subscribers"),
        _("you get it"),
        "id",
    ]
    types = dict.fromkeys(columns, pl.String) | {columns[7]: pl.Int64, columns[8]: pl.Boolean}
    return pl.DataFrame(rows, schema=types, orient="row")


def overview(url: str, viewer: Access, stages: dict[str, str]) -> list[Rule]:
    """The table of the rules the viewer may see; returns them."""
    st.session_state[_SLOT] = st.empty()
    if st.session_state.get(_DONE):
        st.session_state[_SLOT].success(st.session_state[_DONE])
    every, subs = session.guarded(cache.alert_rules, url)
    shown = [r for r in every if alerts.may_see(viewer, r)]
    if not shown:
        st.info(
            _("No alert rules you can see yet.")
            + " "
            + (_("Make one below.") if viewer.may(access.EDIT) else _("An analyst or admin makes them."))
        )
        return []
    as_of = _as_of(url)
    findings = {r.rule_id: session.guarded(cache.alert_finding, url, r, as_of) for r in shown}
    table = rules_table(shown, subs, findings, stages, viewer.email)
    st.dataframe(tables.arrow(table), hide_index=True, width="stretch", key="alerts_rules")
    firing = sum(1 for r in shown if r.enabled and findings[r.rule_id].fires)
    st.caption(
        _(
            "Each rule judged on its last complete week or month before {day} (today, or the day after the newest "
            "data when it ends earlier): {firing} of {n} fire. A rule fires only on at least its minimum sample, and "
            "only when its 95%\u00a0interval is wholly past the target, or apart from the period before's. `python -m "
            "data_access notify run` (cron) sends what fires, once per period and channel."
        ).format(day=i18n.day(as_of), firing=firing, n=table.height)
    )
    return shown


def one_rule(url: str, viewer: Access, shown: list[Rule], stages: dict[str, str], cfg: delivery.NotifyConfig) -> None:
    """One rule up close: its subscriptions and what the viewer may do with it."""
    if not shown:
        return
    names = {r.rule_id: r.name for r in shown}
    picked = st.selectbox(_("Rule"), list(names), format_func=names.get, key="alerts_rule")
    rule = next(r for r in shown if r.rule_id == picked)
    _rules, subs = session.guarded(cache.alert_rules, url)
    channels = subs.filter(subs["rule_id"] == rule.rule_id)["channel"].to_list()
    st.markdown(
        f"**{rule.name}** · "
        + _(
            "fires when {condition} · {where} · each complete {period} · at least {n} answers or tickets · made by "
            "{owner}"
        ).format(
            condition=rule.condition(),
            where=rule.where(stages),
            period=_(alerts.PERIOD_WORDS.get(rule.period, rule.period)),
            n=i18n.number(rule.min_n),
            owner=rule.owner,
        )
        + ("" if rule.enabled else " · **" + _(STATES["off"]) + "**")
    )
    st.caption(_("Subscribed: {channels}").format(channels=", ".join(channels) if channels else _("nobody yet")))
    editor = viewer.may(access.EDIT)
    own = alerts.EMAIL_PREFIX + viewer.email
    me_ok = viewer.email != access.LOCAL_USER
    left, middle, right = st.columns(3)
    if (
        me_ok
        and own not in channels
        and left.button(_("Subscribe me"), key="alerts_me_on", icon=":material/add_alert:")
    ):
        _write(
            url,
            lambda w: _("You get {rule}: {channel}").format(
                rule=rule.name, channel=alerts.subscribe(w, rule.rule_id, viewer.email, viewer, [])
            ),
        )
    if me_ok and own in channels and left.button(_("Unsubscribe me"), key="alerts_me_off"):
        _write(url, lambda w: _unsubscribed(w, rule, own, viewer))
    if not editor:
        return
    if middle.button(_("Send a test"), key="alerts_test", icon=":material/send:", disabled=not channels):
        _write(url, lambda w: _tested(w, cfg, rule, viewer))
    switch = _("Switch off") if rule.enabled else _("Switch on")
    if right.button(switch, key="alerts_switch"):
        _write(url, lambda w: _switched(w, rule, viewer))
    with st.form("alerts_edit"):
        st.markdown("**" + _("Change this rule") + "**")
        left, middle, right = st.columns(3)
        name = left.text_input(_("Name"), value=rule.name, key=f"alerts_edit_name_{rule.rule_id}")
        period = middle.selectbox(
            _("Judged each complete"),
            list(alerts.PERIODS),
            index=alerts.PERIODS.index(rule.period),
            format_func=lambda p: _(alerts.PERIOD_WORDS.get(p, p)),
            key=f"alerts_edit_period_{rule.rule_id}",
        )
        min_n = right.number_input(
            _("Minimum sample"), min_value=1, value=rule.min_n, key=f"alerts_edit_min_n_{rule.rule_id}"
        )
        threshold = rule.threshold
        if rule.comparison != "off_target":
            what = (
                _("Drop of at least ({unit})").format(unit=alerts.unit_of(rule.metric))
                if rule.comparison == "drop"
                else _("More than")
            )
            threshold = st.number_input(
                what, min_value=0.0, value=float(rule.threshold or 0), key=f"alerts_edit_x_{rule.rule_id}"
            )
        if st.form_submit_button(_("Save the changes")):
            changed = replace(rule, name=name, period=period, min_n=int(min_n), threshold=threshold)
            _write(
                url,
                lambda w: _("Saved: {condition}.").format(
                    condition=alerts.save_rule(w, changed, viewer, new=False).condition()
                ),
            )
    with st.form("alerts_add_channel", clear_on_submit=True):
        hooks = sorted(cfg.webhooks)
        text = st.text_input(
            _("Add an e-mail or a webhook"),
            placeholder=i18n.either(["jane.doe@example.com", hooks[0]]) if hooks else "jane.doe@example.com",
            help=_("Webhooks configured in [notify.webhooks.NAME]: {hooks}").format(
                hooks=", ".join(hooks) or _("none")
            ),
        )
        if st.form_submit_button(_("Add")):
            _write(
                url,
                lambda w: _("Added {channel}").format(channel=alerts.subscribe(w, rule.rule_id, text, viewer, hooks)),
            )
    if channels:
        with st.form("alerts_remove_channel"):
            gone = st.selectbox(_("Subscription to remove"), channels)
            if st.form_submit_button(_("Remove")):
                _write(url, lambda w: _unsubscribed(w, rule, gone, viewer))
    with st.popover(_("Remove this rule"), icon=":material/delete:"):
        st.write(
            ngettext(
                "Remove **{rule}** and its {n} subscription? Its delivery log stays.",
                "Remove **{rule}** and its {n} subscriptions? Its delivery log stays.",
                len(channels),
            ).format(rule=rule.name, n=len(channels))
        )
        if st.button(_("Remove the rule"), type="primary", key="alerts_remove"):
            _write(url, lambda w: _removed(w, rule, viewer))


def _unsubscribed(engine: Any, rule: Rule, channel: str, viewer: Access) -> str:
    alerts.unsubscribe(engine, rule.rule_id, channel, viewer)
    return _("{channel} no longer gets {rule}.").format(channel=channel, rule=rule.name)


def _switched(engine: Any, rule: Rule, viewer: Access) -> str:
    done = alerts.save_rule(engine, replace(rule, enabled=not rule.enabled), viewer, new=False)
    words = _("{rule} is switched on.") if done.enabled else _("{rule} is switched off.")
    return words.format(rule=done.name)


def _removed(engine: Any, rule: Rule, viewer: Access) -> str:
    alerts.remove_rule(engine, rule.rule_id, viewer)
    st.session_state.pop("alerts_rule", None)
    return _("Removed {rule}.").format(rule=rule.name)


def _tested(engine: Any, cfg: delivery.NotifyConfig, rule: Rule, viewer: Access) -> str:
    outcomes = alerts.send_test(engine, cfg, rule.rule_id)
    access.record(engine, viewer.email, "alert", f"rule {rule.rule_id}", "test sent")
    failed = [f"{o.channel}: {o.detail}" for o in outcomes if o.status != "sent"]
    if failed:
        raise delivery.NotifyError(_("The test did not reach {channels}").format(channels="; ".join(failed)))
    return _("Test of {rule} sent to {channels}.").format(
        rule=rule.name, channels=", ".join(o.channel for o in outcomes)
    )


def new_rule(url: str, viewer: Access, stages: dict[str, str], cfg: delivery.NotifyConfig) -> None:
    """The form for a new rule (analysts and admins)."""
    segments = session.guarded(cache.dimension_values, url, viewer.scope).get("segment", [])
    left, middle, right = st.columns(3)
    metric = left.selectbox(
        _("Metric"), list(alerts.METRIC_CHOICES), format_func=alerts.metric_label, key="alerts_new_metric"
    )
    kinds = ["above"] if metric == alerts.CHURN_RISK else ["off_target", "drop"]
    comparison = middle.selectbox(
        _("Fires when"),
        kinds,
        format_func=lambda k: _(alerts.COMPARISON_WORDS[k]),
        key=f"alerts_new_comparison_{metric}",
    )
    period = right.selectbox(
        _("Judged each complete"),
        list(alerts.PERIODS),
        index=1,
        format_func=lambda p: _(alerts.PERIOD_WORDS.get(p, p)),
        key="alerts_new_period",
    )
    left, middle, right = st.columns(3)
    stage = left.selectbox(
        _("Stage"),
        [EVERY, *stages],
        format_func=lambda s: stages.get(s, s) or _("(every stage)"),
        key="alerts_new_stage",
    )
    segment_choices = list(viewer.segments) if viewer.segments else [ALL_SEGMENTS, *segments]
    segment = middle.selectbox(
        _("Segment"), segment_choices, format_func=lambda s: s or _("(every segment)"), key="alerts_new_segment"
    )
    known = {a.key: a.name for a in session.guarded(cache.audience_choices, url, viewer.scope)}
    audience = ""
    if known:
        audience = left.selectbox(
            _("Audience"),
            ["", *known],
            format_func=lambda k: known.get(k) or _("(every customer)"),
            key="alerts_new_audience",
            help=_("Only the members of an audience, as of its last recompute."),
        )
    threshold = None
    if comparison == "drop":
        unit = alerts.unit_of(metric)
        threshold = right.number_input(
            _("Drop of at least ({unit})").format(unit=unit), min_value=0.0, value=5.0, key="alerts_new_x"
        )
    elif comparison == "above":
        threshold = right.number_input(_("More than (customers)"), min_value=0, value=100, key="alerts_new_n")
    else:
        right.caption(_("Compared with the stage's target on the Maps and targets page."))
    left, right = st.columns([2, 1])
    words = {"off_target": _("off target"), "drop": _("drop"), "above": _("above")}[comparison]
    default_name = " ".join(
        [
            alerts.metric_label(metric),
            words,
            stages.get(stage, _("all stages")),
            "" if segment == ALL_SEGMENTS else segment,
        ]
    ).strip()
    name = left.text_input(
        _("Name"), value=default_name, key=f"alerts_new_name_{metric}_{comparison}_{stage}_{segment}"
    )
    min_n = right.number_input(_("Minimum sample"), min_value=1, value=SETTINGS.min_n, key="alerts_new_min_n")
    channels = st.text_input(
        _("Send to (e-mails or webhook names, separated by commas)"),
        value="" if viewer.email == access.LOCAL_USER else viewer.email,
        key="alerts_new_channels",
    )
    if st.button(_("Create the rule"), type="primary", key="alerts_create"):
        candidate = Rule(
            rule_id="",
            name=name,
            metric=metric,
            comparison=comparison,
            period=period,
            stage_id=None if stage == EVERY else stage,
            segment=None if segment == ALL_SEGMENTS else segment,
            threshold=None if threshold is None else float(threshold),
            min_n=int(min_n),
            audience=audience or None,
        )
        wanted = [c.strip() for c in channels.split(",") if c.strip()]
        _write(
            url,
            lambda w: _("Made the rule {condition}.").format(
                condition=alerts.save_rule(w, candidate, viewer, channels=wanted, webhooks=cfg.webhooks).condition()
            ),
        )


def delivery_log(url: str) -> None:
    entries = session.guarded(cache.alert_log, url)
    if entries.height == 0:
        st.caption(_("Nothing delivered yet."))
        return
    st.dataframe(tables.arrow(labels.headers(entries)), hide_index=True, width="stretch", key="alerts_log")
    st.caption(
        _(
            "Each rule's message is sent once per period and channel; a failed or refused delivery is tried again by "
            "the next run. All of it: `python -m data_access alerts log`."
        )
    )


def channels_caption(cfg: delivery.NotifyConfig) -> str:
    mail = (
        _("e-mail through {server}").format(server=f"{cfg.smtp.host}:{cfg.smtp.port}")
        if cfg.smtp
        else _("e-mail not configured")
    )
    hooks = ", ".join(sorted(cfg.webhooks)) or _("none")
    return _("Delivery: {mail} ([notify.smtp]); webhooks: {hooks} ([notify.webhooks.NAME]); links to {url}.").format(
        mail=mail, hooks=hooks, url=cfg.base_url
    )
