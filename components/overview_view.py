"""The overview's pieces: headline cards with their month-by-month lines, the funnel in brief, the stages in the
worst state and the active alerts. Each card and block leads to the page that explains it."""

from __future__ import annotations

from html import escape

import polars as pl
import streamlit as st

from components import auth, charts, status
from data_access import metrics
from data_access.queries import funnel
from data_access.queries.overview import CARDS, Card

_ICONS = {
    "retention": ":material/group:",
    "churn_warning": ":material/notifications:",
    "stage_kpis": ":material/leaderboard:",
    "support": ":material/support_agent:",
    "funnel": ":material/filter_alt:",
    "why_leave": ":material/logout:",
    "offers": ":material/redeem:",
    "experiments": ":material/science:",
}
DEFINITIONS = {
    "active": "Distinct customers with a journey event or an order in the window. Line: per month.",
    "retention": "Customers active in the previous window who are active in this one, over those active in the "
    "previous window. Line: active in the month before and in the month, over active in the month before.",
    "churn": "Customers whose cancellation falls in the window, over customers signed up before it and not "
    "cancelled by its start. Line: the same per month.",
    "reactivation": "Customers who cancelled before the window and are active again in it (an event or an order "
    "after cancelling), over all who had cancelled before it. Line: the same per month.",
    "nps": "Share of NPS answers 9-10 minus share 0-6, every stage. Line: per month.",
    "csat": "Share of CSAT answers 4-5 (of 1-5), every stage. Line: per month.",
    "fcr": "Share of resolved tickets solved with one contact and not reopened. Line: per month.",
    "revenue": "Sum of order amounts in the window. Line: per month.",
    "clv": "Lifetime value so far: every order amount up to the window's end over the customers signed up by "
    "then. Line: at each month's end.",
}


def page_path(page: str) -> str:
    return f"pages/{page}.py"


def link(page: str, label: str, hint: str | None = None) -> None:
    """A block's heading: a link to the page that explains it, or plain words for a viewer who may not open it."""
    if auth.current().may_open(page):
        st.page_link(page_path(page), label=label, icon=_ICONS[page], help=hint)
    else:
        st.markdown(f"{_ICONS[page]} {label}", help=hint)


def _compact(value: float, money: bool) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size * 10 or (money and abs(value) >= size):
            return f"{value / size:,.1f}{suffix}"
    return f"{value:,.0f}" if not money else f"{value:,.2f}"


def value_text(card: Card, value: float | None) -> str | None:
    if value is None:
        return None
    if card.unit == "%":
        return f"{value:.1f}%"
    if card.unit == "points":
        return f"{value:+.1f}"
    return _compact(value, card.unit == "money")


def change_text(card: Card, value: float | None, previous: float | None) -> str | None:
    """Shares and scores change in points; counts and money in percent of the previous value."""
    if value is None or previous is None:
        return None
    if card.unit in ("%", "points"):
        return f"{value - previous:+.1f} pts"
    if previous == 0:
        return None
    return f"{100 * (value - previous) / abs(previous):+.1f}%"


def cards(frame: pl.DataFrame, lines: pl.DataFrame, events: pl.DataFrame, per_row: int = 3) -> None:
    """The headline cards, ``per_row`` to a row; each title is a link to its page; business events are dotted
    lines on the month-by-month lines."""
    values = {r["key"]: r for r in frame.iter_rows(named=True)}
    for start in range(0, len(CARDS), per_row):
        for column, card in zip(st.columns(per_row), CARDS[start : start + per_row], strict=False):
            got = values.get(card.key, {})
            value, previous = got.get("value"), got.get("previous")
            line = lines.filter(pl.col("key") == card.key).sort("month")
            title = card.label
            if card.survey:
                title += f" · n {got.get('n') or 0:,}"
            shown = value_text(card, value)
            if card.survey and value is not None and not got.get("enough"):
                shown = f"{shown} (few answers)"
            hint = DEFINITIONS[card.key]
            if previous is not None:
                hint += f" Previous window: {value_text(card, previous)}"
                hint += f" (n {got.get('previous_n') or 0:,})." if card.survey else "."
            if card.survey and got.get("lo") is not None:
                hint += f" 95% interval {got['lo']:.1f} to {got['hi']:.1f}."
            with column.container(border=True):
                link(card.page, title, hint)
                st.metric(
                    card.label,
                    shown if shown is not None else "no data",
                    change_text(card, value, previous),
                    delta_color="normal" if card.higher_is_better else "inverse",
                    label_visibility="collapsed",
                )
                st.plotly_chart(
                    charts.sparkline(line, events, card.unit),
                    width="stretch",
                    config={"displayModeBar": False, "staticPlot": False},
                    key=f"overview_line_{card.key}",
                )


def funnel_brief(steps: pl.DataFrame | None, names: dict[str, str], who: str) -> None:
    link("funnel", "Funnel in brief")
    if steps is None or steps.height == 0 or int(steps["customers"][0]) == 0:
        st.info("No customer entered the funnel in this window.")
        return
    leak = funnel.biggest_leak(steps, names, who)
    if leak:
        st.markdown(f"**Biggest leak:** {leak}")
    st.plotly_chart(charts.funnel_bars(steps, names), width="stretch", config={"displayModeBar": False})


def worst_stages(worst: pl.DataFrame) -> None:
    link("stage_kpis", "Stages furthest from target")
    if worst.height == 0:
        st.success("Every stage with enough answers meets its targets.")
        return
    for r in worst.iter_rows(named=True):
        unit = "" if r["metric"] in ("nps", "ces") else "%"
        st.markdown(
            f"<span style='color:{status.colour(r['status'])}'>{status.badge(r['status'])}</span> "
            f"**{escape(r['name'])}**: {escape(r['label'])} {r['value']:.1f}{unit} "
            f"against a target of {r['target']:g}{unit} "
            f"(n {r['n']:,})",
            unsafe_allow_html=True,
        )


def alerts(unsubscribes: pl.DataFrame, complaints: pl.DataFrame) -> None:
    link("churn_warning", "Active churn alerts")
    if unsubscribes.height == 0 and complaints.height == 0:
        st.success("No unsubscribe or complaint spike in this window.")
        return
    for r in unsubscribes.iter_rows(named=True):
        st.markdown(
            f":material/unsubscribe: **Unsubscribe spike in {r['segment']}** after {r['event']} "
            f"({r['occurred_at']:%Y-%m-%d}): {r['after']:,} in the 14 days after, {r['before']:,} before."
        )
    for r in complaints.iter_rows(named=True):
        st.markdown(
            f":material/report: **Complaint spike in {r['segment']}**: {r['tickets']:,} {r['category']} tickets "
            f"in the week of {r['last_week']}, against {r['baseline']:.1f} a week before (z = {r['z']:.1f})."
        )


def why_lines(brief: dict) -> dict[str, tuple[str, str]]:
    """The one line each of the pages Why they leave, Retention offers and Experiments: (label, full sentence)."""
    reason, offer, verdicts = brief["reason"], brief["offer"], brief["experiments"]
    out = {}
    if reason:
        out["why_leave"] = (
            f"Exits: {reason['reason']} {reason['share']:.0f}%",
            f"Top exit reason in the window: {reason['reason']}, {reason['share']:.1f}% of {reason['of']:,} exit "
            f"answers (95% interval {reason['share_lo']:.1f} to {reason['share_hi']:.1f}).",
        )
    else:
        out["why_leave"] = ("Exits: none", "No exit interviews in the window.")
    if offer:
        out["offers"] = (
            f"Offers: {offer['offer_type']} {offer['kept_share']:.0f}%",
            f"Of the customers who accepted it, the {offer['offer_type']} kept {offer['kept_share']:.1f}% for 90 "
            f"days (95% interval {offer['kept_lo']:.1f} to {offer['kept_hi']:.1f}, n = {offer['customers']:,}).",
        )
    else:
        out["offers"] = ("Offers: too few", "Too few accepted retention offers in the window to compare.")
    winners = [v for v in verdicts if v.verdict == metrics.WINNER]
    untrusted = [v for v in verdicts if v.verdict == metrics.SRM]
    words = f"Tests: {len(winners)} of {len(verdicts)} won"
    detail = "; ".join(f"{v.variant} vs {v.control}: {v.verdict}" for v in verdicts) or "No experiments."
    out["experiments"] = (words + (f", {len(untrusted)} SRM" if untrusted else ""), detail)
    return out


def why_row(brief: dict) -> None:
    """The three lines, side by side under the cards, each opening its page."""
    for column, (page, (label, sentence)) in zip(st.columns(3), why_lines(brief).items(), strict=True):
        with column:
            link(page, label, sentence)


def one_screen() -> None:
    """Less empty space above the title and between blocks, so that the overview fits a 1440x900 screen. The
    style element belongs to this page only: it goes when another page is opened."""
    st.html(
        "<style>"
        "[data-testid='stMainBlockContainer']{padding-top:2.2rem;padding-bottom:1rem}"
        "[data-testid='stMainBlockContainer'] h1{padding-top:0;padding-bottom:0.25rem}"
        "[data-testid='stVerticalBlockBorderWrapper'] [data-testid='stVerticalBlock']{gap:0.3rem}"
        "</style>"
    )
