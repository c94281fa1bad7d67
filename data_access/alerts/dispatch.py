"""``notify run`` and ``notify schedule``: every enabled rule evaluated once, each firing rule sent once per
period and channel through :mod:`data_access.delivery` (whose log makes it so, also when two runs race), a failed
delivery recorded and tried again by the next run; and a rule's test message."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import access, audiences, digest, schema, store
from data_access.alerts import evaluation, messages, rulebook
from data_access.alerts.evaluation import Finding
from data_access.alerts.messages import email_bodies, payload, subject
from data_access.alerts.rulebook import EMAIL_PREFIX, WEBHOOK_PREFIX
from data_access.audiences import push
from data_access.config import run_every
from data_access.delivery import NotifyConfig, NotifyError, claim, mark, send_email, send_webhook
from data_access.i18n import _
from data_access.queries import kpis


@dataclass(frozen=True)
class Outcome:
    rule_id: str
    period: str
    channel: str  # "" for a rule that did not fire
    status: str  # sent, failed, refused, already sent, not firing, error
    detail: str = ""


def deliver(
    engine: Engine,
    config: NotifyConfig,
    finding: Finding,
    channel: str,
    stages: Mapping[str, str],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str, str]:
    """Sends one finding on one channel: (status, detail). Never raises for a delivery that fails."""
    rule = finding.rule
    recipient: access.Access | None = None
    if channel.startswith(EMAIL_PREFIX):
        with store.connect(engine) as conn:
            recipient = rulebook.recipient_of(conn, channel.removeprefix(EMAIL_PREFIX))
        problem = rulebook.refusal(recipient, rule)
        if problem:
            return "refused", problem
    page = messages.page_for(recipient, rule)
    link = messages.link(config.base_url, rule, finding.window, page)
    try:
        if channel.startswith(EMAIL_PREFIX):
            text, markup = email_bodies(finding, link, stages)
            send_email(config, channel.removeprefix(EMAIL_PREFIX), subject(finding), text, markup, sleep)
        elif channel.startswith(WEBHOOK_PREFIX):
            send_webhook(config, channel.removeprefix(WEBHOOK_PREFIX), payload(finding, link, stages), sleep)
        else:
            return "failed", f"unknown channel {channel!r}"
    except NotifyError as exc:
        return "failed", str(exc)
    return "sent", link


def _stages(engine: Engine) -> dict[str, str]:
    with store.connect(engine) as conn:
        frame = kpis.stages_on(conn) if store.has_table(conn, schema.stages) else None
    return dict(zip(frame["stage_id"], frame["name"], strict=True)) if frame is not None else {}


def run(
    engine: Engine,
    config: NotifyConfig,
    as_of: datetime | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    """Evaluates every enabled rule once and delivers what fires, each (rule, period, channel) once.
    ``engine`` must be able to write (the log). A rule that cannot be evaluated is reported, not raised."""
    out = _audiences(engine, as_of or store.utc_now())
    as_of = as_of or evaluation.default_as_of(engine)
    with store.connect(engine) as conn:
        chosen = rulebook.rules(conn, enabled_only=True)
        subs = rulebook.subscriptions(conn)
    stages = _stages(engine)
    for rule in chosen:
        try:
            with store.connect(engine) as conn:
                finding = evaluation.evaluate(conn, rule, as_of)
        except (sa.exc.SQLAlchemyError, store.StoreError, ValueError) as exc:
            out.append(Outcome(rule.rule_id, "", "", "error", str(exc).splitlines()[0]))
            continue
        if not finding.fires:
            out.append(
                Outcome(rule.rule_id, finding.window.key, "", "not firing", f"{finding.figure()}: {finding.why}")
            )
            continue
        channels = subs.filter(subs["rule_id"] == rule.rule_id)["channel"].to_list()
        if not channels:
            out.append(Outcome(rule.rule_id, finding.window.key, "", "no subscribers", finding.why))
        for channel in channels:
            if not claim(engine, rule.rule_id, finding.window.key, channel, store.utc_now()):
                out.append(Outcome(rule.rule_id, finding.window.key, channel, "already sent"))
                continue
            out.append(_deliver_logged(engine, config, finding, finding.window.key, channel, stages, sleep))
    return out + _pushes(engine, config, sleep) + _digests(engine, config, sleep)


def _audiences(engine: Engine, as_of: datetime) -> list[Outcome]:
    """Every audience recomputed as of ``as_of`` (time passing alone moves people out of "the last 30 days")."""
    try:
        changes = audiences.recompute(engine, as_of) if audiences.listed(engine) else []
    except (sa.exc.SQLAlchemyError, store.StoreError, ValueError) as exc:
        return [Outcome("audiences", "", "", "error", str(exc).splitlines()[0])]
    return [
        Outcome(
            f"audience:{c.audience}",
            f"{as_of:%Y-%m-%d %H:%M}",
            "",
            "recomputed",
            f"{c.members:,} members ({c.entered:,} entered, {c.left:,} left)",
        )
        for c in changes
    ]


def _pushes(engine: Engine, config: NotifyConfig, sleep: Callable[[float], None]) -> list[Outcome]:
    """The audiences' entries and exits made and sent to their destinations."""
    try:
        done = push.push(engine, config, sleep)
    except (sa.exc.SQLAlchemyError, store.StoreError, ValueError) as exc:
        return [Outcome("audiences", "", "", "error", str(exc).splitlines()[0])]
    if not (done.made or done.sent or done.failed or done.refused):
        return []
    status = "failed" if done.failed or done.refused else "sent"
    detail = f"{done.made:,} made, {done.sent:,} sent, {done.failed:,} failed, {done.refused:,} refused"
    return [Outcome("audiences", "", "webhooks", status, detail)]


def _digests(engine: Engine, config: NotifyConfig, sleep: Callable[[float], None]) -> list[Outcome]:
    """The Overview's digest, to each subscriber once per week or month (:mod:`data_access.digest`)."""
    try:
        done = digest.run(engine, config, sleep=sleep)
    except (sa.exc.SQLAlchemyError, store.StoreError, ValueError) as exc:
        return [Outcome("digest", "", "", "error", str(exc).splitlines()[0])]
    return [Outcome(d.key, d.period, d.channel, d.status, d.detail) for d in done]


def _deliver_logged(
    engine: Engine,
    config: NotifyConfig,
    finding: Finding,
    period: str,
    channel: str,
    stages: Mapping[str, str],
    sleep: Callable[[float], None],
) -> Outcome:
    """:func:`deliver` a claimed (rule, period, channel), and log how it went."""
    status, detail = deliver(engine, config, finding, channel, stages, sleep=sleep)
    error = None if status == "sent" else detail
    mark(engine, finding.rule.rule_id, period, channel, status, error, store.utc_now())
    return Outcome(finding.rule.rule_id, period, channel, status, detail)


def send_test(
    engine: Engine,
    config: NotifyConfig,
    rule_id: str,
    as_of: datetime | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    """Sends one test message of a rule to every channel subscribed to it, whether it fires or not; logged under
    the period ``test-<time>``, so it never stands in for the real one."""
    as_of = as_of or evaluation.default_as_of(engine)
    with store.connect(engine) as conn:
        rule = rulebook.rule(conn, rule_id)
        finding = evaluation.evaluate(conn, rule, as_of)
        channels = rulebook.subscriptions(conn, rule_id)["channel"].to_list()
    if not channels:
        raise rulebook.AlertError(
            _("Nobody is subscribed to {rule}: subscribe an e-mail or a webhook first").format(rule=rule_id)
        )
    finding = replace(finding, test=True)
    stages = _stages(engine)
    now = store.utc_now()
    period = f"test-{now:%Y%m%dT%H%M%S}"
    out = []
    for channel in channels:
        claim(engine, rule.rule_id, period, channel, now)
        out.append(_deliver_logged(engine, config, finding, period, channel, stages, sleep))
    return out


def schedule(engine: Engine, config: NotifyConfig, every: timedelta, report: Callable[[list[Outcome]], None]) -> None:
    """Runs :func:`run` now and then every ``every``, in this process, until interrupted (APScheduler)."""

    def job() -> None:
        try:
            report(run(engine, config))
        except (store.StoreError, sa.exc.SQLAlchemyError) as exc:  # the store is down: try again next time
            report([Outcome("", "", "", "error", str(exc).splitlines()[0])])

    run_every(job, every)
