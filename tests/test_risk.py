"""Churn early warning on hand-made customers, on every store. As of 30 June 2025 00:00, window 30 days: the last
window is 31 May - 30 June, the one before 1 - 31 May.

a1: 4 events in May, 1 in June (at stage b) -> activity decline (1 < half of 4): score 3.
a2: 2 and 2 events, an NPS 5 on 10 June -> detractor: score 2.
a3: a ticket rated 1 on 1 June, and a ticket opened 1 May still open -> low rating and unresolved: score 4.
a4: declines like a1 but cancelled on 15 June -> not listed. a5: 1 and 1 events, an NPS 9 -> not listed.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from data_access import store
from data_access.filters import Filters
from data_access.queries import risk
from tests.conftest import put

AS_OF = datetime(2025, 6, 30)


@pytest.fixture
def watched(engine: Engine) -> Engine:
    def events(customer: str, days: list[str]) -> list[dict[str, object]]:
        return [
            {
                "event_id": f"{customer}-{i}",
                "customer_id": customer,
                "stage_id": "a",
                "occurred_at": datetime.fromisoformat(d),
            }
            for i, d in enumerate(days)
        ]

    may4 = ["2025-05-05", "2025-05-10", "2025-05-15", "2025-05-20"]
    put(
        engine,
        stages=[
            {"stage_id": "a", "name": "A", "position": 1, "in_funnel": True},
            {"stage_id": "b", "name": "B", "position": 2, "in_funnel": True},
        ],
        customers=[
            {
                "customer_id": c,
                "signup_at": datetime(2025, 1, 1),
                "segment": "B2C",
                "channel": "web",
                "region": "EU",
                "plan": "p",
                "churned_at": datetime(2025, 6, 15) if c == "a4" else None,
            }
            for c in ("a1", "a2", "a3", "a4", "a5")
        ],
        journey_events=[
            e | {"stage_id": "b"} if e["occurred_at"] == datetime(2025, 6, 10) else e
            for e in events("a1", [*may4, "2025-06-10"])
        ]
        + events("a2", ["2025-05-05", "2025-05-06", "2025-06-05", "2025-06-06"])
        + events("a4", [*may4, "2025-06-10"])
        + events("a5", ["2025-05-05", "2025-06-05"]),
        survey_responses=[
            {
                "response_id": "n1",
                "customer_id": "a2",
                "stage_id": "a",
                "survey": "nps",
                "score": 5,
                "responded_at": datetime(2025, 6, 10),
            },
            {
                "response_id": "n2",
                "customer_id": "a5",
                "stage_id": "a",
                "survey": "nps",
                "score": 9,
                "responded_at": datetime(2025, 6, 10),
            },
        ],
        tickets=[
            {
                "ticket_id": "k1",
                "customer_id": "a3",
                "stage_id": "a",
                "opened_at": datetime(2025, 6, 1),
                "resolved_at": datetime(2025, 6, 2),
                "entry_channel": "chat",
                "final_line": 1,
                "bot_resolved": False,
                "contacts": 1,
                "reopened": False,
                "category": "other",
                "csat": 1,
            },
            {
                "ticket_id": "k2",
                "customer_id": "a3",
                "stage_id": "a",
                "opened_at": datetime(2025, 5, 1),
                "entry_channel": "chat",
                "final_line": 2,
                "bot_resolved": False,
                "contacts": 1,
                "reopened": False,
                "category": "financial",
            },
        ],
    )
    return engine


def test_triggers_score_and_reasons(watched: Engine) -> None:
    with store.connect(watched) as conn:
        frame = risk.at_risk(conn, Filters(), AS_OF)
    assert frame.select("customer_id", "score", "reasons").rows() == [
        ("a3", 4, "low ticket rating; unresolved or reopened ticket"),
        ("a1", 3, "activity decline"),
        ("a2", 2, "detractor"),
    ]


def test_the_stage_each_customer_is_in(watched: Engine) -> None:
    """The stage of the latest journey event in the last two windows: a1 moved on to b in June, a2 is at a, a3
    has no journey event at all."""
    with store.connect(watched) as conn:
        frame = risk.at_risk(conn, Filters(), AS_OF)
    assert dict(frame.select("customer_id", "stage_id").iter_rows()) == {"a1": "b", "a2": "a", "a3": None}
    clusters = risk.where_alerts_cluster(frame.with_columns(pl.col("stage_id").fill_null("none")), "stage_id")
    by_stage = {r["stage_id"]: r for r in clusters.rows(named=True)}
    assert by_stage["none"] == {
        "stage_id": "none",
        "activity decline": 0,
        "detractor": 0,
        "low ticket rating": 1,
        "unresolved or reopened ticket": 1,
        "customers at risk": 1,
    }
    assert (by_stage["b"]["activity decline"], by_stage["a"]["detractor"]) == (1, 1)


def test_thresholds_change_the_list(watched: Engine) -> None:
    with store.connect(watched) as conn:
        stricter = risk.at_risk(conn, Filters(), AS_OF, risk.Triggers(decline_share=0.2))  # 1 < 0.8? no
        later = risk.at_risk(conn, Filters(), datetime(2025, 5, 1, 12))  # before the tickets and the answers
    assert "a1" not in stricter["customer_id"].to_list()
    assert later["customer_id"].to_list() == ["a3"]  # k2 was opened at midnight and is unresolved


def test_at_risk_command_line(watched: Engine, store_url: str) -> None:
    import json

    from tests.test_cli import cli

    done = cli("at-risk", "--db", store_url, "--as-of", "2025-06-29", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert list(rows[0]) == list(risk.CLI_COLUMNS)
    assert [(r["customer_id"], r["score"]) for r in rows] == [("a3", 4), ("a1", 3), ("a2", 2)]


def test_unsubscribe_spike_after_a_business_event(engine: Engine) -> None:
    price = datetime(2025, 6, 1)
    put(
        engine,
        stages=[{"stage_id": "a", "name": "A", "position": 1, "in_funnel": True}],
        customers=[
            {
                "customer_id": f"u{i}",
                "signup_at": datetime(2025, 1, 1),
                "segment": "B2C" if i < 8 else "B2B",
                "channel": "web",
                "region": "EU",
                "plan": "p",
            }
            for i in range(10)
        ],
        journey_events=[
            {
                "event_id": f"x{i}",
                "customer_id": f"u{i}",
                "stage_id": "a",
                "action": "unsubscribe",
                "occurred_at": datetime(2025, 6, 2 + i),
            }
            for i in range(6)  # six B2C unsubscribes in the two weeks after
        ]
        + [
            {
                "event_id": "y1",
                "customer_id": "u6",
                "stage_id": "a",
                "action": "unsubscribe",
                "occurred_at": datetime(2025, 5, 25),
            },  # one before
            {
                "event_id": "y2",
                "customer_id": "u8",
                "stage_id": "a",
                "action": "unsubscribe",
                "occurred_at": datetime(2025, 6, 3),
            },  # one B2B after: no spike
        ],
        business_events=[{"occurred_at": price, "name": "Price change", "segment": "B2C"}],
    )
    with store.connect(engine) as conn:
        spikes = risk.unsubscribe_spikes(conn, Filters())
        strict = risk.unsubscribe_spikes(conn, Filters(), ratio=6.0)
    assert spikes.select("event", "segment", "before", "after", "event_targets_segment").rows() == [
        ("Price change", "B2C", 1, 6, True)
    ]
    assert strict.height == 0  # 6 is not more than 6 x 1
