"""Each customer's months of activity, stored (``customer_activity``): the months worked out by hand, Retention's
monthly cohorts and the Overview's activity the same from the table as from the raw events and orders, on every
store; an orders load rebuilds the table and an order written past ingestion sends the pages back to the raw rows."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal
from sqlalchemy.engine import Engine

from data_access import schema, store
from data_access.filters import Filters, Period
from data_access.loading import ingest
from data_access.queries import activity, overview, retention, review
from data_access.store.dialect import MONTH_BITS, add_months, months_between
from tests.conftest import put

ORIGIN = add_months(date(2025, 4, 1), 1 - MONTH_BITS)  # the data's last month (April 2025) is the last bit


def person(customer: str, segment: str, signup: datetime, churned: datetime | None = None) -> dict[str, object]:
    return {
        "customer_id": customer,
        "signup_at": signup,
        "churned_at": churned,
        "segment": segment,
        "channel": "web",
        "region": "EU",
        "plan": "p",
    }


def event(customer: str, when: datetime) -> dict[str, object]:
    return {"event_id": f"{customer}-{when:%m%d}", "customer_id": customer, "stage_id": "s", "occurred_at": when}


def order(customer: str, when: datetime) -> dict[str, object]:
    return {"order_id": f"{customer}-{when:%m%d}", "customer_id": customer, "ordered_at": when, "amount": 10.0}


@pytest.fixture
def shop(engine: Engine) -> Engine:
    """a1 and a2 (B2C) signed up in January, b1 and b2 (B2B) in February. a1: events in January and March, churned
    on February 1 (so back in March); a2: an order in February; b1: an event in February and an order in April at
    the very instant of their churn (not after it); b2: nothing."""
    put(
        engine,
        stages=[{"stage_id": "s", "name": "S", "position": 1, "in_funnel": True}],
        customers=[
            person("a1", "B2C", datetime(2025, 1, 10), datetime(2025, 2, 1)),
            person("a2", "B2C", datetime(2025, 1, 20)),
            person("b1", "B2B", datetime(2025, 2, 3), datetime(2025, 4, 1)),
            person("b2", "B2B", datetime(2025, 2, 10)),
        ],
        journey_events=[
            event("a1", datetime(2025, 1, 15)),
            event("a1", datetime(2025, 3, 2)),
            event("b1", datetime(2025, 2, 4)),
        ],
        orders=[order("a2", datetime(2025, 2, 5)), order("b1", datetime(2025, 4, 1))],
    )
    return engine


def bits(*months: date) -> int:
    return sum(1 << months_between(ORIGIN, m) for m in months)


def stored_months(engine: Engine, column: str = "months") -> dict[str, tuple[int, str]]:
    ca = schema.customer_activity.c
    with store.connect(engine) as conn:
        rows = conn.execute(sa.select(ca.customer_id, ca[column], ca.customer_segment)).all()
    return {str(r[0]): (int(r[1]), str(r[2])) for r in rows}


def cohorts(engine: Engine, filters: Filters) -> pl.DataFrame:
    with store.connect(engine) as conn:
        return retention.cohorts(conn, filters, "month", by="segment")


def test_each_customers_months_by_hand(shop: Engine) -> None:
    jan, feb, mar, apr = (date(2025, m, 1) for m in (1, 2, 3, 4))
    assert stored_months(shop) == {
        "a1": (bits(jan, mar), "B2C"),
        "a2": (bits(feb), "B2C"),
        "b1": (bits(feb, apr), "B2B"),
    }  # b2 has no row: no event, no order
    with store.connect(shop) as conn:
        assert activity.stored_origin(conn, jan, date(2025, 5, 1)) == ORIGIN
        assert activity.stored_origin(conn, add_months(ORIGIN, -1), date(2025, 5, 1)) is None  # before its months


def test_retentions_cohorts_from_the_table_and_from_the_rows(shop: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = cohorts(shop, Filters())
    active = {(r["segment"], r["cohort"], r["age"]): r["active"] for r in stored.iter_rows(named=True)}
    assert active == {
        ("B2C", date(2025, 1, 1), 0): 1,  # a1
        ("B2C", date(2025, 1, 1), 1): 1,  # a2's order
        ("B2C", date(2025, 1, 1), 2): 1,  # a1
        ("B2C", date(2025, 1, 1), 3): 0,
        ("B2B", date(2025, 2, 1), 0): 1,  # b1
        ("B2B", date(2025, 2, 1), 1): 0,
        ("B2B", date(2025, 2, 1), 2): 1,  # b1's order
    }
    assert set(stored["cohort_size"]) == {2}
    b2b = cohorts(shop, Filters(segment=("B2B",), period=Period.parse("2025-02-01", "2025-02-28")))
    monkeypatch.setattr(activity, "stored_origin", lambda *a: None)  # the raw events and orders
    assert_frame_equal(cohorts(shop, Filters()), stored)
    assert_frame_equal(cohorts(shop, Filters(segment=("B2B",), period=Period.parse("2025-02-01", "2025-02-28"))), b2b)
    assert b2b["active"].to_list() == [1, 0, 1]


def test_the_overviews_activity_from_the_table_and_from_the_rows(shop: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    w = overview.windows_ending(date(2025, 4, 30), 1)  # April against March; the lines from May 2024

    def presence(filters: Filters) -> tuple[pl.DataFrame, dict[str, int]]:
        with store.connect(shop) as conn:
            return overview._presence(conn, *overview._activity_masks(conn, filters, w), w)

    with store.connect(shop) as conn:
        assert activity.stored_origin(conn, w.scan_first, w.end) == ORIGIN
    stored = {f: presence(f) for f in (Filters(), Filters(segment=("B2C",)))}
    lines, windows = stored[Filters()]
    assert windows == {"current": 1, "previous": 1, "earlier": 2, "kept": 0, "kept_before": 0}  # b1; a1; a2, b1
    by_month = {r["month"]: (r["present"], r["before"], r["kept"]) for r in lines.iter_rows(named=True)}
    assert by_month[date(2025, 2, 1)] == (2, 1, 0)  # a2 and b1; a1 in January
    assert by_month[date(2025, 3, 1)] == (1, 2, 0)
    assert stored[Filters(segment=("B2C",))][1]["earlier"] == 1  # a2
    monkeypatch.setattr(activity, "stored_origin", lambda *a: None)
    for filters, (frame, figures) in stored.items():
        raw_frame, raw_figures = presence(filters)
        assert_frame_equal(raw_frame, frame)
        assert raw_figures == figures


def test_an_orders_load_rebuilds_the_table_and_an_order_past_it_is_read_raw(shop: Engine) -> None:
    put(shop, orders=[order("b2", datetime(2025, 3, 9))])
    assert stored_months(shop)["b2"] == (bits(date(2025, 3, 1)), "B2B")
    with store.connect(shop) as conn:
        assert activity.stored_origin(conn, date(2025, 1, 1), date(2025, 5, 1)) == ORIGIN
    with store.connect(shop, write=True) as conn:  # written by another tool, past ingestion
        conn.execute(
            schema.orders.insert().values(
                order_id="x",
                customer_id="b2",
                ordered_at=datetime(2025, 2, 20),
                amount=5.0,
                **{schema.CUSTOMER_KEY: 4, schema.SIGNUP_COPY_COLUMN: datetime(2025, 2, 10), "customer_segment": "B2B"},
            )
        )
    with store.connect(shop) as conn:
        assert activity.stored_origin(conn, date(2025, 1, 1), date(2025, 5, 1)) is None
    frame = cohorts(shop, Filters(segment=("B2B",)))
    assert frame.filter(pl.col("age") <= 1)["active"].to_list() == [2, 1]  # b2's order in February, from the rows
    with store.connect(shop, write=True) as conn:
        assert ingest.refresh_derived(conn, {"orders"}) == {"customer_activity": 4}  # the others stand
        assert activity.stored_origin(conn, date(2025, 1, 1), date(2025, 5, 1)) == ORIGIN
    assert_frame_equal(cohorts(shop, Filters(segment=("B2B",))), frame)


def test_reactivation_from_the_table_and_from_the_rows(shop: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    mar = date(2025, 3, 1)
    assert stored_months(shop, "months_back") == {"a1": (bits(mar), "B2C"), "a2": (0, "B2C"), "b1": (0, "B2B")}
    w = overview.windows_ending(date(2025, 4, 30), 1)
    half = Filters(period=Period.days(date(2025, 1, 1), date(2025, 6, 30)))

    def figures() -> tuple[object, ...]:
        with store.connect(shop) as conn:
            lines, windows = overview._presence(
                conn, *overview._activity_masks(conn, Filters(), w, after_churn=True), w
            )
            return (
                lines.filter(pl.col("present") > 0).select("month", "present").rows(),
                windows,
                review._journey(conn, half).filter(pl.col("metric") == "reactivation").rows(),
                retention.churn_over_time(conn, Filters(), "month").select("period", "reactivated").rows(),
            )

    stored = figures()
    assert stored[0] == [(mar, 1)]  # a1
    assert stored[1] == {"current": 0, "previous": 1, "earlier": 0, "kept": 0, "kept_before": 0}
    assert stored[2] == [("*", "reactivation", 50.0, 2, 1.0, None)]  # a1 of a1 and b1, churned by June's end
    assert dict(stored[3])[mar] == 1 and sum(n for _, n in stored[3]) == 1
    monkeypatch.setattr(activity, "stored_origin", lambda *a: None)
    assert figures() == stored
    monkeypatch.undo()
    put(shop, customers=[person("a1", "B2C", datetime(2025, 1, 10))])  # a1's churn taken back: the table again
    assert stored_months(shop, "months_back")["a1"] == (0, "B2C")
    assert figures()[1]["previous"] == 0
