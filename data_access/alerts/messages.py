"""What an alert says: the link to its evidence, the e-mail's subject and bodies, and the webhook's JSON body."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from data_access import i18n
from data_access.access import Access
from data_access.alerts.evaluation import Finding, Window
from data_access.alerts.rulebook import CHURN_RISK, Rule, pages_for
from data_access.i18n import _


def link(base_url: str, rule: Rule, found: Window, page: str) -> str:
    """The deep link to the evidence: the page with the rule's period, segment, stage and metric."""
    params: dict[str, str] = {
        "from": found.start.date().isoformat(),
        "to": (found.end - timedelta(days=1)).date().isoformat(),
    }
    if rule.segment:
        params["segment"] = rule.segment
    if rule.stage_id:
        params["stage"] = rule.stage_id
    if rule.metric != CHURN_RISK:
        params["metric"] = rule.metric
    return f"{base_url.rstrip('/')}/{page}?{urlencode(params)}"


def page_for(recipient: Access | None, rule: Rule) -> str:
    """The first of the rule's pages that the recipient may open (the first one for a webhook)."""
    pages = pages_for(rule.metric)
    if recipient is None:
        return pages[0]
    return next((p for p in pages if recipient.may_open(p)), pages[0])


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
