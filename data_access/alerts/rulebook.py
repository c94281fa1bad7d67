"""Alert rules (``alert_rules``) and who gets them (``alert_subscriptions``): what may be stored, checked as typed,
and who may see, make, subscribe to or receive a rule.

Segment limits apply: a rule over a segment can be made and subscribed to only by people who may see it, and an
e-mail recipient is checked against the store's grants again at every delivery."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import access, i18n, metrics, schema, store
from data_access.access import Access, AccessError, recipient_of
from data_access.delivery.log import EMAIL_PREFIX, WEBHOOK_PREFIX
from data_access.i18n import N_, _
from data_access.queries import kpis

ar, asub, aa = schema.alert_rules, schema.alert_subscriptions, schema.alert_audiences


COMPARISONS = schema.ALERT_COMPARISONS


PERIODS = schema.ALERT_PERIODS


CHURN_RISK = schema.CHURN_RISK


METRIC_CHOICES = (*metrics.METRICS, CHURN_RISK)


COMPARISON_WORDS = {  # shown through _()
    "off_target": N_("worse than its target"),
    "drop": N_("worse by at least X points than the period before"),
    "above": N_("more than N customers at risk"),
}


PERIOD_WORDS = {"week": N_("week"), "month": N_("month")}


_WEBHOOK_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class AlertError(ValueError):
    """A rule or subscription that cannot be stored, worded for the person typing it."""


@dataclass(frozen=True)
class Rule:
    rule_id: str
    name: str
    metric: str
    comparison: str
    period: str
    stage_id: str | None = None
    segment: str | None = None
    threshold: float | None = None
    min_n: int = 30
    owner: str = access.LOCAL_USER
    enabled: bool = True
    audience: str | None = None  # only this audience's members (its key)

    @property
    def label(self) -> str:
        return metric_label(self.metric)

    def condition(self) -> str:
        """The rule's test in words: "CSAT worse than its target", "NPS down by 10 points or more"."""
        if self.comparison == "off_target":
            return _("{metric} worse than its target").format(metric=self.label)
        if self.comparison == "drop":
            words = (
                _("{metric} worse by {x} {unit} or more than the month before")
                if self.period == "month"
                else _("{metric} worse by {x} {unit} or more than the week before")
            )
            return words.format(metric=self.label, x=f"{self.threshold:g}", unit=unit_of(self.metric))
        return _("more than {x} customers at risk of churning").format(x=f"{self.threshold:g}")

    def where(self, stages: dict[str, str] | None = None) -> str:
        """Where it looks, in words: "Onboarding, B2C", "every stage, every segment"."""
        stage = (stages or {}).get(self.stage_id or "", self.stage_id) if self.stage_id else _("every stage")
        everyone = _("every segment")
        among = ", " + _("audience {key}").format(key=self.audience) if self.audience else ""
        return f"{stage}, {self.segment or everyone}{among}"


def _english(words: Callable[[], str]) -> str:
    """What the audit log records: in English, whatever the session's language."""
    with i18n.using(i18n.SOURCE):
        return words()


def metric_label(metric: str) -> str:
    return _("Customers at risk") if metric == CHURN_RISK else _(metrics.METRICS[metric].label)


def unit_of(metric: str) -> str:
    if metric == CHURN_RISK:
        return _("customers")
    return {"%": _("points"), "points": _("points"), "score": _("points of score")}[metrics.METRICS[metric].unit]


def pages_for(metric: str) -> tuple[str, ...]:
    """The pages that show a metric, the one an alert links to first."""
    if metric == CHURN_RISK:
        return ("churn_warning",)
    m = metrics.METRICS[metric]
    if not m.per_stage:
        return ("support",)
    if m.source is schema.tickets:
        return ("stage_kpis", "support", "journey_map")
    return ("stage_kpis", "journey_map")


def may_see(viewer: Access, rule: Rule) -> bool:
    """Whether ``viewer`` may see (and so subscribe to, or receive) ``rule``: one of its pages, and its segment
    within their limit (a rule over every segment only for those without a limit)."""
    if not any(viewer.may_open(p) for p in pages_for(rule.metric)):
        return False
    return not viewer.segments or rule.segment in viewer.segments


def slug(name: str) -> str:
    """The rule id made from its name: "Onboarding CSAT (B2C)" -> "onboarding-csat-b2c"."""
    flat = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", flat).strip("-")[:64] or "rule"


def _threshold_range(metric: str, comparison: str) -> tuple[float, float]:
    if comparison == "above":
        return 0.0, 1e9
    m = metrics.METRICS[metric]
    if m.unit == "score":
        return 0.01, 6.0  # CES 1-7, satisfaction 1-5
    return 0.1, 200.0 if m.unit == "points" else 100.0


def checked_rule(conn: Connection, rule: Rule, by: Access, *, new: bool) -> Rule:
    """``rule`` as it will be stored, or :class:`AlertError` naming what is wrong (nothing is written here)."""
    if not by.may(access.EDIT):
        raise AlertError(_("Only analysts and admins make or change alert rules; you can subscribe to them."))
    name = (rule.name or "").strip()
    if not name or len(name) > ar.c.name.type.length:
        raise AlertError(_("A rule needs a name of 1 to {n} characters").format(n=ar.c.name.type.length))
    if rule.metric not in METRIC_CHOICES:
        raise AlertError(
            _("Unknown metric {metric}: choose one of {choices}").format(
                metric=repr(rule.metric), choices=", ".join(METRIC_CHOICES)
            )
        )
    allowed = ("above",) if rule.metric == CHURN_RISK else ("off_target", "drop")
    if rule.comparison not in allowed:
        raise AlertError(
            _("{metric} can be compared by {allowed}, not {comparison}").format(
                metric=metric_label(rule.metric), allowed=i18n.either(allowed), comparison=repr(rule.comparison)
            )
        )
    if rule.period not in PERIODS:
        raise AlertError(
            _("Unknown period {period}: choose one of {choices}").format(
                period=repr(rule.period), choices=", ".join(PERIODS)
            )
        )
    threshold = rule.threshold
    if rule.comparison == "off_target":
        if threshold is not None:
            raise AlertError(
                _("{comparison} compares with the stage's target and takes no threshold (not {value})").format(
                    comparison="off_target", value=repr(threshold)
                )
            )
    else:
        lo, hi = _threshold_range(rule.metric, rule.comparison)
        if threshold is None or not lo <= float(threshold) <= hi:
            what = _("points of a drop") if rule.comparison == "drop" else _("a count of customers")
            raise AlertError(
                _("The threshold ({what}) must be between {lo} and {hi}, not {value}").format(
                    what=what, lo=f"{lo:g}", hi=f"{hi:g}", value=repr(threshold)
                )
            )
        threshold = float(threshold)
    if not 1 <= int(rule.min_n) <= 1_000_000:
        raise AlertError(
            _("The minimum sample must be between 1 and {most}, not {value}").format(
                most=i18n.number(1_000_000), value=repr(rule.min_n)
            )
        )
    stage = (rule.stage_id or "").strip() or None
    if stage is not None:
        known = kpis.stages_on(conn)["stage_id"].to_list()
        if stage not in known:
            raise AlertError(
                _("Unknown stage {stage}: the map has {known}").format(
                    stage=repr(stage), known=", ".join(known) or _("no stages yet")
                )
            )
    segment = (rule.segment or "").strip() or None
    if segment is not None:
        known_segments = access.known_segments(conn)
        if segment not in known_segments:
            raise AlertError(
                _("Unknown segment {segment}: the customers have {known}").format(
                    segment=repr(segment), known=", ".join(known_segments) or _("none")
                )
            )
    among = (rule.audience or "").strip() or None
    if among is not None:
        known_audiences = _audience_keys(conn)
        if among not in known_audiences:
            raise AlertError(
                _("Unknown audience {key}: there are {known}").format(
                    key=repr(among), known=", ".join(known_audiences) or _("none")
                )
            )
    checked = replace(
        rule,
        name=name,
        stage_id=stage,
        segment=segment,
        threshold=threshold,
        min_n=int(rule.min_n),
        owner=by.email,
        audience=among,
    )
    if not may_see(by, checked):
        raise AlertError(
            _("Your access covers {segments} only: give the rule that segment").format(
                segments=i18n.either(by.segments)
            )
            if by.segments
            else _("Your role does not give you the page this metric is on")
        )
    if checked.comparison == "off_target" and target_of(conn, checked) is None:
        raise AlertError(
            _(
                "There is no {metric} target for {stage}: set one on the Maps and targets page first, or watch for a "
                "drop instead"
            ).format(metric=metric_label(checked.metric), stage=checked.stage_id or _("every stage (*)"))
        )
    rule_id = (rule.rule_id or "").strip() or slug(name)
    if not re.fullmatch(r"[a-z0-9-]{1,64}", rule_id):
        raise AlertError(_("A rule id is 1 to 64 of a-z, 0-9 and -, not {id}").format(id=repr(rule_id)))
    exists = conn.execute(sa.select(ar.c.rule_id).where(ar.c.rule_id == rule_id)).first() is not None
    if new and exists:
        raise AlertError(_("A rule {id} exists already: give this one another name").format(id=repr(rule_id)))
    if not new and not exists:
        raise AlertError(_("No rule {id}").format(id=repr(rule_id)))
    return replace(checked, rule_id=rule_id)


def channel_of(text: str, webhooks: Iterable[str]) -> str:
    """A subscription's channel from what was typed: an e-mail address or the name of a configured webhook."""
    raw = (text or "").strip()
    if raw.startswith(WEBHOOK_PREFIX) or ("@" not in raw and not raw.startswith(EMAIL_PREFIX)):
        name = raw.removeprefix(WEBHOOK_PREFIX)
        configured = sorted(webhooks)
        if not _WEBHOOK_NAME.match(name) or name not in configured:
            raise AlertError(
                _(
                    "Not an e-mail address nor a configured webhook: {text} (webhooks in [notify.webhooks.*]: {hooks})"
                ).format(text=repr(text), hooks=", ".join(configured) or _("none configured"))
            )
        return WEBHOOK_PREFIX + name
    try:
        return EMAIL_PREFIX + access.normal_email(raw.removeprefix(EMAIL_PREFIX))
    except AccessError as exc:
        raise AlertError(str(exc)) from exc


def _audience_keys(conn: Connection) -> list[str]:
    au = schema.audiences
    return (
        [str(k) for k in conn.execute(sa.select(au.c.key).order_by(au.c.key)).scalars()]
        if store.has_table(conn, au)
        else []
    )


def _ensure(conn: Connection) -> None:
    for table in (ar, asub, aa, schema.notifications):
        store.ensure_table(conn, table)


def _limits(conn: Connection) -> dict[str, str]:
    """Each rule limited to an audience: rule_id -> its key."""
    return dict(conn.execute(sa.select(aa.c.rule_id, aa.c.audience)).all()) if store.has_table(conn, aa) else {}


def _rule_of(row: sa.Row, audience: str | None = None) -> Rule:
    return Rule(
        rule_id=row.rule_id,
        name=row.name,
        metric=row.metric,
        comparison=row.comparison,
        period=row.period,
        stage_id=row.stage_id,
        segment=row.segment,
        threshold=None if row.threshold is None else float(row.threshold),
        min_n=int(row.min_n),
        owner=row.owner,
        enabled=bool(row.enabled),
        audience=audience,
    )


def rules(conn: Connection, *, enabled_only: bool = False) -> list[Rule]:
    """Every rule (only the enabled ones with ``enabled_only``), by id."""
    if not store.has_table(conn, ar):
        return []
    stmt = sa.select(ar).order_by(ar.c.rule_id)
    if enabled_only:
        stmt = stmt.where(ar.c.enabled.is_(True))
    limits = _limits(conn)
    return [_rule_of(r, limits.get(r.rule_id)) for r in conn.execute(stmt)]


def rule(conn: Connection, rule_id: str) -> Rule:
    found = conn.execute(sa.select(ar).where(ar.c.rule_id == rule_id)).first() if store.has_table(conn, ar) else None
    if found is None:
        raise AlertError(f"No rule {rule_id!r}")
    return _rule_of(found, _limits(conn).get(rule_id))


def save_rule(
    engine: Engine,
    candidate: Rule,
    by: Access,
    *,
    new: bool = True,
    channels: Iterable[str] = (),
    webhooks: Iterable[str] = (),
) -> Rule:
    """Stores a new rule (or, ``new`` False, changes an existing one) after :func:`checked_rule`, with the
    subscriptions of ``channels``, in one transaction: a bad rule or channel stores nothing. Audited."""
    names = list(webhooks)
    wanted = [channel_of(c, names) for c in channels]  # a malformed channel is refused before the store is opened
    with store.connect(engine, write=True) as conn:
        _ensure(conn)
        done = checked_rule(conn, candidate, by, new=new)
        values = {
            "name": done.name,
            "metric": done.metric,
            "stage_id": done.stage_id,
            "segment": done.segment,
            "comparison": done.comparison,
            "threshold": done.threshold,
            "period": done.period,
            "min_n": done.min_n,
            "enabled": done.enabled,
        }
        if new:
            conn.execute(
                sa.insert(ar).values(rule_id=done.rule_id, owner=done.owner, created_at=store.utc_now(), **values)
            )
        else:
            conn.execute(sa.update(ar).where(ar.c.rule_id == done.rule_id).values(**values))
        store.delete_where(conn, aa, aa.c.rule_id == done.rule_id)
        if done.audience:
            conn.execute(sa.insert(aa).values(rule_id=done.rule_id, audience=done.audience))
        access.write_audit(
            conn,
            by.email,
            "alert",
            f"rule {done.rule_id}",
            ("made: " if new else "changed: ") + _english(done.condition),
        )
        for channel in wanted:
            _subscribe(conn, done, channel, by)
    return done


def remove_rule(engine: Engine, rule_id: str, by: Access) -> None:
    """Removes a rule and its subscriptions (its delivery log stays); audited."""
    if not by.may(access.EDIT):
        raise AlertError(_("Only analysts and admins remove alert rules."))
    with store.connect(engine, write=True) as conn:
        _ensure(conn)
        rule(conn, rule_id)
        conn.execute(sa.delete(asub).where(asub.c.rule_id == rule_id))
        conn.execute(sa.delete(aa).where(aa.c.rule_id == rule_id))
        conn.execute(sa.delete(ar).where(ar.c.rule_id == rule_id))
        access.write_audit(conn, by.email, "alert", f"rule {rule_id}", "removed")


def subscriptions(conn: Connection, rule_id: str | None = None) -> pl.DataFrame:
    """rule_id, channel, added_by, added_at (of one rule, or of every rule)."""
    columns = {"rule_id": pl.String, "channel": pl.String, "added_by": pl.String, "added_at": pl.Datetime("us")}
    if not store.has_table(conn, asub):
        return pl.DataFrame(schema=columns)
    stmt = sa.select(asub.c.rule_id, asub.c.channel, asub.c.added_by, asub.c.added_at).order_by(
        asub.c.rule_id, asub.c.channel
    )
    if rule_id is not None:
        stmt = stmt.where(asub.c.rule_id == rule_id)
    return store.fetch_frame(conn, stmt, columns)


def subscribe(engine: Engine, rule_id: str, channel_text: str, by: Access, webhooks: Iterable[str]) -> str:
    """Subscribes a channel to a rule. Editors (analysts, admins) may subscribe any e-mail or a webhook; everyone
    else only their own e-mail, to a rule they may see. A recipient who may not see the rule is refused."""
    channel = channel_of(channel_text, webhooks)
    with store.connect(engine, write=True) as conn:
        _ensure(conn)
        _subscribe(conn, rule(conn, rule_id), channel, by)
    return channel


def _subscribe(conn: Connection, target: Rule, channel: str, by: Access) -> None:
    if not may_see(by, target):
        raise AlertError(_("This rule is over customers or a page your access does not cover."))
    own = channel == EMAIL_PREFIX + by.email
    if not own and not by.may(access.EDIT):
        raise AlertError(_("You can subscribe your own e-mail only; an analyst or admin adds other channels."))
    if channel.startswith(EMAIL_PREFIX) and not own:
        refused = refusal(recipient_of(conn, channel.removeprefix(EMAIL_PREFIX)), target)
        if refused:
            raise AlertError(refused)
    conn.execute(sa.delete(asub).where(asub.c.rule_id == target.rule_id, asub.c.channel == channel))
    conn.execute(
        sa.insert(asub).values(rule_id=target.rule_id, channel=channel, added_by=by.email, added_at=store.utc_now())
    )
    access.write_audit(conn, by.email, "alert", f"rule {target.rule_id}", f"subscribed {channel}")


def unsubscribe(engine: Engine, rule_id: str, channel: str, by: Access) -> None:
    """Removes a subscription: one's own e-mail, or any with the right to edit."""
    with store.connect(engine, write=True) as conn:
        _ensure(conn)
        if channel != EMAIL_PREFIX + by.email and not by.may(access.EDIT):
            raise AlertError(_("You can remove your own subscription only."))
        gone = store.delete_where(conn, asub, sa.and_(asub.c.rule_id == rule_id, asub.c.channel == channel))
        if not gone:
            raise AlertError(_("{channel} is not subscribed to {rule}").format(channel=channel, rule=rule_id))
        access.write_audit(conn, by.email, "alert", f"rule {rule_id}", f"unsubscribed {channel}")


def refusal(recipient: Access | None, target: Rule) -> str | None:
    """Why ``recipient`` (from :func:`recipient_of`) may not receive ``target``; None: it may."""
    if recipient is None or may_see(recipient, target):
        return None
    if not recipient.roles:
        return _("{email} has no role in this store, so cannot receive alerts").format(email=recipient.email)
    return _("{email} may not see this rule ({access})").format(email=recipient.email, access=recipient.caption())


def target_of(conn: Connection, rule: Rule) -> float | None:
    """The KPI target a rule's stage has for its metric (the stage's own, else the ``*`` one)."""
    if rule.metric == CHURN_RISK:
        return None
    targets = kpis.target_list(conn)
    frame = pl.DataFrame(
        {"stage_id": [rule.stage_id or schema.ALL_STAGES], rule.metric: [None], f"{rule.metric}_enough": [False]}
    )
    frame = frame.with_columns(pl.col(rule.metric).cast(pl.Float64))
    found = metrics.with_status(frame, targets, metrics.METRICS[rule.metric])[f"{rule.metric}_target"][0]
    return None if found is None else float(found)
