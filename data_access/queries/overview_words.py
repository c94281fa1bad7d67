"""The Overview's figures in words, one place for the page and the e-mailed digest: a card's value and its change,
a stage off target, an unsubscribe or complaint spike, and the one line each of exits, offers and tests."""

from __future__ import annotations

from typing import Any

from data_access import i18n, metrics
from data_access.i18n import N_, _, ngettext
from data_access.queries.overview import Card


def compact(value: float, money: bool) -> str:
    for size, suffix in ((1e9, N_("B")), (1e6, N_("M")), (1e3, N_("k"))):
        if abs(value) >= size * 10 or (money and abs(value) >= size):
            scaled = value / size
            return i18n.number(scaled, 0 if abs(scaled) >= 100 else 1) + _(suffix)  # short enough for a card
    return i18n.number(value, 2 if money else 0)


def value_text(card: Card, value: float | None) -> str | None:
    if value is None:
        return None
    if card.unit == "%":
        return i18n.percent(value / 100, 1)
    if card.unit == "points":
        return ("+" if value > 0 else "") + i18n.number(value, 1)
    return compact(value, card.unit == "money")


def change_text(card: Card, value: float | None, previous: float | None) -> str | None:
    """Shares and scores change in points; counts and money in percent of the previous value."""
    if value is None or previous is None:
        return None
    if card.unit in ("%", "points"):
        change = value - previous
        return _("{change} pts").format(change=("+" if change >= 0 else "") + i18n.number(change, 1))
    if previous == 0:
        return None
    change = (value - previous) / abs(previous)
    return ("+" if change >= 0 else "") + i18n.percent(change, 1)


def worst_line(row: dict[str, Any]) -> str:
    """'Onboarding: CSAT 61.3% against a target of 85%' (a stage furthest from target; its n goes beside it)."""
    percent = row["metric"] not in ("nps", "ces")
    value = i18n.percent(row["value"] / 100, 1) if percent else i18n.number(row["value"], 1)
    target = i18n.percent(row["target"] / 100) if percent else i18n.number(row["target"], 1)
    return _("{metric} {value} against a target of {target}").format(metric=_(row["label"]), value=value, target=target)


def spike_fields(row: dict) -> dict[str, str]:
    """The fields a sentence about an unsubscribe or complaint spike fills in (``risk.unsubscribe_spikes``,
    ``support.cluster_spikes``), in the current language's numbers and dates."""
    fields = {"segment": row["segment"]}
    if "event" in row:  # an unsubscribe spike after a business event
        fields |= {
            "event": row["event"],
            "day": i18n.day(row["occurred_at"]),
            "after": i18n.number(row["after"]),
            "before": i18n.number(row["before"]),
        }
    else:  # a complaint spike in one category
        fields |= {
            "tickets": i18n.number(row["tickets"]),
            "category": row["category"],
            "week": i18n.day(row["last_week"]),
            "baseline": i18n.number(row["baseline"], 1),
            "z": i18n.number(row["z"], 1),
        }
    return fields


def unsubscribe_spike(row: dict[str, Any]) -> str:
    """An unsubscribe spike after a business event, in one sentence (markdown bold on its subject)."""
    return _(
        "**Unsubscribe spike in {segment}** after {event} ({day}): {after} in the 14 days after, {before} before."
    ).format(**spike_fields(row))


def complaint_spike(row: dict[str, Any]) -> str:
    """A complaint spike in one category, in one sentence (markdown bold on its subject)."""
    return ngettext(
        "**Complaint spike in {segment}**: {tickets} {category} ticket in the week of {week}, against "
        "{baseline} a week before (z = {z}).",
        "**Complaint spike in {segment}**: {tickets} {category} tickets in the week of {week}, against "
        "{baseline} a week before (z = {z}).",
        row["tickets"],
    ).format(**spike_fields(row))


def why_lines(brief: dict) -> dict[str, tuple[str, str]]:
    """The one line each of the pages Why they leave, Retention offers and Experiments: (label, full sentence)."""
    reason, offer, verdicts = brief["reason"], brief["offer"], brief["experiments"]
    out = {}
    if reason:
        out["why_leave"] = (
            _("Exits: {reason} {share}").format(reason=_(reason["reason"]), share=i18n.percent(reason["share"] / 100)),
            _(
                "Top exit reason in the window: {reason}, {share} of {n} exit answers (95%\u00a0interval {lo} to {hi})."
            ).format(
                reason=_(reason["reason"]),
                share=i18n.percent(reason["share"] / 100, 1),
                n=i18n.number(reason["of"]),
                lo=i18n.number(reason["share_lo"], 1),
                hi=i18n.number(reason["share_hi"], 1),
            ),
        )
    else:
        out["why_leave"] = (_("Exits: none"), _("No exit interviews in the window."))
    if offer:
        out["offers"] = (
            _("Offers: {offer} {share}").format(
                offer=offer["offer_type"], share=i18n.percent(offer["kept_share"] / 100)
            ),
            _(
                "Of the customers who accepted it, the {offer} kept {share} for 90 days (95%\u00a0interval {lo} to "
                "{hi}, n = {n})."
            ).format(
                offer=offer["offer_type"],
                share=i18n.percent(offer["kept_share"] / 100, 1),
                lo=i18n.number(offer["kept_lo"], 1),
                hi=i18n.number(offer["kept_hi"], 1),
                n=i18n.number(offer["customers"]),
            ),
        )
    else:
        out["offers"] = (_("Offers: too few"), _("Too few accepted retention offers in the window to compare."))
    winners = [v for v in verdicts if v.verdict == metrics.WINNER]
    untrusted = [v for v in verdicts if v.verdict == metrics.SRM]
    words = _("Tests: {won} of {all} won").format(won=len(winners), all=len(verdicts))
    detail = "; ".join(
        _("{variant} vs {control}: {verdict}").format(variant=v.variant, control=v.control, verdict=_(v.verdict))
        for v in verdicts
    ) or _("No experiments.")
    out["experiments"] = (words + (f", {len(untrusted)} SRM" if untrusted else ""), detail)
    return out
