"""What the digest says: the Overview of one recipient's customers as an e-mail, in the words the page uses
(:mod:`data_access.queries.overview_words`): the nine headline figures with their change and n and their month
lines as small images, the funnel in brief with the biggest leak, the three stages furthest from target, the active
churn alerts, the exits/offers/tests lines, and a link into the app with the same filters. Every loaded text (stage,
segment and event names) is escaped in the HTML part."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from html import escape
from typing import Any
from urllib.parse import urlencode

import polars as pl
from sqlalchemy.engine import Engine

from data_access import i18n
from data_access.config import SETTINGS
from data_access.digest import sparks
from data_access.filters import Filters
from data_access.i18n import _
from data_access.queries import funnel, overview, overview_words
from data_access.queries.overview import CARDS

HORIZON = "month"  # the digest compares the last whole month with the one before, as the Overview does for "month"
_BOLD = re.compile(r"\*\*(.+?)\*\*")


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    html: str
    images: dict[str, bytes] = field(default_factory=dict)  # content id -> PNG, shown inline by the HTML part


def link(base_url: str, filters: Filters, last_day: date) -> str:
    """The Overview with the digest's segment, horizon and last day, so it opens on the same figures."""
    params: list[tuple[str, str]] = [("segment", s) for s in filters.segment]
    params += [("horizon", HORIZON), ("to", last_day.isoformat())]
    return f"{base_url.rstrip('/')}/overview?{urlencode(params)}"


def _plain(sentence: str) -> str:
    return _BOLD.sub(r"\1", sentence)


def _markup(sentence: str) -> str:
    return _BOLD.sub(r"<b>\1</b>", escape(sentence))


def _cards(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Each headline figure: its label, value, change (with its direction's word) and n, and its month line."""
    values = {r["key"]: r for r in data["cards"].iter_rows(named=True)}
    out = []
    for card in CARDS:
        got = values.get(card.key, {})
        value, previous = got.get("value"), got.get("previous")
        shown = overview_words.value_text(card, value) or _("no data")
        if card.survey and value is not None and not got.get("enough"):
            shown = _("{value} (few answers)").format(value=shown)
        line = data["lines"].filter(pl.col("key") == card.key).sort("month")["value"].to_list()
        out.append(
            {
                "key": card.key,
                "label": _(card.label),
                "value": shown,
                "change": overview_words.change_text(card, value, previous),
                "better": None
                if value is None or previous is None or value == previous
                else (value > previous) == card.higher_is_better,
                "n": i18n.number(got.get("n") or 0) if card.survey else None,
                "line": line,
            }
        )
    return out


def _funnel(data: dict[str, Any], who: str | None) -> tuple[list[str], str | None]:
    steps = data["funnel"]
    if steps is None or steps.height == 0 or int(steps["customers"][0]) == 0:
        return [], None
    names = data["stage_names"]
    rows = [
        f"{names.get(r['stage_id'], r['stage_id'])}: {i18n.number(r['customers'])}"
        + ("" if r["step"] == 0 else f" ({i18n.percent((r['conversion_from_first'] or 0) / 100)})")
        for r in steps.iter_rows(named=True)
    ]
    return rows, funnel.biggest_leak(steps, names, who)


def compose(engine: Engine, filters: Filters, last_day: date, base_url: str, every: str) -> Digest:
    """The digest of ``filters`` (a segment and the recipient's scope) for the whole months ending on or before
    ``last_day``, in the current language."""
    w = overview.windows_ending(last_day, overview.HORIZONS[HORIZON])
    data = overview.load(engine, filters, w, SETTINGS.min_n, parallel=False)  # a background job: one connection
    segments = filters.segment or filters.scope.segments  # what was asked for, else the recipient's limit
    who = i18n.either(segments) if segments else None
    cards = _cards(data)
    steps, leak = _funnel(data, who)
    worst = [
        (f"{r['name']}: {overview_words.worst_line(r)} (n {i18n.number(r['n'])})")
        for r in data["worst"].iter_rows(named=True)
    ]
    spikes = [overview_words.unsubscribe_spike(r) for r in data["unsubscribes"].iter_rows(named=True)]
    spikes += [overview_words.complaint_spike(r) for r in data["complaints"].iter_rows(named=True)]
    why = [sentence for _label, sentence in overview_words.why_lines(data["why"]).values()]
    url = link(base_url, filters, last_day)
    scope = who or _("all customers")
    month = i18n.short_month(w.current_first)
    title = (_("Weekly digest") if every == "week" else _("Monthly digest")) + f": {scope} · {month}"
    subject = _("[CJM] {title}").format(title=title)
    title_line = f"{title}\n{w.caption()}"
    images = {f"line-{c['key']}": sparks.png(c["line"]) for c in cards}
    return Digest(
        subject,
        _text(title_line, cards, steps, leak, worst, spikes, why, url, filters),
        _html(title_line, cards, steps, leak, worst, spikes, why, url, filters),
        images,
    )


def _figure(c: dict[str, Any]) -> str:
    parts = [f"{c['label']}: {c['value']}"]
    if c["change"]:
        parts.append(_("({change} against the month before)").format(change=c["change"]))
    if c["n"] is not None:
        parts.append(f"· n {c['n']}")
    return " ".join(parts)


def _sections(steps: list[str], leak: str | None, worst: list[str], spikes: list[str], why: list[str]):
    return [
        (_("Funnel in brief"), ([_plain(_("**Biggest leak:** {leak}").format(leak=leak))] if leak else []) + steps)
        if steps
        else (_("Funnel in brief"), [_("No customer entered the funnel in this window.")]),
        (_("Stages furthest from target"), worst or [_("Every stage with enough answers meets its targets.")]),
        (_("Active churn alerts"), spikes or [_("No unsubscribe or complaint spike in this window.")]),
        (_("Exits, offers and tests"), why),
    ]


def _text(title, cards, steps, leak, worst, spikes, why, url, filters: Filters) -> str:
    lines = [title, "", *(_figure(c) for c in cards), ""]
    for heading, items in _sections(steps, leak, worst, spikes, why):
        lines += [heading, *(f"- {_plain(item)}" for item in items), ""]
    lines += [_("Open the Overview with the same filters: {url}").format(url=url), "", _footer(filters)]
    return "\n".join(lines)


def _html(title, cards, steps, leak, worst, spikes, why, url, filters: Filters) -> str:
    cells = []
    for c in cards:
        colour = {True: "#0072B2", False: "#D55E00"}.get(c["better"], "#555")
        change = f"<div style='color:{colour};font-size:12px'>{escape(c['change'])}</div>" if c["change"] else ""
        n = f"<div style='color:#777;font-size:11px'>n {escape(c['n'])}</div>" if c["n"] is not None else ""
        cells.append(
            "<td style='border:1px solid #ddd;padding:8px;vertical-align:top;width:33%'>"
            f"<div style='font-size:12px;color:#555'>{escape(c['label'])}</div>"
            f"<div style='font-size:20px;font-weight:bold'>{escape(c['value'])}</div>{change}{n}"
            f"<img src='cid:line-{c['key']}' width='{sparks.WIDTH}' height='{sparks.HEIGHT}' "
            f"alt='{escape(c['label'])}'></td>"
        )
    rows = "".join(f"<tr>{''.join(cells[i : i + 3])}</tr>" for i in range(0, len(cells), 3))
    blocks = "".join(
        f"<h3 style='margin:16px 0 4px'>{escape(heading)}</h3><ul>"
        + "".join(f"<li>{_markup(item)}</li>" for item in items)
        + "</ul>"
        for heading, items in _sections(steps, leak, worst, spikes, why)
    )
    opening = _("Open the Overview with the same filters")
    return (
        f"<!doctype html><html lang='{i18n.current()}'><body style='font-family:sans-serif;color:#222'>"
        f"<h2>{'<br><small>'.join(escape(t) for t in title.split(chr(10)))}</h2>"
        f"<table style='border-collapse:collapse'>{rows}</table>{blocks}"
        f"<p><a href='{escape(url)}'>{escape(opening)}</a></p>"
        f"<p style='color:#777;font-size:11px'>{escape(_footer(filters))}</p></body></html>"
    )


def _footer(filters: Filters) -> str:
    return _(
        "Customers: {customers}. Unsubscribe: python -m data_access digest unsubscribe, or the Alerts page."
    ).format(customers=filters.customer_caption())
