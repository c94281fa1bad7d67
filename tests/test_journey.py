"""The journey map's live lanes against a hand count on the tiny company (tests/conftest.py), on every store.

March 2025, funnel a -> b (both in_funnel), plus one event: c1 reaches b on 4 March 00:00.
Stage a: customers c1, c2 = 2; c1 goes on to b 2 days 14 hours after entering a (1 March 10:00) -> conversion
1 of 2 = 50 %, drop-off 50 %, days to next 2.583; CSAT 60 % (n 5), NPS 0 (n 5), FCR 1 of 3 = 33.3 %; 4 tickets
opened at a -> 200 per 100 customers; emotion = mean CSAT score (5 + 4 + 3 + 2 + 5) / 5 = 3.8.
FCR, 2nd line at a: t2 only (two contacts) -> 0 of 1 = 0 %.
Stage b: customers c3 (5 March) and c1 = 2, no tickets -> 0 per 100; the last funnel step has no conversion.
Targets: CSAT * 80/70 (60: off target), NPS * 30/-10 (0: watch), conversion at a 60/45 (50: watch) and drop-off
mirrored from it (target 40, warn 55: 50 is watch); FCR and the rest have none.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from data_access import metrics
from data_access.filters import Filters, Period
from data_access.queries import journey
from tests.conftest import put

MARCH = Filters(period=Period.parse("2025-03-01", "2025-03-31"))


@pytest.fixture
def mapped(tiny: Engine) -> Engine:
    put(
        tiny,
        journey_events=[{"event_id": "e9", "customer_id": "c1", "stage_id": "b", "occurred_at": datetime(2025, 3, 4)}],
        kpi_targets=[{"stage_id": "a", "metric": "conversion", "target": 60.0, "warn": 45.0}],
        journey_map=[
            {"map": "Current", "stage_id": "a", "lane": "pains", "text": "Too many steps"},
            {"map": "Current", "stage_id": "b", "lane": "actions", "text": "Buys"},
            {"map": "Ideal", "stage_id": "a", "lane": "pains", "text": "None"},
        ],
    )
    return tiny


def cells(engine: Engine) -> dict[tuple[str, str], dict]:
    frame = journey.live_lanes(engine, MARCH, 1)
    return {(r["stage_id"], r["lane"]): r for r in frame.iter_rows(named=True)}


def test_every_live_lane_against_the_hand_count(mapped: Engine) -> None:
    got = cells(mapped)
    expected = {
        ("a", "customers"): (2, 2),
        ("a", "conversion"): (50.0, 2),
        ("a", "dropoff"): (50.0, 2),
        ("a", "days_to_next"): (2 + 14 / 24, 1),
        ("a", "csat"): (60.0, 5),
        ("a", "nps"): (0.0, 5),
        ("a", "fcr"): (100 / 3, 3),
        ("a", "tickets_per_100"): (200.0, 2),
        ("a", "emotion"): (3.8, 5),
        ("a", "fcr_line_2"): (0.0, 1),
        ("b", "customers"): (2, 2),
        ("b", "tickets_per_100"): (0.0, 2),
    }
    for key, (value, n) in expected.items():
        assert got[key]["value"] == pytest.approx(value), key
        assert got[key]["n"] == n, key
    assert ("b", "conversion") not in got  # the last funnel step leads nowhere
    assert ("c", "conversion") not in got  # c is not a funnel step
    assert ("b", "fcr_line_2") not in got  # no 2nd-line tickets at b


def test_the_second_line_takes_the_fcr_target_unless_it_has_its_own(mapped: Engine) -> None:
    put(mapped, kpi_targets=[{"stage_id": "*", "metric": "fcr", "target": 75.0, "warn": 65.0}])
    line = cells(mapped)[("a", "fcr_line_2")]
    assert (line["target"], line["warn"], line["status"]) == (75.0, 65.0, metrics.STATUS_BAD)
    put(mapped, kpi_targets=[{"stage_id": "a", "metric": "fcr_line_2", "target": 0.0, "warn": -1.0}])
    line = cells(mapped)[("a", "fcr_line_2")]
    assert (line["target"], line["warn"], line["status"]) == (0.0, -1.0, metrics.STATUS_GOOD)


def test_colours_come_from_the_targets(mapped: Engine) -> None:
    got = cells(mapped)
    assert got[("a", "csat")]["status"] == metrics.STATUS_BAD
    assert got[("a", "nps")]["status"] == metrics.STATUS_WARN
    assert got[("a", "conversion")]["status"] == metrics.STATUS_WARN
    assert (got[("a", "dropoff")]["target"], got[("a", "dropoff")]["warn"]) == (40.0, 55.0)
    assert got[("a", "dropoff")]["status"] == metrics.STATUS_WARN
    assert got[("a", "fcr")]["status"] == metrics.STATUS_NO_TARGET
    assert got[("a", "customers")]["status"] == metrics.STATUS_NO_TARGET  # never coloured
    # with a minimum of 10 answers the same cells are not judged
    strict = journey.live_lanes(mapped, MARCH, 10).filter(pl.col("lane") == "csat", pl.col("stage_id") == "a")
    assert strict["status"][0] == metrics.STATUS_NO_DATA


def test_maps_and_their_cells(mapped: Engine) -> None:
    from data_access import store

    with store.connect(mapped) as conn:
        assert journey.map_names(conn) == ["Current", "Ideal"]
        current = journey.map_cells(conn, "Current")
    assert sorted(current.rows()) == [("a", "pains", "Too many steps"), ("b", "actions", "Buys")]
