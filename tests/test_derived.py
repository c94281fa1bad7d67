"""Derived tables: ``stage_customers`` counts each stage's customers like the raw events do, on hand-made data
around a period's edges, on every store; every derived table is rebuilt by a load and read only while current."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import schema, store
from data_access.filters import Filters, Period
from data_access.loading import ingest
from data_access.queries import funnel, kpis
from data_access.store import derived
from tests.conftest import put

FEB = Period.parse("2025-02-01", "2025-02-28")  # [Feb 1, Mar 1)
# customer -> (segment, event times at stage s)
PEOPLE = {
    "k1": ("A", [datetime(2025, 1, 5)]),  # before February only
    "k2": ("A", [datetime(2025, 1, 1), datetime(2025, 3, 1)]),  # spans February, no event in it
    "k3": ("A", [datetime(2025, 1, 1), datetime(2025, 2, 10), datetime(2025, 3, 1)]),  # spans it, one inside
    "k4": ("B", [datetime(2025, 2, 28, 23, 59, 59, 500_000)]),  # half a second before the end
    "k5": ("B", [datetime(2025, 3, 1)]),  # exactly at the (exclusive) end
    "k6": ("B", [datetime(2025, 1, 31), datetime(2025, 2, 1)]),  # the last event exactly at the start
}


@pytest.fixture
def visits(engine: Engine) -> Engine:
    put(
        engine,
        stages=[
            {"stage_id": "s", "name": "S", "position": 1, "in_funnel": True},
            {"stage_id": "t", "name": "T", "position": 2, "in_funnel": True},
        ],
        customers=[
            {
                "customer_id": c,
                "signup_at": datetime(2024, 12, 1),
                "segment": seg,
                "channel": "web",
                "region": "EU",
                "plan": "p",
            }
            for c, (seg, _) in PEOPLE.items()
        ],
        journey_events=[
            {"event_id": f"{c}-{i}", "customer_id": c, "stage_id": "s", "occurred_at": when}
            for c, (_, times) in PEOPLE.items()
            for i, when in enumerate(times)
        ]
        + [{"event_id": "k1-t", "customer_id": "k1", "stage_id": "t", "occurred_at": datetime(2025, 2, 3)}],
    )
    return engine


def customers_at(engine: Engine, filters: Filters, *, stored: bool) -> dict[str, int]:
    with store.connect(engine) as conn:
        within = kpis.stored_period(conn, filters) if stored else False
        assert within is not None
        rows = conn.execute(kpis.customers_per_stage_query(filters, stored=within)).all()
    return {str(stage): int(n) for stage, n in rows}


# case -> (filters, customers per stage, whether the stored table is read: not where a customer's events at a stage
# begin before the period and end after it, as k2's and k3's do around a half of February, unless the period is
# whole months, which the months each customer was at a stage answer)
FEB_HALF = Period.parse("2025-02-01", "2025-02-14")
CASES = {
    "February": (Filters(period=FEB), {"s": 3, "t": 1}, True),  # k3 (its Feb 10), k4, k6 (Feb 1 00:00); k1 at t
    "February, segment A": (Filters(period=FEB, segment=("A",)), {"s": 1, "t": 1}, True),  # k3
    "January and February": (
        Filters(period=Period.parse("2025-01-01", "2025-02-28")),
        {"s": 5, "t": 1},
        True,
    ),  # not k5
    "half of February": (Filters(period=FEB_HALF), {"s": 2, "t": 1}, False),  # k3 (Feb 10), k6 (Feb 1); k1 at t
    "half of February, segment A": (Filters(period=FEB_HALF, segment=("A",)), {"s": 1, "t": 1}, False),  # k3
    "February and March": (Filters(period=Period.parse("2025-02-01", "2025-03-31")), {"s": 5, "t": 1}, True),
    "to an inclusive instant": (  # the end instant itself counts: k2's and k5's March 1 too
        Filters(period=Period.parse("2025-02-01", "2025-03-01T00:00:00")),
        {"s": 5, "t": 1},
        True,
    ),
    "from February on": (Filters(period=Period.parse("2025-02-01", None)), {"s": 5, "t": 1}, True),
    "up to January": (Filters(period=Period.parse(None, "2025-01-31")), {"s": 4}, True),  # k1, k2, k3, k6
    "all time": (Filters(), {"s": 6, "t": 1}, True),
    "all time, segment B": (Filters(segment=("B",)), {"s": 3}, True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_stage_customers_count_like_the_events(visits: Engine, case: str) -> None:
    filters, expected, readable = CASES[case]
    with store.connect(visits) as conn:
        assert kpis.stage_customers_stored(conn, filters) is readable
    assert customers_at(visits, filters, stored=False) == expected
    if readable:
        assert customers_at(visits, filters, stored=True) == expected
    with store.connect(visits) as conn:  # what the Stage KPIs read, whichever way
        frame = kpis.stage_kpis_on(conn, filters)
    assert {k: v for k, v in frame.select("stage_id", "customers").iter_rows() if v} == expected


def test_derived_tables_are_read_only_while_current(visits: Engine) -> None:
    spec = funnel.FunnelSpec(("s", "t"))
    with store.connect(visits) as conn:
        assert kpis.stage_customers_stored(conn, Filters()) and funnel.attempts_stored(conn, spec, Filters(period=FEB))
    with store.connect(visits, write=True) as conn:  # written by another tool, past ingestion
        conn.execute(
            schema.journey_events.insert().values(
                event_id="x", customer_id="k2", stage_id="s", occurred_at=datetime(2025, 2, 14)
            )
        )
    with store.connect(visits) as conn:
        assert not kpis.stage_customers_stored(conn, Filters())
        assert not funnel.attempts_stored(conn, spec, Filters(period=FEB))
        frame = kpis.stage_kpis_on(conn, Filters())
    assert dict(frame.select("stage_id", "customers").iter_rows())["s"] == 6  # from the events
    with store.connect(visits, write=True) as conn:
        # an attempt per event at s (11 with the new one); a row per stage and customer (6 at s, k1 at t)
        assert ingest.refresh_derived(conn) == {"funnel_attempts": 11, "stage_customers": 7, "customer_activity": 6}
    with store.connect(visits) as conn:
        assert kpis.stage_customers_stored(conn, Filters()) and funnel.attempts_stored(conn, spec, Filters(period=FEB))
    assert customers_at(visits, Filters(period=FEB), stored=False) == {"s": 4, "t": 1}  # k2 now counts


def test_a_stage_list_change_rebuilds_the_funnel_for_the_new_steps(visits: Engine) -> None:
    put(visits, stages=[{"stage_id": "t", "name": "T", "position": 2, "in_funnel": False}])
    with store.connect(visits) as conn:  # one funnel stage left: no default funnel, nothing stored for the old one
        assert not funnel.attempts_stored(conn, funnel.FunnelSpec(("s", "t")), Filters())
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.funnel_attempts)).scalar_one() == 0
        assert kpis.stage_customers_stored(conn, Filters())


def test_events_over_more_than_62_months_leave_the_months_empty(engine: Engine) -> None:
    put(
        engine,
        stages=[{"stage_id": "s", "name": "S", "position": 1, "in_funnel": True}],
        customers=[
            {
                "customer_id": "k",
                "signup_at": datetime(2019, 12, 1),
                "segment": "A",
                "channel": "web",
                "region": "EU",
                "plan": "p",
            }
        ],
        journey_events=[
            {"event_id": "e1", "customer_id": "k", "stage_id": "s", "occurred_at": datetime(2020, 1, 5)},
            {
                "event_id": "e2",
                "customer_id": "k",
                "stage_id": "s",
                "occurred_at": datetime(2026, 1, 5),
            },  # 72 months on
        ],
    )
    between = Filters(period=Period.parse("2023-01-01", "2023-12-31"))  # whole months, with k's events around them
    with store.connect(engine) as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).where(schema.stage_customers.c.months.is_not(None))).scalar() == 0
        )
        assert kpis.stored_period(conn, between) is None  # only the events can tell
        assert kpis.stage_kpis_on(conn, between)["customers"].to_list() == [0]
        assert kpis.stage_kpis_on(conn, Filters(period=Period.parse("2026-01-01", "2026-01-31")))[
            "customers"
        ].to_list() == [1]


DERIVED = (schema.funnel_attempts, schema.stage_customers, schema.customer_activity)


def _rows(engine: Engine, table: sa.Table) -> list[tuple]:
    with store.connect(engine) as conn:
        rows = conn.execute(sa.select(*table.c)).all()
    return sorted((tuple(r) for r in rows), key=repr)


def test_the_derived_tables_built_a_range_of_customers_at_a_time_are_the_same(
    visits: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = {t.name: _rows(visits, t) for t in DERIVED}
    assert len(whole["funnel_attempts"]) == 10
    monkeypatch.setattr(derived, "CHUNK_EVENTS", 4)  # 12 events: three ranges of two customers
    with store.connect(visits, write=True) as conn:
        ranges = derived.customer_ranges(conn)
        assert len(ranges) == 3
        key = schema.customers.c.customer_id
        counts = [
            conn.execute(sa.select(sa.func.count()).select_from(schema.customers).where(r.on(key))).scalar_one()
            for r in ranges
        ]
        assert counts == [2, 2, 2]  # every customer in exactly one range
        assert ingest.refresh_derived(conn) == {"funnel_attempts": 10, "stage_customers": 7, "customer_activity": 6}
    assert {t.name: _rows(visits, t) for t in DERIVED} == whole
    assert customers_at(visits, Filters(period=FEB), stored=True) == {"s": 3, "t": 1}  # as in CASES
