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

from components import session
from data_access import access, alerts, editing, notify, store
from data_access import streamlit_cache as cache
from data_access.access import Access
from data_access.alerts import AlertError, Finding, Rule
from data_access.config import SETTINGS

_DONE = "alerts_done"
_SLOT = "alerts_message_slot"  # where the last change's message stands, this run
EVERY = "(every stage)"
ALL_SEGMENTS = "(every segment)"


def config() -> notify.NotifyConfig | None:
    """The delivery settings from the secrets, or None with an error shown when they are malformed."""
    try:
        return notify.NotifyConfig.load()
    except (ValueError, TypeError) as exc:
        st.error(f"The [notify] settings in .streamlit/secrets.toml cannot be read: {exc}", icon=":material/error:")
        return None


def _write(url: str, run: Callable[[Any], str]) -> None:
    """A change on a writing engine; a refusal is shown, a success survives the rerun."""
    st.session_state.pop(_DONE, None)
    try:
        done = editing.with_writer(url, run)
    except (AlertError, store.StoreError, notify.NotifyError) as exc:
        slot = st.session_state.get(_SLOT)
        if slot is not None:
            slot.empty()  # the message of the change before no longer stands above this refusal
        st.error(str(exc))
        return
    cache.forget_alerts()
    st.session_state[_DONE] = done
    st.rerun()


def _as_of(url: str) -> datetime:
    newest = session.guarded(cache.freshness, url)
    return alerts.as_of_from(newest, datetime.now(UTC).replace(tzinfo=None))


def state_of(found: Finding) -> str:
    if found.fires:
        return "fires"
    if found.why.startswith("not enough data"):
        return "not enough data"
    return "quiet"


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
            {
                "rule": r.name,
                "fires when": r.condition(),
                "where": r.where(stages),
                "period": found.window.key,
                "figure": found.figure(),
                "state": state_of(found) if r.enabled else "switched off",
                "why": found.why,
                "subscribers": len(channels),
                "you get it": mine in channels,
                "id": r.rule_id,
            }
        )
    columns = ["rule", "fires when", "where", "period", "figure", "state", "why", "subscribers", "you get it", "id"]
    types = dict.fromkeys(columns, pl.String) | {"subscribers": pl.Int64, "you get it": pl.Boolean}
    return pl.DataFrame(rows, schema=types)


def overview(url: str, viewer: Access, stages: dict[str, str]) -> list[Rule]:
    """The table of the rules the viewer may see; returns them."""
    st.session_state[_SLOT] = st.empty()
    if st.session_state.get(_DONE):
        st.session_state[_SLOT].success(st.session_state[_DONE])
    every, subs = session.guarded(cache.alert_rules, url)
    shown = [r for r in every if alerts.may_see(viewer, r)]
    if not shown:
        st.info(
            "No alert rules you can see yet."
            + (" Make one below." if viewer.may(access.EDIT) else " An analyst or admin makes them.")
        )
        return []
    as_of = _as_of(url)
    findings = {r.rule_id: session.guarded(cache.alert_finding, url, r, as_of) for r in shown}
    table = rules_table(shown, subs, findings, stages, viewer.email)
    st.dataframe(table, hide_index=True, width="stretch", key="alerts_rules")
    firing = table.filter(pl.col("state") == "fires").height
    st.caption(
        f"Each rule judged on its last complete week or month before {as_of:%Y-%m-%d} (today, or the day after the "
        f"newest data when it ends earlier): {firing} of {table.height} fire. A rule fires only on at least its "
        "minimum sample, and only when its 95% interval is wholly past the target, or apart from the period "
        "before's. `python -m data_access notify run` (cron) sends what fires, once per period and channel."
    )
    return shown


def one_rule(url: str, viewer: Access, shown: list[Rule], stages: dict[str, str], cfg: notify.NotifyConfig) -> None:
    """One rule up close: its subscriptions and what the viewer may do with it."""
    if not shown:
        return
    names = {r.rule_id: r.name for r in shown}
    picked = st.selectbox("Rule", list(names), format_func=names.get, key="alerts_rule")
    rule = next(r for r in shown if r.rule_id == picked)
    _, subs = session.guarded(cache.alert_rules, url)
    channels = subs.filter(subs["rule_id"] == rule.rule_id)["channel"].to_list()
    st.markdown(
        f"**{rule.name}** · fires when {rule.condition()} · {rule.where(stages)} · each complete {rule.period} · "
        f"at least {rule.min_n:,} answers or tickets · made by {rule.owner}"
        + ("" if rule.enabled else " · **switched off**")
    )
    st.caption("Subscribed: " + (", ".join(channels) if channels else "nobody yet"))
    editor = viewer.may(access.EDIT)
    own = alerts.EMAIL_PREFIX + viewer.email
    me_ok = viewer.email != access.LOCAL_USER
    left, middle, right = st.columns(3)
    if me_ok and own not in channels and left.button("Subscribe me", key="alerts_me_on", icon=":material/add_alert:"):
        _write(url, lambda w: f"You get {rule.name}: " + alerts.subscribe(w, rule.rule_id, viewer.email, viewer, []))
    if me_ok and own in channels and left.button("Unsubscribe me", key="alerts_me_off"):
        _write(url, lambda w: _unsubscribed(w, rule, own, viewer))
    if not editor:
        return
    if middle.button("Send a test", key="alerts_test", icon=":material/send:", disabled=not channels):
        _write(url, lambda w: _tested(w, cfg, rule, viewer))
    switch = "Switch off" if rule.enabled else "Switch on"
    if right.button(switch, key="alerts_switch"):
        _write(url, lambda w: _switched(w, rule, viewer))
    with st.form("alerts_edit"):
        st.markdown("**Change this rule**")
        left, middle, right = st.columns(3)
        name = left.text_input("Name", value=rule.name, key=f"alerts_edit_name_{rule.rule_id}")
        period = middle.selectbox(
            "Judged each complete",
            list(alerts.PERIODS),
            index=alerts.PERIODS.index(rule.period),
            key=f"alerts_edit_period_{rule.rule_id}",
        )
        min_n = right.number_input(
            "Minimum sample", min_value=1, value=rule.min_n, key=f"alerts_edit_min_n_{rule.rule_id}"
        )
        threshold = rule.threshold
        if rule.comparison != "off_target":
            what = f"Drop of at least ({alerts.unit_of(rule.metric)})" if rule.comparison == "drop" else "More than"
            threshold = st.number_input(
                what, min_value=0.0, value=float(rule.threshold or 0), key=f"alerts_edit_x_{rule.rule_id}"
            )
        if st.form_submit_button("Save the changes"):
            changed = replace(rule, name=name, period=period, min_n=int(min_n), threshold=threshold)
            _write(url, lambda w: "Saved: " + alerts.save_rule(w, changed, viewer, new=False).condition() + ".")
    with st.form("alerts_add_channel", clear_on_submit=True):
        hooks = sorted(cfg.webhooks)
        text = st.text_input(
            "Add an e-mail or a webhook",
            placeholder="jane.doe@example.com" + (f" or {hooks[0]}" if hooks else ""),
            help="Webhooks configured in [notify.webhooks.NAME]: " + (", ".join(hooks) or "none"),
        )
        if st.form_submit_button("Add"):
            _write(url, lambda w: "Added " + alerts.subscribe(w, rule.rule_id, text, viewer, hooks))
    if channels:
        with st.form("alerts_remove_channel"):
            gone = st.selectbox("Subscription to remove", channels)
            if st.form_submit_button("Remove"):
                _write(url, lambda w: _unsubscribed(w, rule, gone, viewer))
    with st.popover("Remove this rule", icon=":material/delete:"):
        st.write(f"Remove **{rule.name}** and its {len(channels)} subscription(s)? Its delivery log stays.")
        if st.button("Remove the rule", type="primary", key="alerts_remove"):
            _write(url, lambda w: _removed(w, rule, viewer))


def _unsubscribed(engine: Any, rule: Rule, channel: str, viewer: Access) -> str:
    alerts.unsubscribe(engine, rule.rule_id, channel, viewer)
    return f"{channel} no longer gets {rule.name}."


def _switched(engine: Any, rule: Rule, viewer: Access) -> str:
    done = alerts.save_rule(engine, replace(rule, enabled=not rule.enabled), viewer, new=False)
    return f"{done.name} is switched {'on' if done.enabled else 'off'}."


def _removed(engine: Any, rule: Rule, viewer: Access) -> str:
    alerts.remove_rule(engine, rule.rule_id, viewer)
    st.session_state.pop("alerts_rule", None)
    return f"Removed {rule.name}."


def _tested(engine: Any, cfg: notify.NotifyConfig, rule: Rule, viewer: Access) -> str:
    outcomes = notify.send_test(engine, cfg, rule.rule_id)
    access.record(engine, viewer.email, "alert", f"rule {rule.rule_id}", "test sent")
    failed = [f"{o.channel}: {o.detail}" for o in outcomes if o.status != "sent"]
    if failed:
        raise notify.NotifyError("The test did not reach " + "; ".join(failed))
    return f"Test of {rule.name} sent to " + ", ".join(o.channel for o in outcomes) + "."


def new_rule(url: str, viewer: Access, stages: dict[str, str], cfg: notify.NotifyConfig) -> None:
    """The form for a new rule (analysts and admins)."""
    segments = session.guarded(cache.dimension_values, url, viewer.scope).get("segment", [])
    left, middle, right = st.columns(3)
    metric = left.selectbox(
        "Metric", list(alerts.METRIC_CHOICES), format_func=alerts.metric_label, key="alerts_new_metric"
    )
    kinds = ["above"] if metric == alerts.CHURN_RISK else ["off_target", "drop"]
    comparison = middle.selectbox(
        "Fires when", kinds, format_func=alerts.COMPARISON_WORDS.get, key=f"alerts_new_comparison_{metric}"
    )
    period = right.selectbox("Judged each complete", list(alerts.PERIODS), index=1, key="alerts_new_period")
    left, middle, right = st.columns(3)
    stage = left.selectbox("Stage", [EVERY, *stages], format_func=lambda s: stages.get(s, s), key="alerts_new_stage")
    segment_choices = list(viewer.segments) if viewer.segments else [ALL_SEGMENTS, *segments]
    segment = middle.selectbox("Segment", segment_choices, key="alerts_new_segment")
    threshold = None
    if comparison == "drop":
        unit = alerts.unit_of(metric)
        threshold = right.number_input(f"Drop of at least ({unit})", min_value=0.0, value=5.0, key="alerts_new_x")
    elif comparison == "above":
        threshold = right.number_input("More than (customers)", min_value=0, value=100, key="alerts_new_n")
    else:
        right.caption("Compared with the stage's target on the Maps and targets page.")
    left, right = st.columns([2, 1])
    words = {"off_target": "off target", "drop": "drop", "above": "above"}[comparison]
    default_name = " ".join(
        [
            alerts.metric_label(metric),
            words,
            stages.get(stage, "all stages"),
            "" if segment == ALL_SEGMENTS else segment,
        ]
    ).strip()
    name = left.text_input("Name", value=default_name, key=f"alerts_new_name_{metric}_{comparison}_{stage}_{segment}")
    min_n = right.number_input("Minimum sample", min_value=1, value=SETTINGS.min_n, key="alerts_new_min_n")
    channels = st.text_input(
        "Send to (e-mails or webhook names, separated by commas)",
        value="" if viewer.email == access.LOCAL_USER else viewer.email,
        key="alerts_new_channels",
    )
    if st.button("Create the rule", type="primary", key="alerts_create"):
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
        )
        wanted = [c.strip() for c in channels.split(",") if c.strip()]
        _write(
            url,
            lambda w: (
                "Made the rule "
                + alerts.save_rule(w, candidate, viewer, channels=wanted, webhooks=cfg.webhooks).condition()
                + "."
            ),
        )


def delivery_log(url: str) -> None:
    entries = session.guarded(cache.alert_log, url)
    if entries.height == 0:
        st.caption("Nothing delivered yet.")
        return
    st.dataframe(entries, hide_index=True, width="stretch", key="alerts_log")
    st.caption(
        "Each rule's message is sent once per period and channel; a failed or refused delivery is tried again by the "
        "next run. All of it: `python -m data_access alerts log`."
    )


def channels_caption(cfg: notify.NotifyConfig) -> str:
    mail = f"e-mail through {cfg.smtp.host}:{cfg.smtp.port}" if cfg.smtp else "e-mail not configured"
    hooks = ", ".join(sorted(cfg.webhooks)) or "none"
    return f"Delivery: {mail} ([notify.smtp]); webhooks: {hooks} ([notify.webhooks.NAME]); links to {cfg.base_url}."
