"""How a status looks, in one place: a colour-blind-safe palette (Okabe-Ito) plus an icon and a word, so
colour is never the only cue."""

from __future__ import annotations

from data_access import metrics
from data_access.i18n import _

STYLE: dict[str, tuple[str, str]] = {  # status -> (colour, icon)
    metrics.STATUS_GOOD: ("#0072B2", "✔"),
    metrics.STATUS_WARN: ("#E69F00", "▲"),
    metrics.STATUS_BAD: ("#D55E00", "✖"),
    metrics.STATUS_NO_TARGET: ("#56B4E9", "○"),
    metrics.STATUS_NO_DATA: ("#BBBBBB", "…"),
}


def colour(status: str) -> str:
    return STYLE.get(status, STYLE[metrics.STATUS_NO_DATA])[0]


def badge(status: str) -> str:
    """Icon and word, e.g. "✖ off target"."""
    return f"{STYLE.get(status, STYLE[metrics.STATUS_NO_DATA])[1]} {_(status)}"


def legend_markdown() -> str:
    return " · ".join(f"<span style='color:{c}'>■</span> {icon} {_(name)}" for name, (c, icon) in STYLE.items())
