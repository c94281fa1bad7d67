"""The overview's headline figures against a hand count, on every store.

Windows of one month ending with April 2025: current = April, previous = March, earlier = February.

Customers (signup, segment, cancellation) and their activity (journey events E, orders O):
  c1 5 Jan B2C          E 10 Feb, E 3 Mar, O 15 Mar (100), E 20 Apr
  c2 20 Jan B2B, cancels 20 Mar   E 5 Mar, E 10 Apr and O 12 Apr (50): active again after cancelling
  c3 1 Feb B2C, cancels 15 Apr    E 2 Feb, E 2 Apr
  c4 10 Mar B2C, cancels 20 Apr   O 11 Mar (30)
  c5 1 Dec 2024 B2B, cancels 15 Jan   E 20 Feb: active again after cancelling
  c6 10 Feb B2C         nothing
Active: Feb c1 c3 c5 = 3; Mar c1 c2 c4 = 3; Apr c1 c2 c3 = 3.
Retention: April (active in March and April: c1 c2) 2 of 3 = 66.7 %; March (Feb and Mar: c1) 1 of 3 = 33.3 %.
Churn: April: c3, c4 cancel; base on 1 Apr = 6 signed up - 2 cancelled (c5, c2) = 4 -> 50 %. March: c2; base on
  1 Mar = 5 signed up (not c4) - 1 (c5) = 4 -> 25 %. Lines: Jan 1 of 1 (c5) = 100 %, Feb 0 of 2 = 0 %.
Reactivation: April: cancelled before 1 Apr c5, c2; c2 active after cancelling in April -> 1 of 2 = 50 %.
  March: cancelled before 1 Mar c5; not active in March -> 0 of 1 = 0 %. Line: Feb 1 of 1 (c5) = 100 %.
Revenue: April 50, March 130. CLV: end of April 180 / 6 signed up = 30; end of March 130 / 6 = 21.67.
NPS April 10, 9, 3 -> (2 - 1) / 3 = 33.3; March 5 -> -100. CSAT April 5, 2 -> 50 %; March 4 -> 100 %.
FCR April: t1 one contact, t2 two contacts -> 50 %; March: t3 still open -> no figure (n 0).
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from data_access import metrics, store
from data_access.filters import Filters
from data_access.queries import overview
from tests.conftest import put

W = overview.windows_ending(date(2025, 4, 30), 1)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def company(engine: Engine) -> Engine:
    customers = (
        ("c1", "2025-01-05", "B2C", None),
        ("c2", "2025-01-20", "B2B", "2025-03-20"),
        ("c3", "2025-02-01", "B2C", "2025-04-15"),
        ("c4", "2025-03-10", "B2C", "2025-04-20"),
        ("c5", "2024-12-01", "B2B", "2025-01-15"),
        ("c6", "2025-02-10", "B2C", None),
    )
    events = (
        ("c1", "2025-02-10"),
        ("c1", "2025-03-03"),
        ("c1", "2025-04-20"),
        ("c2", "2025-03-05"),
        ("c2", "2025-04-10"),
        ("c3", "2025-02-02"),
        ("c3", "2025-04-02"),
        ("c5", "2025-02-20"),
    )
    answers = (
        ("nps", 10, "2025-04-03"),
        ("nps", 9, "2025-04-04"),
        ("nps", 3, "2025-04-05"),
        ("nps", 5, "2025-03-05"),
        ("csat", 5, "2025-04-06"),
        ("csat", 2, "2025-04-07"),
        ("csat", 4, "2025-03-06"),
    )
    tickets = (
        ("t1", "2025-04-01", "2025-04-01 05:00", 1),
        ("t2", "2025-04-02", "2025-04-03", 2),
        ("t3", "2025-03-02", None, 1),
    )
    put(
        engine,
        stages=[
            {"stage_id": "a", "name": "A", "position": 1, "in_funnel": True},
            {"stage_id": "b", "name": "B", "position": 2, "in_funnel": True},
        ],
        customers=[
            {
                "customer_id": c,
                "signup_at": when(d),
                "segment": seg,
                "channel": "web",
                "region": "EU",
                "plan": "p",
                "churned_at": when(gone) if gone else None,
            }
            for c, d, seg, gone in customers
        ],
        journey_events=[
            {"event_id": f"e{i}", "customer_id": c, "stage_id": "a", "occurred_at": when(d)}
            for i, (c, d) in enumerate(events)
        ],
        orders=[
            {"order_id": "o1", "customer_id": "c1", "ordered_at": when("2025-03-15"), "amount": 100.0},
            {"order_id": "o2", "customer_id": "c2", "ordered_at": when("2025-04-12"), "amount": 50.0},
            {"order_id": "o3", "customer_id": "c4", "ordered_at": when("2025-03-11"), "amount": 30.0},
        ],
        survey_responses=[
            {
                "response_id": f"r{i}",
                "customer_id": "c1",
                "stage_id": "a",
                "survey": kind,
                "score": score,
                "responded_at": when(d),
            }
            for i, (kind, score, d) in enumerate(answers)
        ],
        tickets=[
            {
                "ticket_id": t,
                "customer_id": "c1",
                "stage_id": "a",
                "opened_at": when(opened),
                "resolved_at": when(resolved) if resolved else None,
                "entry_channel": "chat",
                "final_line": 1,
                "bot_resolved": False,
                "contacts": contacts,
                "reopened": False,
                "category": "technical",
            }
            for t, opened, resolved, contacts in tickets
        ],
        kpi_targets=[
            {"stage_id": "*", "metric": "csat", "target": 85.0, "warn": 75.0},
            {"stage_id": "a", "metric": "nps", "target": 30.0, "warn": 10.0},
            {"stage_id": "a", "metric": "fcr", "target": 80.0, "warn": 70.0},
        ],
    )
    return engine


def figures(engine: Engine, filters: Filters | None = None) -> tuple[dict[str, dict], dict[str, dict]]:
    with store.connect(engine) as conn:
        got = overview.headline(conn, filters or Filters(), W, 1)
    cards = {r["key"]: r for r in got["cards"].iter_rows(named=True)}
    lines = {k: dict(g.select("month", "value").iter_rows()) for (k,), g in got["lines"].group_by("key")}
    return cards, lines


def test_windows_are_whole_months_ending_with_the_last_complete_one() -> None:
    full = overview.windows_ending(date(2026, 10, 31), 6)
    assert (full.current_first, full.end, full.previous_first) == (
        date(2026, 5, 1),
        date(2026, 11, 1),
        date(2025, 11, 1),
    )
    assert full.spark_first == date(2025, 11, 1) and full.earlier_first == date(2025, 5, 1)
    partial = overview.windows_ending(date(2026, 10, 15), 3)  # October is not complete: it ends with September
    assert (partial.current_first, partial.end, partial.previous_first) == (
        date(2026, 7, 1),
        date(2026, 10, 1),
        date(2026, 4, 1),
    )
    assert partial.spark_first == date(2025, 10, 1)  # twelve months of lines
    assert W.caption().startswith("Apr 2025 against Mar 2025")


def test_every_card_against_the_hand_count(company: Engine) -> None:
    cards, _ = figures(company)
    expected = {
        "active": (3, 3),
        "retention": (200 / 3, 100 / 3),
        "churn": (50.0, 25.0),
        "reactivation": (50.0, 0.0),
        "nps": (100 / 3, -100.0),
        "csat": (50.0, 100.0),
        "fcr": (50.0, None),
        "revenue": (50.0, 130.0),
        "clv": (30.0, 130 / 6),
    }
    for key, (value, previous) in expected.items():
        assert cards[key]["value"] == pytest.approx(value), key
        assert cards[key]["previous"] == (pytest.approx(previous) if previous is not None else None), key
    assert (cards["nps"]["n"], cards["nps"]["previous_n"]) == (3, 1)
    assert (cards["fcr"]["n"], cards["fcr"]["previous_n"]) == (2, 0)
    lo, hi = cards["csat"]["lo"], cards["csat"]["hi"]
    assert lo < 50 < hi  # the Wilson interval of 1 of 2
    assert [c.key for c in overview.CARDS] == list(cards)


def test_month_by_month_lines(company: Engine) -> None:
    _, lines = figures(company)
    feb, mar, apr, jan = date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1), date(2025, 1, 1)
    assert min(lines["active"]) == date(2024, 5, 1) and max(lines["active"]) == apr  # twelve months
    assert [lines["active"][m] for m in (jan, feb, mar, apr)] == [0, 3, 3, 3]
    assert lines["retention"][feb] is None  # nobody was active in January
    assert lines["retention"][mar] == pytest.approx(100 / 3)
    assert lines["retention"][apr] == pytest.approx(200 / 3)
    assert [lines["churn"][m] for m in (jan, feb, mar, apr)] == pytest.approx([100.0, 0.0, 25.0, 50.0])
    assert [lines["reactivation"][m] for m in (feb, mar, apr)] == pytest.approx([100.0, 0.0, 50.0])
    assert lines["revenue"][mar] == 130.0 and lines["clv"][mar] == pytest.approx(130 / 6)
    assert lines["nps"][apr] == pytest.approx(100 / 3)


def test_customer_filters_apply(company: Engine) -> None:
    cards, _ = figures(company, Filters(segment=("B2C",)))
    # B2C: c1 c3 c4 c6. Active Apr c1 c3, Mar c1 c4; kept c1 -> 1 of 2
    assert (cards["active"]["value"], cards["active"]["previous"]) == (2, 2)
    assert cards["retention"]["value"] == pytest.approx(50.0)
    # churn April: c3, c4 of base 4 (c1 c3 c4 c6 signed up before 1 April, none cancelled) = 50 %
    assert cards["churn"]["value"] == pytest.approx(50.0)
    assert cards["reactivation"]["value"] is None  # no B2C customer had cancelled before April
    assert cards["revenue"]["value"] == 0.0 and cards["revenue"]["previous"] == 130.0


def test_the_stages_furthest_from_target_in_the_current_window(company: Engine) -> None:
    """April, stage a: CSAT 50 % (target 85, warn 75: off target, 3.5 bands below), FCR 50 % (target 80, warn 70:
    off target, 3 bands below), NPS 33.3 (target 30: on target). Stage b has no answers."""
    with store.connect(company) as conn:
        worst = overview.headline(conn, Filters(), W, 1)["worst"]
    assert worst.select("stage_id", "metric", "status").rows() == [("a", "csat", metrics.STATUS_BAD)]
    assert worst["gap"][0] == pytest.approx(3.5)
    assert worst["n"][0] == 2


def test_the_whole_overview_loads_side_by_side(company: Engine) -> None:
    got = overview.load(company, Filters(), W, 1)
    assert {"cards", "lines", "funnel", "worst", "unsubscribes", "complaints"} <= set(got)
    assert got["funnel"]["customers"].to_list() == [3, 0]  # stage a in April: c1 c2 c3; nobody reaches b
    assert got["cards"].height == len(overview.CARDS)


def test_worst_stages_are_ranked_by_status_then_distance() -> None:
    frame = pl.DataFrame(
        {
            "stage_id": ["w", "x", "y", "z"],
            "name": ["W", "X", "Y", "Z"],
            "csat": [90.0, 60.0, 70.0, 80.0],
            "csat_n": [50, 50, 50, 50],
            "csat_target": [85.0, 85.0, 85.0, 85.0],
            "csat_warn": [75.0, 75.0, 75.0, 75.0],
            "csat_status": [metrics.STATUS_GOOD, metrics.STATUS_BAD, metrics.STATUS_BAD, metrics.STATUS_WARN],
            "nps": [50.0, 0.0, 15.0, 12.0],
            "nps_n": [50, 50, 50, 50],
            "nps_target": [30.0, 30.0, 30.0, 30.0],
            "nps_warn": [10.0, 10.0, 10.0, 10.0],
            "nps_status": [metrics.STATUS_GOOD, metrics.STATUS_BAD, metrics.STATUS_WARN, metrics.STATUS_WARN],
        }
    )
    worst = overview.worst_stages(frame, 3)
    # x: CSAT 2.5 bands and NPS 1.5 bands below target, both off -> its worst, CSAT; y: CSAT off, 1.5 bands;
    # z: only watch (CSAT 0.5, NPS 0.9 bands) -> NPS; w is on target
    assert worst.select("stage_id", "metric").rows() == [("x", "csat"), ("y", "csat"), ("z", "nps")]
    assert worst["gap"].to_list() == pytest.approx([2.5, 1.5, 0.9])
