"""The funnel's rules, each on hand-made data, on every store. Window 1 h unless said; times in minutes after
2025-01-01 00:00 (UTC). Customers of segment S1 test the ordering rules, S2 the exclusions."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from data_access import schema, store
from data_access.filters import Filters, Period
from data_access.queries import funnel
from data_access.queries.funnel import Exclusion, FunnelError, FunnelSpec
from tests.conftest import put

T = datetime(2025, 1, 1)
JANUARY = Period.parse("2025-01-01", "2025-01-31")
HOUR = funnel.parse_window("1h")
ABC = FunnelSpec(("a", "b", "c"), HOUR)


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


# customer -> (segment, channel, [(stage, minutes), ...])
PEOPLE = {
    "u1": ("S1", "web", [("a", 0), ("b", 10), ("c", 20)]),  # straight through
    "u2": ("S1", "ads", [("b", 0), ("a", 5), ("c", 10)]),  # b before a: out of order, stays at a
    "u3": ("S1", "web", [("a", 0), ("b", 0), ("c", 0)]),  # equal timestamps are in order
    "u4": ("S1", "ads", [("a", 0), ("b", 30), ("c", 60)]),  # c exactly at the window's end: counts
    "u5": ("S1", "ads", [("a", 0), ("b", 30), ("c", 60 + 1 / 60)]),  # c one second too late
    "u6": ("S1", "ads", [("a", 0), ("b", 120), ("a", 180), ("b", 190)]),  # the second attempt reaches b
    "u7": ("S1", "ads", [("a", -60), ("b", 10), ("c", 20)]),  # first step before the period: not in the funnel
    "u8": ("S1", "ads", [("b", 10)]),  # never starts
    "u9": ("S2", "ads", [("a", 0), ("x", 5), ("b", 10), ("c", 15)]),  # x between a and b: tainted
    "u10": ("S2", "ads", [("a", 0), ("x", 0), ("b", 10)]),  # x at the same time as a: not strictly after
    "u11": ("S2", "ads", [("a", 0), ("x", 5)]),  # never reaches b, x within the window: tainted
    "u12": ("S2", "ads", [("a", 0), ("x", 120)]),  # never reaches b, x after the window: clean
    "u13": ("S2", "ads", [("a", 0), ("x", 5), ("b", 10), ("a", 180), ("b", 190)]),  # one clean furthest attempt
    "u14": ("S2", "ads", [("a", 0), ("x", 5), ("b", 10), ("c", 20), ("a", 180), ("b", 190)]),  # furthest tainted
}


@pytest.fixture
def journeys(engine: Engine) -> Engine:
    put(
        engine,
        stages=[
            {"stage_id": s, "name": s.upper(), "position": i, "in_funnel": s != "x"}
            for i, s in enumerate(("a", "b", "c", "x"), start=1)
        ],
        customers=[
            {
                "customer_id": c,
                "signup_at": T - timedelta(days=30),
                "segment": seg,
                "channel": ch,
                "region": "EU",
                "plan": "p",
            }
            for c, (seg, ch, _) in PEOPLE.items()
        ],
        journey_events=[
            {"event_id": f"{c}-{n}", "customer_id": c, "stage_id": s, "occurred_at": at(m)}
            for c, (_, _, events) in PEOPLE.items()
            for n, (s, m) in enumerate(events)
        ],
        orders=[{"order_id": "o1", "customer_id": "u1", "ordered_at": T - timedelta(days=3), "amount": 10.0}],
    )
    return engine


@pytest.fixture(params=["events", "stored"])
def source(request: pytest.FixtureRequest) -> str:
    """Every rule is checked twice: counted from the raw events, and read from ``funnel_attempts``."""
    return request.param


def prepare(engine: Engine, spec: FunnelSpec, source: str, filters: Filters | None = None) -> None:
    """For ``stored``, builds ``funnel_attempts`` for ``spec`` and checks that the queries will read it (a funnel
    with an exclusion never does); for ``events``, checks that they will not."""
    if source == "stored":
        with store.connect(engine, write=True) as conn:
            funnel.refresh_attempts(conn, spec)
    with store.connect(engine) as conn:
        used = funnel.attempts_stored(conn, spec, filters or Filters(period=JANUARY))
    assert used is (source == "stored" and not spec.exclusions)


def counts(engine: Engine, spec: FunnelSpec, segment: str, source: str = "events") -> list[int]:
    prepare(engine, spec, source)
    with store.connect(engine) as conn:
        return funnel.steps(conn, spec, Filters(period=JANUARY, segment=(segment,)))["customers"].to_list()


def test_order_window_equal_times_and_repeated_attempts(journeys: Engine, source: str) -> None:
    assert counts(journeys, ABC, "S1", source) == [6, 5, 3]  # u1..u6 start; u2 stays; u5, u6 stop at b


def test_conversion_and_drop_off(journeys: Engine, source: str) -> None:
    prepare(journeys, ABC, source)
    with store.connect(journeys) as conn:
        frame = funnel.steps(conn, ABC, Filters(period=JANUARY, segment=("S1",)))
    assert frame["conversion_from_previous"].to_list() == [None, pytest.approx(500 / 6), pytest.approx(60.0)]
    assert frame["conversion_from_first"].to_list() == [
        pytest.approx(100.0),
        pytest.approx(500 / 6),
        pytest.approx(50.0),
    ]
    assert frame["dropped"].to_list() == [None, 1, 2]


def test_the_window_is_inclusive_and_strict_beyond(journeys: Engine, source: str) -> None:
    exactly = FunnelSpec(("a", "c"), HOUR)
    assert counts(journeys, exactly, "S1", source)[1] == 4  # u1, u2 (c at +5 min after its a), u3, u4; not u5
    tighter = FunnelSpec(("a", "b", "c"), funnel.parse_window("59m"))
    assert counts(journeys, tighter, "S1", source) == [6, 5, 2]  # u4's c at 60 min now falls outside


def test_counts_per_window_agree_with_the_chosen_attempts(journeys: Engine) -> None:
    """The counts come from each customer's furthest step (ClickHouse: windowFunnel; elsewhere the attempts kept
    per step), the times from the chosen attempt: both give the same customers per step, for each window, asked
    one after the other on one connection (a window is a constant of ClickHouse's aggregate, never a cached one)."""
    expected = {"30m": [6, 5, 2], "2h": [6, 5, 4], "1h": [6, 5, 3]}  # u4/u5 reach c at 1 h / 1 h 1 s; u6's b at 2 h
    s1 = Filters(period=JANUARY, segment=("S1",))
    with store.connect(journeys) as conn:
        for window, customers in [*expected.items(), ("30m", expected["30m"])]:
            spec = FunnelSpec(("a", "b", "c"), funnel.parse_window(window))
            assert funnel.steps(conn, spec, s1)["customers"].to_list() == customers, window
            assert funnel.reach_and_time(conn, spec, s1)["customers"].to_list() == customers, window
        by_channel = funnel.breakdown(conn, FunnelSpec(("a", "b", "c"), funnel.parse_window("2h")), s1, "channel")
    assert by_channel.rows() == [("ads", 4, 3, 2), ("web", 2, 2, 2)]  # u2, u4, u5, u6 and u1, u3


def test_exclusion_between_two_steps(journeys: Engine, source: str) -> None:
    plain = counts(journeys, ABC, "S2", source)
    assert plain == [6, 4, 2]
    spec = FunnelSpec(("a", "b", "c"), HOUR, (Exclusion("x", 0, 1),))  # counted from the events, always
    # u9 (x between a and b), u11 (no b, x in the window) and u14 (its furthest attempt is tainted) leave the
    # funnel at every step; u10 (x not strictly after a), u12 (x after the window), u13 (a clean furthest
    # attempt) stay.
    assert counts(journeys, spec, "S2") == [3, 2, 0]


def test_exclusion_spanning_more_steps(journeys: Engine) -> None:
    spec = FunnelSpec(("a", "b", "c"), HOUR, (Exclusion("x", 0, 2),))
    # u9 and u14 (x before their c) and u11 (no c, x in the window) leave; u13's second attempt (a at 180 min)
    # has no x after it, so it stays at b; u10 and u12 stay as before
    assert counts(journeys, spec, "S2") == [3, 2, 0]


def test_stored_attempts_are_cut_by_the_period_like_the_events(journeys: Engine) -> None:
    """Periods that end inside the attempts: the stored chains, cut at the period's end, give what the period's
    events alone give. By minute 15, u1 (a 0, b 10, c 20) has reached b only, u3 (all at 0) c, and S2's u9 (c at
    15, the period's end, exclusive) b. By minute 150, u6's second attempt (a 180) has not started, so u6 is at a,
    and u14 (c at 20) is at c."""
    periods = {
        15: ([6, 2, 1], [6, 4, 0]),
        150: ([6, 4, 3], [6, 4, 2]),
    }
    for minutes, (s1, s2) in periods.items():
        period = Period(T, at(minutes))
        for segment, expected in (("S1", s1), ("S2", s2)):
            filters = Filters(period=period, segment=(segment,))
            with store.connect(journeys) as conn:
                from_events = funnel.reach_and_time(conn, ABC, filters)
            prepare(journeys, ABC, "stored", filters)
            with store.connect(journeys) as conn:
                from_store = funnel.reach_and_time(conn, ABC, filters)
            assert from_events["customers"].to_list() == expected, (minutes, segment)
            assert from_store.equals(from_events), (minutes, segment)


def test_stored_attempts_are_only_read_while_current(journeys: Engine) -> None:
    prepare(journeys, ABC, "stored")
    with store.connect(journeys) as conn:
        assert not funnel.attempts_stored(conn, FunnelSpec(("a", "b"), HOUR), Filters(period=JANUARY))  # other steps
        assert not funnel.attempts_stored(conn, FunnelSpec(("a", "b", "c")), Filters(period=JANUARY))  # other window
        instant = Filters(period=Period.parse("2025-01-01", "2025-01-31T12:00:00"))
        assert not funnel.attempts_stored(conn, ABC, instant)  # an inclusive end: the events decide
        assert funnel.attempts_stored(conn, ABC, Filters())
    # an event written around ingestion (by another tool, with its customer's attributes as the store keeps them)
    # makes the stored attempts stale: the events are read
    with store.connect(journeys, write=True) as conn:
        conn.execute(
            schema.journey_events.insert().values(
                event_id="late", customer_id="u2", stage_id="b", occurred_at=at(6), customer_segment="S1"
            )
        )
    with store.connect(journeys) as conn:
        assert not funnel.attempts_stored(conn, ABC, Filters(period=JANUARY))
        assert funnel.steps(conn, ABC, Filters(period=JANUARY, segment=("S1",)))["customers"].to_list() == [6, 6, 4]
    # an ingested event rebuilds them for the default funnel (the stages marked in_funnel, the default window)
    put(journeys, journey_events=[{"event_id": "later", "customer_id": "u8", "stage_id": "a", "occurred_at": at(20)}])
    default = FunnelSpec(("a", "b", "c"))
    with store.connect(journeys) as conn:
        assert funnel.attempts_stored(conn, default, Filters(period=JANUARY))
        stored = funnel.steps(conn, default, Filters(period=JANUARY, segment=("S1",)))["customers"].to_list()
        from_events = list(conn.execute(funnel.counts_query(default, Filters(period=JANUARY, segment=("S1",)))).one())
    assert stored == from_events
    assert stored[0] == 7  # u1..u6, and u8 now that it has an a event


def test_invalid_funnels_are_refused_with_a_reason() -> None:
    known = ["a", "b", "c", "x"]
    cases = {
        FunnelSpec(("a",)): "at least 2 steps",
        FunnelSpec(("a", "a")): "only once",
        FunnelSpec(("a", "zz")): "Unknown stage(s): zz",
        FunnelSpec(("a", "b"), HOUR, (Exclusion("x", 1, 1),)): "i < j",
        FunnelSpec(("a", "b"), HOUR, (Exclusion("x", 1, 0),)): "i < j",
        FunnelSpec(("a", "b"), HOUR, (Exclusion("x", 0, 2),)): "there is no step 2",
        FunnelSpec(("a", "b", "c"), HOUR, (Exclusion("b", 0, 2),)): "is a step of the funnel",
    }
    for spec, words in cases.items():
        with pytest.raises(FunnelError, match=re.escape(words)):
            spec.check(known)
    FunnelSpec(("a", "b", "c"), HOUR, (Exclusion("x", 0, 2),)).check(known)


def test_windows_and_exclusions_parse() -> None:
    assert [funnel.parse_window(w) for w in ("15s", "90m", "12h", "30d", "2w")] == [
        15,
        5400,
        43_200,
        2_592_000,
        1_209_600,
    ]
    for bad in ("30", "d", "-1d", "0h", "3y", ""):
        with pytest.raises(FunnelError, match="Not a window"):
            funnel.parse_window(bad)
    assert Exclusion.parse("support:1:3") == Exclusion("support", 1, 3)
    with pytest.raises(FunnelError, match="Not an exclusion"):
        Exclusion.parse("support:1")
    assert funnel.format_window(2_592_000) == "30d"
    assert funnel.format_window(5400) == "90m"


def test_time_to_convert_from_the_chosen_attempt(journeys: Engine, source: str) -> None:
    prepare(journeys, ABC, source)
    with store.connect(journeys) as conn:
        frame = funnel.time_to_convert(conn, ABC, Filters(period=JANUARY, segment=("S1",)))
    a_to_b, b_to_c = frame.row(0, named=True), frame.row(1, named=True)
    # a -> b: u1 600 s, u3 0, u4 1800, u5 1800, u6 600 (its second attempt) -> median 600, p90 1800
    assert (a_to_b["step"], a_to_b["n"], a_to_b["p50_seconds"], a_to_b["p90_seconds"]) == (1, 5, 600, 1800)
    # b -> c: 0, 600, 1800 -> median 600, p90 at rank 1.8: 600 + 0.8 * 1200 = 1560
    assert (b_to_c["n"], b_to_c["p50_seconds"], b_to_c["p90_seconds"]) == (3, 600, pytest.approx(1560))
    histogram = [a_to_b[f"bucket_{i}"] for i in range(len(funnel.TIME_BUCKETS))]
    assert histogram == [5, 0, 0, 0, 0, 0, 0, 0]


def test_reach_and_time_in_one_pass(journeys: Engine, source: str) -> None:
    prepare(journeys, ABC, source)
    with store.connect(journeys) as conn:
        frame = funnel.reach_and_time(conn, ABC, Filters(period=JANUARY, segment=("S1",)))
        nobody = funnel.reach_and_time(conn, ABC, Filters(period=JANUARY, segment=("nobody",)))
    # the same figures as the two tests above: 6, 5, 3 customers; medians 600 s (a -> b) and 600 s (b -> c)
    assert frame.rows() == [(0, "a", 6, None), (1, "b", 5, 600.0), (2, "c", 3, 600.0)]
    assert nobody.rows() == [(0, "a", 0, None), (1, "b", 0, None), (2, "c", 0, None)]


def test_conversion_over_time_and_who_dropped(journeys: Engine, source: str) -> None:
    filters = Filters(period=JANUARY, segment=("S1",))
    prepare(journeys, ABC, source)
    with store.connect(journeys) as conn:
        monthly = funnel.over_time(conn, ABC, filters, "month")
        weekly = funnel.over_time(conn, ABC, filters, "week")
        at_a = funnel.dropped(conn, ABC, filters, 0, 100)
        at_b = funnel.dropped(conn, ABC, filters, 1, 100)
    assert monthly.rows() == [(datetime(2025, 1, 1).date(), 6, 3, 50.0)]
    assert weekly["period"].to_list() == [datetime(2024, 12, 30).date()]  # the Monday of that week
    assert at_a["customer_id"].to_list() == ["u2"]
    assert at_b["customer_id"].to_list() == ["u5", "u6"]
    assert at_b["channel"].to_list() == ["ads", "ads"]


def test_breakdowns(journeys: Engine, source: str) -> None:
    filters = Filters(period=JANUARY, segment=("S1",))
    prepare(journeys, ABC, source)
    with store.connect(journeys) as conn:
        by_channel = funnel.breakdown(conn, ABC, filters, "channel")
        by_history = funnel.breakdown(conn, ABC, filters, funnel.RETURNING)
    assert by_channel.rows() == [("ads", 4, 3, 1), ("web", 2, 2, 2)]
    assert by_history.rows() == [("new", 5, 4, 2), ("returning", 1, 1, 1)]  # u1 ordered before January


def test_previous_period() -> None:
    prev = funnel.previous_period(JANUARY)
    assert (prev.start, prev.end) == (datetime(2024, 12, 1), datetime(2025, 1, 1))
    with pytest.raises(FunnelError):
        funnel.previous_period(Period())


def test_the_biggest_leak_in_words(journeys: Engine) -> None:
    with store.connect(journeys) as conn:
        frame = funnel.steps(conn, ABC, Filters(period=JANUARY, segment=("S1",)))
    text = funnel.biggest_leak(frame, {"a": "Start", "b": "Middle", "c": "End"}, "S1")
    assert text == "40% of S1 customers who reach Middle never reach End (2 of 5)"  # 1 of 6 lost before


def test_each_group_against_the_rest() -> None:
    groups = pl.DataFrame({"value": ["B2B", "B2C"], "step_0": [100, 100], "step_1": [45, 30]})
    # 45/100 against 30/100: pooled 0.375, z = 0.15 / sqrt(0.375 * 0.625 * 0.02) = 2.191, p = 0.0285
    compared = funnel.against_the_rest(groups, 1)
    b2b, b2c = compared.row(0, named=True), compared.row(1, named=True)
    assert (b2b["conversion"], b2b["rest_conversion"], b2b["difference"]) == (45.0, 30.0, 15.0)
    assert b2b["p_value"] == pytest.approx(0.0285, abs=1e-4)
    assert (b2b["verdict"], b2c["verdict"]) == ("higher", "lower")
    close = funnel.against_the_rest(pl.DataFrame({"value": ["x", "y"], "step_0": [50, 50], "step_1": [20, 18]}), 1)
    assert close["verdict"].to_list() == ["no clear difference", "no clear difference"]
    assert funnel.without_filter_on(Filters(segment=("B2C",)), "segment").segment == ()
    assert funnel.without_filter_on(Filters(segment=("B2C",)), "channel").segment == ("B2C",)


def test_funnel_command_line(journeys: Engine, store_url: str) -> None:
    from tests.test_cli import cli

    base = ("funnel", "--db", store_url, "--stages", "a,b,c", "--window", "1h")
    done = cli(*base, "--from", "2025-01-01", "--to", "2025-01-31", "--segment", "S1", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["customers"] for r in rows] == [6, 5, 3]
    assert rows[0]["conversion_from_previous"] is None
    assert rows[1]["conversion_from_previous"] == 83.33
    assert rows[2]["conversion_from_first"] == 50.0
    assert (rows[1]["median_seconds_to_convert"], rows[2]["median_seconds_to_convert"]) == (600.0, 600.0)
    excluded = cli(*base, "--exclude", "x:0:1", "--segment", "S2", "--format", "csv")
    assert excluded.returncode == 0, excluded.stderr
    assert [line.split(",")[1] for line in excluded.stdout.splitlines()[1:]] == ["3", "2", "0"]
    for bad, words in (
        (("--exclude", "x:1:1"), "i < j"),
        (("--window", "soon"), "Not a window"),
        (("--stages", "a,nope"), "Unknown stage"),
    ):
        done = cli("funnel", "--db", store_url, "--stages", "a,b,c", *bad)
        assert done.returncode == 2, bad
        assert words in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
