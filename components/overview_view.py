"""The overview's pieces: headline cards with their month-by-month lines, the funnel in brief, the stages in the
worst state and the active alerts. Each card and block leads to the page that explains it."""

from __future__ import annotations

from html import escape

import polars as pl
import streamlit as st

from components import auth
from components.builders import charts, status
from data_access import i18n
from data_access import pages as registry
from data_access.i18n import N_, _
from data_access.queries import funnel, overview_words
from data_access.queries.overview import CARDS

DEFINITIONS = {
    "active": N_("Distinct customers with a journey event or an order in the window. Line: per month."),
    "retention": N_(
        "Customers active in the previous window who are active in this one, over those active in the previous "
        "window. Line: active in the month before and in the month, over active in the month before."
    ),
    "churn": N_(
        "Customers whose cancellation falls in the window, over customers signed up before it and not cancelled "
        "by its start. Line: the same per month."
    ),
    "reactivation": N_(
        "Customers who cancelled before the window and are active again in it (an event or an order after "
        "cancelling), over all who had cancelled before it. Line: the same per month."
    ),
    "nps": N_("Share of NPS answers 9-10 minus share 0-6, every stage. Line: per month."),
    "csat": N_("Share of CSAT answers 4-5 (of 1-5), every stage. Line: per month."),
    "fcr": N_("Share of resolved tickets solved with one contact and not reopened. Line: per month."),
    "revenue": N_("Sum of order amounts in the window. Line: per month."),
    "clv": N_(
        "Lifetime value so far: every order amount up to the window's end over the customers signed up by then. "
        "Line: at each month's end."
    ),
}


def page_path(page: str) -> str:
    return registry.BY_KEY[page].path


def link(page: str, label: str, hint: str | None = None) -> None:
    """A block's heading: a link to the page that explains it, or plain words for a viewer who may not open it."""
    if auth.current().may_open(page):
        st.page_link(page_path(page), label=label, icon=registry.BY_KEY[page].icon, help=hint)
    else:
        st.markdown(f"{registry.BY_KEY[page].icon} {label}", help=hint)


def cards(frame: pl.DataFrame, lines: pl.DataFrame, events: pl.DataFrame, per_row: int = 3) -> None:
    """The headline cards, ``per_row`` to a row; each title is a link to its page; business events are dotted
    lines on the month-by-month lines."""
    values = {r["key"]: r for r in frame.iter_rows(named=True)}
    for start in range(0, len(CARDS), per_row):
        for column, card in zip(st.columns(per_row), CARDS[start : start + per_row], strict=False):
            got = values.get(card.key, {})
            value, previous = got.get("value"), got.get("previous")
            line = lines.filter(pl.col("key") == card.key).sort("month")
            title = _(card.label)
            if card.survey:
                title += f" · n {i18n.number(got.get('n') or 0)}"
            shown = overview_words.value_text(card, value)
            if card.survey and value is not None and not got.get("enough"):
                shown = _("{value} (few answers)").format(value=shown)
            hint = _(DEFINITIONS[card.key])
            if previous is not None:
                hint += " " + _("Previous window: {value}").format(value=overview_words.value_text(card, previous))
                hint += f" (n {i18n.number(got.get('previous_n') or 0)})." if card.survey else "."
            if card.survey and got.get("lo") is not None:
                hint += " " + _("95%\u00a0interval {lo} to {hi}.").format(
                    lo=i18n.number(got["lo"], 1), hi=i18n.number(got["hi"], 1)
                )
            with column.container(border=True):
                link(card.page, title, hint)
                st.metric(
                    _(card.label),
                    shown if shown is not None else _("no data"),
                    overview_words.change_text(card, value, previous),
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
    link("funnel", _("Funnel in brief"))
    if steps is None or steps.height == 0 or int(steps["customers"][0]) == 0:
        st.info(_("No customer entered the funnel in this window."))
        return
    leak = funnel.biggest_leak(steps, names, who)
    if leak:
        st.markdown(_("**Biggest leak:** {leak}").format(leak=leak))
    st.plotly_chart(charts.funnel_bars(steps, names), width="stretch", config={"displayModeBar": False})


def worst_stages(worst: pl.DataFrame) -> None:
    link("stage_kpis", _("Stages furthest from target"))
    if worst.height == 0:
        st.success(_("Every stage with enough answers meets its targets."))
        return
    for r in worst.iter_rows(named=True):
        st.markdown(
            f"<span style='color:{status.colour(r['status'])}'>{status.badge(r['status'])}</span> "
            f"**{escape(r['name'])}**: {escape(overview_words.worst_line(r))} (n {i18n.number(r['n'])})",
            unsafe_allow_html=True,
        )


def alerts(unsubscribes: pl.DataFrame, complaints: pl.DataFrame) -> None:
    link("churn_warning", _("Active churn alerts"))
    if unsubscribes.height == 0 and complaints.height == 0:
        st.success(_("No unsubscribe or complaint spike in this window."))
        return
    for r in unsubscribes.iter_rows(named=True):
        st.markdown(":material/unsubscribe: " + overview_words.unsubscribe_spike(r))
    for r in complaints.iter_rows(named=True):
        st.markdown(":material/report: " + overview_words.complaint_spike(r))


def why_row(brief: dict) -> None:
    """The three lines, side by side under the cards, each opening its page."""
    for column, (page, (label, sentence)) in zip(st.columns(3), overview_words.why_lines(brief).items(), strict=True):
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
