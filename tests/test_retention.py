"""Retention cohorts against a hand count, on every store.

r1 signs up 10 Jan (events 12 Jan and 5 Mar, an order 20 Feb), r2 on 20 Jan (an event 21 Jan), r3 on 1 Feb (an
event 2 Feb, an order 1 Apr), r4 on 15 Feb (nothing). The data ends in April.
January cohort (2): active in Jan 2, Feb 1, Mar 1, Apr 0. February cohort (2): Feb 1, Mar 0, Apr 1.
"Or later": January 2, 1, 1, 0; February 1, 1, 1 (r3 is last seen in April).
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from sqlalchemy.engine import Engine

from data_access import store
from data_access.filters import Filters, Period
from data_access.queries import retention
from tests.conftest import put


@pytest.fixture
def cohorts(engine: Engine) -> Engine:
    def when(text: str) -> datetime:
        return datetime.fromisoformat(text)

    put(
        engine,
        stages=[{"stage_id": "a", "name": "A", "position": 1, "in_funnel": True}],
        customers=[
            {"customer_id": c, "signup_at": when(d), "segment": seg, "channel": "web", "region": "EU", "plan": "p"}
            for c, d, seg in (
                ("r1", "2025-01-10", "B2C"),
                ("r2", "2025-01-20", "B2B"),
                ("r3", "2025-02-01", "B2C"),
                ("r4", "2025-02-15", "B2C"),
            )
        ],
        journey_events=[
            {"event_id": f"e{i}", "customer_id": c, "stage_id": "a", "occurred_at": when(d)}
            for i, (c, d) in enumerate(
                (("r1", "2025-01-12"), ("r1", "2025-03-05"), ("r2", "2025-01-21"), ("r3", "2025-02-02"))
            )
        ],
        orders=[
            {"order_id": "o1", "customer_id": "r1", "ordered_at": when("2025-02-20"), "amount": 10.0},
            {"order_id": "o2", "customer_id": "r3", "ordered_at": when("2025-04-01"), "amount": 10.0},
        ],
    )
    return engine


def table(engine: Engine, **kw: object) -> list[tuple]:
    with store.connect(engine) as conn:
        return retention.cohorts(conn, Filters(), **kw).rows()


def test_active_in_each_month(cohorts: Engine) -> None:
    assert table(cohorts) == [
        (date(2025, 1, 1), 0, 2, 2, 100.0),
        (date(2025, 1, 1), 1, 2, 1, 50.0),
        (date(2025, 1, 1), 2, 2, 1, 50.0),
        (date(2025, 1, 1), 3, 2, 0, 0.0),
        (date(2025, 2, 1), 0, 2, 1, 50.0),
        (date(2025, 2, 1), 1, 2, 0, 0.0),
        (date(2025, 2, 1), 2, 2, 1, 50.0),
    ]


def test_active_in_that_month_or_later(cohorts: Engine) -> None:
    assert [(c.month, age, active) for c, age, _n, active, _r in table(cohorts, mode="or_later")] == [
        (1, 0, 2),
        (1, 1, 1),
        (1, 2, 1),
        (1, 3, 0),
        (2, 0, 1),
        (2, 1, 1),
        (2, 2, 1),
    ]


def test_weekly_cohorts_start_on_monday_and_filters_pick_cohorts(cohorts: Engine) -> None:
    weekly = table(cohorts, grain="week")
    assert weekly[0][:4] == (date(2025, 1, 6), 0, 1, 1)  # r1 alone: Friday 10 Jan is in the week of Monday 6 Jan
    with store.connect(cohorts) as conn:
        january = retention.cohorts(conn, Filters(period=Period.parse("2025-01-01", "2025-01-31")))
        b2c = retention.cohorts(conn, Filters(segment=("B2C",)), by="segment")
    assert set(january["cohort"].to_list()) == {date(2025, 1, 1)}
    curve = retention.curves(b2c, "segment")
    with store.connect(cohorts) as conn:
        by_segment = retention.cohorts(conn, Filters(), by="segment")
    assert retention.overall(by_segment).rows() == table(cohorts)  # the groups add up to the whole
    # B2C: January cohort r1 (1), February r3 and r4 (2): age 1 -> (1 + 0) / 3
    assert curve.filter(curve["age"] == 1)["retention"].to_list() == [pytest.approx(100 / 3)]


def test_retention_command_line(cohorts: Engine, store_url: str) -> None:
    from tests.test_cli import cli

    done = cli("retention", "--db", store_url, "--period", "month", "--to", "2025-01-31", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert list(rows[0]) == list(retention.CLI_COLUMNS)
    assert [(r["cohort"], r["age"], r["active"], r["retention"]) for r in rows] == [
        ("2025-01-01", 0, 2, 100.0),
        ("2025-01-01", 1, 1, 50.0),
        ("2025-01-01", 2, 1, 50.0),
        ("2025-01-01", 3, 0, 0.0),
    ]
    bad = cli("retention", "--db", store_url, "--period", "year")
    assert bad.returncode == 2


def test_revenue_per_customer_and_repeat_purchases(cohorts: Engine) -> None:
    put(cohorts, orders=[{"order_id": "o3", "customer_id": "r1", "ordered_at": datetime(2025, 3, 10), "amount": 5.0}])
    with store.connect(cohorts) as conn:
        value = retention.revenue(conn, Filters())
        repeat = retention.repeat_purchase(conn, Filters())
        by_segment = retention.repeat_purchase(conn, Filters(), by="segment")
    january = value.filter(value["cohort"] == date(2025, 1, 1))
    # January (2 customers): 10 in February, 5 in March -> 0, 5, 7.5, 7.5 per customer
    assert january["revenue"].to_list() == [0.0, 10.0, 5.0, 0.0]
    assert january["value_per_customer"].to_list() == [0.0, 5.0, 7.5, 7.5]
    february = value.filter(value["cohort"] == date(2025, 2, 1))
    assert february["value_per_customer"].to_list() == [0.0, 0.0, 5.0]  # r3's 10 in April, over 2 customers
    assert repeat.rows() == [(2, 1, 50.0)]  # r1 ordered twice, r3 once
    assert by_segment.sort("segment").rows() == [("B2C", 2, 1, 50.0)]
    with store.connect(cohorts) as conn:
        curve = retention.value_curves(retention.revenue(conn, Filters(), by="segment"), "segment")
    b2c = curve.filter(curve["segment"] == "B2C")
    # age 1: r1 has spent 10 (January B2C cohort of 1), r3 and r4 nothing yet (February cohort of 2) -> 10 / 3
    assert b2c.filter(b2c["age"] == 1)["value_per_customer"].to_list() == [pytest.approx(10 / 3)]


def test_churn_and_reactivation_by_month(engine: Engine) -> None:
    """c1, c2, c3 sign up in January; c1 cancels 10 Feb and comes back 5 Mar; c2 cancels 20 Mar; c3 stays.
    February: 1 of 3 churns (33.3%); March: 1 of 2 (50%), and c1 of the 1 churned before March is back (100%)."""
    put(
        engine,
        stages=[{"stage_id": "a", "name": "A", "position": 1, "in_funnel": True}],
        customers=[
            {
                "customer_id": c,
                "signup_at": datetime(2025, 1, 5),
                "segment": "B2C",
                "channel": "web",
                "region": "EU",
                "plan": "p",
                "churned_at": churned,
            }
            for c, churned in (("c1", datetime(2025, 2, 10)), ("c2", datetime(2025, 3, 20)), ("c3", None))
        ],
        journey_events=[
            {"event_id": "e1", "customer_id": "c1", "stage_id": "a", "occurred_at": datetime(2025, 3, 5)},
            {"event_id": "e2", "customer_id": "c2", "stage_id": "a", "occurred_at": datetime(2025, 3, 1)},
            {"event_id": "e3", "customer_id": "c3", "stage_id": "a", "occurred_at": datetime(2025, 4, 2)},
        ],
    )
    with store.connect(engine) as conn:
        frame = retention.churn_over_time(conn, Filters())
    rows = {r["period"].month: r for r in frame.iter_rows(named=True)}
    assert sorted(rows) == [1, 2, 3, 4]
    assert (rows[1]["base"], rows[1]["churn_rate"]) == (0, None)  # nobody had signed up before January
    assert (rows[2]["base"], rows[2]["churned"], rows[2]["churn_rate"]) == (3, 1, pytest.approx(100 / 3))
    assert (rows[3]["base"], rows[3]["churned"], rows[3]["churn_rate"]) == (2, 1, 50.0)
    assert (rows[3]["churned_before"], rows[3]["reactivated"], rows[3]["reactivation_rate"]) == (1, 1, 100.0)
    assert (rows[4]["churned_before"], rows[4]["reactivated"], rows[4]["reactivation_rate"]) == (2, 0, 0.0)


def test_month_bits_and_the_plain_join_agree(cohorts: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Monthly "active in" counts come from month bits; past MONTH_BITS months of data a distinct (customer, month)
    join takes over. Both give the hand count."""
    by_bits = table(cohorts)
    monkeypatch.setattr(retention, "MONTH_BITS", 0)
    assert table(cohorts) == by_bits
    with store.connect(cohorts) as conn:
        grouped = retention.cohorts(conn, Filters(), by="segment")
    monkeypatch.undo()
    with store.connect(cohorts) as conn:
        assert retention.cohorts(conn, Filters(), by="segment").rows() == grouped.rows()
