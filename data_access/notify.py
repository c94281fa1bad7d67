"""Delivery of alerts: e-mail through SMTP (a plain-text and an HTML part) and webhooks (a JSON body signed with
HMAC-SHA256 in ``X-CJM-Signature``), each with a timeout and retries with backoff, and ``notify run``: every
enabled rule evaluated once, each firing rule sent once per period and channel (``notifications`` is the log that
makes it so, also when two runs race), a failed delivery recorded and tried again by the next run.

Configured in ``.streamlit/secrets.toml`` (``[notify]``, ``[notify.smtp]``, ``[notify.webhooks.NAME]``); see the
README's *Alerts* section.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import html
import json
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import access, alerts, i18n, schema, store
from data_access.alerts import EMAIL_PREFIX, WEBHOOK_PREFIX, Finding
from data_access.config import read_secrets
from data_access.i18n import _
from data_access.queries import kpis

nt = schema.notifications
SIGNATURE_HEADER = "X-CJM-Signature"
DELIVERY_HEADER = "X-CJM-Delivery"
DEFAULT_BASE_URL = "http://localhost:8501"


class NotifyError(Exception):
    """A delivery that did not go through (after its retries), in one line."""


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 25
    starttls: bool = False
    user: str | None = None
    password: str | None = None
    sender: str = "CJM alerts <cjm-alerts@localhost>"
    cafile: str | None = None  # a CA bundle to trust for STARTTLS (an internal CA), else the system's


@dataclass(frozen=True)
class Webhook:
    name: str
    url: str
    secret: str


@dataclass(frozen=True)
class NotifyConfig:
    smtp: Smtp | None = None
    webhooks: Mapping[str, Webhook] = field(default_factory=dict)
    base_url: str = DEFAULT_BASE_URL
    retries: int = 3  # after the first attempt
    backoff_seconds: float = 2.0  # waits 1x, 2x, 4x this between attempts
    timeout_seconds: float = 10.0

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, Any]) -> NotifyConfig:
        """From the ``[notify]`` table of the secrets; a malformed entry is a :class:`ValueError` naming it."""
        raw = dict(secrets.get("notify", {}) or {})
        smtp = None
        if raw.get("smtp"):
            s = dict(raw["smtp"])
            if not s.get("host"):
                raise ValueError("[notify.smtp] needs a host")
            smtp = Smtp(
                host=str(s["host"]),
                port=int(s.get("port", 25)),
                starttls=bool(s.get("starttls", False)),
                user=s.get("user") or None,
                password=s.get("password") or None,
                sender=str(s.get("sender") or Smtp.sender),
                cafile=s.get("cafile") or None,
            )
        hooks = {}
        for name, spec in dict(raw.get("webhooks", {}) or {}).items():
            url, secret = str(spec.get("url", "")), str(spec.get("secret", ""))
            if not url.startswith(("http://", "https://")) or not httpx.URL(url).host:
                raise ValueError(f"[notify.webhooks.{name}] url must be an http(s) address, not {url!r}")
            if len(secret) < 16:
                raise ValueError(f"[notify.webhooks.{name}] needs a secret of at least 16 characters")
            hooks[str(name)] = Webhook(str(name), url, secret)
        return cls(
            smtp=smtp,
            webhooks=hooks,
            base_url=str(raw.get("base_url") or DEFAULT_BASE_URL),
            retries=int(raw.get("retries", 3)),
            backoff_seconds=float(raw.get("backoff_seconds", 2.0)),
            timeout_seconds=float(raw.get("timeout_seconds", 10.0)),
        )

    @classmethod
    def load(cls) -> NotifyConfig:
        return cls.from_secrets(read_secrets())


# --- the message ---------------------------------------------------------------------------------------------------


def payload(finding: Finding, link: str, stages: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The webhook's JSON body (and what the e-mail says)."""
    rule = finding.rule
    return {
        "rule": {
            "id": rule.rule_id,
            "name": rule.name,
            "metric": rule.metric,
            "stage": rule.stage_id,
            "stage_name": (stages or {}).get(rule.stage_id or "") or None,
            "segment": rule.segment,
            "comparison": rule.comparison,
            "threshold": rule.threshold,
            "condition": rule.condition(),
        },
        "period": finding.window.key,
        "from": finding.window.start.isoformat(),
        "to": finding.window.end.isoformat(),
        "value": finding.value,
        "n": finding.n,
        "interval": [finding.lo, finding.hi] if finding.lo is not None else None,
        "target": finding.target,
        "previous": finding.previous,
        "previous_period": finding.previous_window.key if finding.previous_window else None,
        "fires": finding.fires,
        "why": finding.why,
        "link": link,
        "test": finding.test,
    }


def subject(finding: Finding) -> str:
    test = _("[test]") + " " if finding.test else ""
    return test + _("CJM alert: {rule} ({period}): {figure}").format(
        rule=finding.rule.name, period=finding.window.key, figure=finding.figure().split(" (")[0]
    )


def email_bodies(finding: Finding, link: str, stages: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(plain text, HTML) of the e-mail. Every value in the HTML is escaped."""
    rule = finding.rule
    rows = [
        (_("Rule"), rule.name),
        (_("Fires when"), rule.condition()),
        (_("Where"), rule.where(dict(stages or {}))),
        (_("Period"), f"{finding.window.key} ({finding.window.caption()})"),
        (_("Figure"), finding.figure()),
    ]
    if finding.target is not None and rule.comparison == "off_target":
        rows.append((_("Target"), f"{finding.target:g}"))
    if finding.previous is not None and rule.comparison == "drop":
        before = f"{i18n.number(finding.previous, 1)} ({finding.previous_window.key}, n = {finding.previous_n:,})"
        rows.append((_("The period before"), before))
    rows.append((_("Why"), finding.why))
    intro = _("This is a test of the alert rule below.") if finding.test else _("An alert rule fired.")
    see = _("See the evidence: {link}").format(link=link)
    text = "\n".join([intro, "", *(f"{k}: {v}" for k, v in rows), "", see, ""])
    cells = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    evidence = html.escape(_("See the evidence on the dashboard"))
    markup = (
        f"<html><body><p>{html.escape(intro)}</p><table>{cells}</table>"
        f'<p><a href="{html.escape(link, quote=True)}">{evidence}</a></p></body></html>'
    )
    return text, markup


def signature(secret: str, body: bytes) -> str:
    """The value of ``X-CJM-Signature``: ``sha256=`` and the hex HMAC-SHA256 of the body with the webhook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    return header is not None and hmac.compare_digest(signature(secret, body), header)


# --- sending, with retries -----------------------------------------------------------------------------------------


def _with_retries(config: NotifyConfig, attempt: Callable[[], None], sleep: Callable[[float], None]) -> None:
    """``attempt`` until it goes through, at most 1 + ``retries`` times, waiting 1, 2, 4... x the backoff."""
    for i in range(config.retries + 1):
        try:
            attempt()
            return
        except _Permanent as exc:
            raise NotifyError(str(exc)) from exc
        except (OSError, smtplib.SMTPException, httpx.HTTPError, _Transient) as exc:
            if i == config.retries:
                what = str(exc) if isinstance(exc, _Transient) else f"{type(exc).__name__}: {exc}"
                raise NotifyError(f"{what} (after {config.retries + 1} attempts)") from exc
            sleep(config.backoff_seconds * 2**i)


class _Transient(Exception):
    """A reply worth retrying (5xx, 429)."""


class _Permanent(Exception):
    """A reply not worth retrying (4xx other than 429)."""


def send_email(
    config: NotifyConfig,
    to: str,
    subject_line: str,
    text: str,
    markup: str,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    smtp = config.smtp
    if smtp is None:
        raise NotifyError("no [notify.smtp] in .streamlit/secrets.toml: e-mail is not configured")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = smtp.sender, to, subject_line
    message["Message-ID"] = f"<{uuid.uuid4().hex}@cjm>"
    message.set_content(text)
    message.add_alternative(markup, subtype="html")

    def attempt() -> None:
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=config.timeout_seconds) as server:
                if smtp.starttls:
                    server.starttls(context=ssl.create_default_context(cafile=smtp.cafile))
                if smtp.user:
                    server.login(smtp.user, smtp.password or "")
                server.send_message(message)
        except (
            smtplib.SMTPAuthenticationError,
            smtplib.SMTPNotSupportedError,
            smtplib.SMTPRecipientsRefused,
            smtplib.SMTPSenderRefused,
        ) as exc:
            raise _Permanent(f"{type(exc).__name__}: {exc}") from exc  # trying again would not change the answer

    _with_retries(config, attempt, sleep)


def send_webhook(
    config: NotifyConfig, name: str, body: dict[str, Any], sleep: Callable[[float], None] = time.sleep
) -> None:
    hook = config.webhooks.get(name)
    if hook is None:
        raise NotifyError(f"no webhook {name!r} in [notify.webhooks] of .streamlit/secrets.toml")
    data = json.dumps(body, default=str, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: signature(hook.secret, data),
        DELIVERY_HEADER: uuid.uuid4().hex,
        "User-Agent": "cjm-dashboard-alerts",
    }

    def attempt() -> None:
        reply = httpx.post(hook.url, content=data, headers=headers, timeout=config.timeout_seconds)
        if reply.status_code == 429 or reply.status_code >= 500:
            raise _Transient(f"HTTP {reply.status_code} from {hook.name}")
        if reply.status_code >= 300:
            raise _Permanent(f"HTTP {reply.status_code} from {hook.name}: {reply.text[:200]}")

    _with_retries(config, attempt, sleep)


# --- the log: once per rule, period and channel --------------------------------------------------------------------


def _key(rule_id: str, period: str, channel: str) -> sa.ColumnElement[bool]:
    return sa.and_(nt.c.rule_id == rule_id, nt.c.period == period, nt.c.channel == channel)


def claim(engine: Engine, rule_id: str, period: str, channel: str, now: datetime) -> bool:
    """Takes the delivery of (rule, period, channel) for this run: True when this run is to send it. A delivery
    already sent, or being sent by another run, is not taken; a failed or refused one, or one whose run died
    (sending for longer than :data:`alerts.STALE_SENDING`), is taken again. The row is committed before sending,
    so that a second run sees it (a race for a new row is settled by the primary key)."""
    try:
        with store.connect(engine, write=True) as conn:
            store.ensure_table(conn, nt)
            if conn.execute(sa.select(nt.c.status).where(_key(rule_id, period, channel))).first() is None:
                conn.execute(
                    sa.insert(nt).values(
                        rule_id=rule_id, period=period, channel=channel, sent_at=now, status="sending", attempts=1
                    )
                )
                return True
    except sa.exc.IntegrityError:
        pass  # another run inserted it first
    except store.StoreError as exc:
        if not isinstance(exc.__cause__, sa.exc.IntegrityError):
            raise
    stale = sa.bindparam(None, now - alerts.STALE_SENDING, type_=schema.TIMESTAMP)
    retry = sa.or_(nt.c.status.in_(("failed", "refused")), sa.and_(nt.c.status == "sending", nt.c.sent_at < stale))
    with store.connect(engine, write=True) as conn:
        taken = store.update_where(
            conn,
            nt,
            sa.and_(_key(rule_id, period, channel), retry),
            status="sending",
            sent_at=now,
            attempts=nt.c.attempts + 1,
            error=None,
        )
    return taken == 1


def mark(
    engine: Engine, rule_id: str, period: str, channel: str, status: str, error: str | None, now: datetime
) -> None:
    with store.connect(engine, write=True) as conn:
        conn.execute(
            sa.update(nt).where(_key(rule_id, period, channel)).values(status=status, error=error, sent_at=now)
        )


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
            recipient = alerts.recipient_of(conn, channel.removeprefix(EMAIL_PREFIX))
        problem = alerts.refusal(recipient, rule)
        if problem:
            return "refused", problem
    page = alerts.page_for(recipient, rule)
    link = alerts.link(config.base_url, rule, finding.window, page)
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
    as_of = as_of or alerts.default_as_of(engine)
    with store.connect(engine) as conn:
        chosen = alerts.rules(conn, enabled_only=True)
        subs = alerts.subscriptions(conn)
    stages = _stages(engine)
    out: list[Outcome] = []
    for rule in chosen:
        try:
            with store.connect(engine) as conn:
                finding = alerts.evaluate(conn, rule, as_of)
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
    return out


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
    as_of = as_of or alerts.default_as_of(engine)
    with store.connect(engine) as conn:
        rule = alerts.rule(conn, rule_id)
        finding = alerts.evaluate(conn, rule, as_of)
        channels = alerts.subscriptions(conn, rule_id)["channel"].to_list()
    if not channels:
        raise alerts.AlertError(
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


def parse_every(text: str) -> timedelta:
    """``15m``, ``1h``, ``30s``, ``1d`` -> a timedelta (at least 1 second)."""
    raw = (text or "").strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(raw) < 2 or raw[-1] not in units or not raw[:-1].isdigit() or int(raw[:-1]) < 1:
        raise ValueError(f"--every takes a number and a unit (s, m, h, d), e.g. 15m; not {text!r}")
    return timedelta(seconds=int(raw[:-1]) * units[raw[-1]])


def schedule(engine: Engine, config: NotifyConfig, every: timedelta, report: Callable[[list[Outcome]], None]) -> None:
    """Runs :func:`run` now and then every ``every``, in this process, until interrupted (APScheduler)."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    def job() -> None:
        try:
            report(run(engine, config))
        except (store.StoreError, sa.exc.SQLAlchemyError) as exc:  # the store is down: try again next time
            report([Outcome("", "", "", "error", str(exc).splitlines()[0])])

    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(
        job,
        IntervalTrigger(seconds=every.total_seconds()),
        next_run_time=datetime.now().astimezone(),
        max_instances=1,
        coalesce=True,
    )
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
