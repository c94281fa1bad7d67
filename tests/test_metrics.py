"""Every metric against figures worked out by hand on the tiny company (tests/conftest.py), on every store.

Wilson 95% interval of 3 of 5 (z = 1.96): centre (0.6 + z²/10) / (1 + z²/5) = 0.5566,
half-width z / (1 + z²/5) * sqrt(0.6 * 0.4 / 5 + z² / 100) = 0.3258 -> 23.07 .. 88.24.
NPS 0 on 2+2 of 5: 100 * 1.96 * sqrt((0.4 + 0.4 - 0) / 5) = 78.40.
NPS 75 on 3 of 4: 100 * 1.96 * sqrt((0.75 - 0.5625) / 4) = 42.43.
CES 7, 5, 6: mean 6, sample sd 1, 1.96 / sqrt(3) = 1.1316.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from sqlalchemy.engine import Engine

from data_access import metrics, schema, store
from data_access.filters import FilterError, Filters, Period
from data_access.queries.kpis import stage_kpis
from tests.conftest import TINY

MARCH = Period.parse("2025-03-01", "2025-03-31")


def row(frame: pl.DataFrame, stage: str) -> dict[str, object]:
    return frame.filter(pl.col("stage_id") == stage).row(0, named=True)


def test_every_metric_per_stage_matches_the_hand_count(tiny: Engine) -> None:
    frame = stage_kpis(tiny, Filters(period=MARCH), min_n=3)
    assert frame["stage_id"].to_list() == ["a", "b", "c"]
    a, b, c = row(frame, "a"), row(frame, "b"), row(frame, "c")

    assert (a["customers"], b["customers"], c["customers"]) == (2, 1, 0)

    assert a["csat"] == pytest.approx(60.0)
    assert a["csat_n"] == 5
    assert (a["csat_lo"], a["csat_hi"]) == (pytest.approx(23.07, abs=0.01), pytest.approx(88.24, abs=0.01))

    assert a["nps"] == pytest.approx(0.0)
    assert a["nps_n"] == 5
    assert (a["nps_lo"], a["nps_hi"]) == (pytest.approx(-78.40, abs=0.01), pytest.approx(78.40, abs=0.01))
    assert b["nps"] == pytest.approx(75.0)
    assert (b["nps_lo"], b["nps_hi"]) == (pytest.approx(32.57, abs=0.01), pytest.approx(117.43, abs=0.01))

    assert b["ces"] == pytest.approx(6.0)
    assert b["ces_n"] == 3
    assert (b["ces_lo"], b["ces_hi"]) == (pytest.approx(4.868, abs=0.001), pytest.approx(7.132, abs=0.001))

    assert a["fcr"] == pytest.approx(100 / 3)
    assert a["fcr_n"] == 3  # the open ticket does not count
    assert (a["fcr_lo"], a["fcr_hi"]) == (pytest.approx(6.15, abs=0.01), pytest.approx(79.23, abs=0.01))

    # nothing behind it: null value, n 0, no interval
    assert (c["csat"], c["csat_n"], c["csat_lo"]) == (None, 0, None)
    assert (a["ces"], a["ces_n"]) == (None, 0)


def test_status_against_targets_and_minimum_sample(tiny: Engine) -> None:
    frame = stage_kpis(tiny, Filters(period=MARCH), min_n=3)
    a, b = row(frame, "a"), row(frame, "b")
    assert a["csat_status"] == metrics.STATUS_BAD  # 60 is below the warn line 70
    assert a["nps_status"] == metrics.STATUS_WARN  # 0 between target 30 and warn -10
    assert b["nps_status"] == metrics.STATUS_GOOD  # stage b's own target 70 beats the "*" one
    assert (b["nps_target"], a["nps_target"]) == (70.0, 30.0)
    assert b["ces_status"] == metrics.STATUS_NO_TARGET
    default = stage_kpis(tiny, Filters(period=MARCH), min_n=30)
    assert set(default["csat_status"].to_list()) == {metrics.STATUS_NO_DATA}
    assert row(default, "a")["csat"] == pytest.approx(60.0)  # still shown, just never judged


def test_segment_filter(tiny: Engine) -> None:
    frame = stage_kpis(tiny, Filters(period=MARCH, segment=("B2C",)), min_n=1)
    a, b = row(frame, "a"), row(frame, "b")
    assert (a["customers"], b["customers"]) == (2, 0)
    assert (a["csat"], a["csat_n"]) == (pytest.approx(200 / 3), 3)
    assert (a["fcr"], a["fcr_n"]) == (pytest.approx(50.0), 2)
    b2b = stage_kpis(tiny, Filters(period=MARCH, segment=("B2B",), channel=("sales",)), min_n=1)
    assert row(b2b, "a")["csat_n"] == 2


def test_period_boundaries(tiny: Engine) -> None:
    # --to a date: the whole day, so 23:59:59 on the 31st counts and 1 April 00:00 does not
    assert row(stage_kpis(tiny, Filters(period=MARCH)), "a")["csat_n"] == 5
    # --to an instant: up to and including that instant
    noon = Period.parse("2025-03-01", "2025-03-31T12:00")
    assert row(stage_kpis(tiny, Filters(period=noon)), "a")["csat"] == pytest.approx(50.0)
    last_second = Period.parse(None, "2025-03-31T23:59:59")
    assert row(stage_kpis(tiny, Filters(period=last_second)), "a")["csat_n"] == 5
    # no period: everything, including April's score of 1
    everything = row(stage_kpis(tiny, Filters()), "a")
    assert (everything["csat"], everything["csat_n"]) == (pytest.approx(50.0), 6)


def test_period_parsing() -> None:
    assert Period.parse("2025-03-01", None) == Period(datetime(2025, 3, 1), None)
    assert Period.parse(None, "2025-03-31") == Period(None, datetime(2025, 4, 1), False)
    # an offset is converted to UTC; a naive instant is taken as UTC
    assert Period.parse(None, "2025-03-31T23:00:00-02:00").end == datetime(2025, 4, 1, 1, 0)
    assert Period.parse(None, "2025-03-31T23:00:00").end == datetime(2025, 3, 31, 23, 0)
    with pytest.raises(FilterError, match="Not a date"):
        Period.parse("31.03.2025", None)
    with pytest.raises(FilterError, match="ends before it starts"):
        Period.parse("2025-03-02", "2025-03-01")
    assert Period.parse("2025-03-01", "2025-03-01").caption() == "2025-03-01 to 2025-03-01"


def test_caption_names_every_filter() -> None:
    filters = Filters(period=MARCH, segment=("B2B",), channel=("chat", "phone"))
    assert filters.caption() == "B2B, 2025-03-01 to 2025-03-31, channel = chat or phone"
    assert Filters().caption() == "all segments, all time"


def test_interval_formulas_at_the_edges() -> None:
    frame = pl.DataFrame({"k": [0.0, 10.0], "n": [10.0, 10.0]})
    lo, hi = metrics.wilson(pl.col("k"), pl.col("n"))
    out = frame.select(lo.alias("lo"), hi.alias("hi"))
    assert out["lo"][0] == pytest.approx(0.0, abs=1e-9)
    assert out["hi"][1] == pytest.approx(100.0, abs=1e-9)
    assert out["hi"][0] == pytest.approx(27.75, abs=0.01)  # Wilson upper bound of 0 of 10


def test_a_stage_by_month_and_the_rows_behind_it(tiny: Engine) -> None:
    from data_access.queries.kpis import stage_rows, stage_trend

    trend = stage_trend(tiny, "a", "csat", Filters(), min_n=1)
    assert trend["month"].cast(pl.String).to_list() == ["2025-03-01", "2025-04-01"]
    assert trend["csat"].to_list() == [pytest.approx(60.0), pytest.approx(0.0)]
    assert trend["csat_n"].to_list() == [5, 1]
    assert trend["csat_lo"][0] == pytest.approx(23.07, abs=0.01)
    fcr = stage_trend(tiny, "a", "fcr", Filters(period=MARCH), min_n=1)
    assert (fcr["fcr"][0], fcr["fcr_n"][0]) == (pytest.approx(100 / 3), 3)
    assert stage_trend(tiny, "c", "nps", Filters(), min_n=1).height == 0

    answers = stage_rows(tiny, "a", "csat", Filters(), limit=10)
    assert answers["score"].to_list() == [1, 2, 3, 4, 5, 5]  # the unhappiest first
    tickets = stage_rows(tiny, "a", "fcr", Filters(), limit=10)
    assert tickets["ticket_id"].to_list() == ["t2", "t4", "t3", "t1"]  # not resolved at first contact first
    assert stage_rows(tiny, "a", "nps", Filters(segment=("B2B",)), limit=1)["score"].to_list() == [0]


def test_a_ticket_metric_on_one_support_line_and_by_problem_type(tiny: Engine) -> None:
    from data_access.queries.kpis import stage_breakdown, stage_rows, stage_trend

    # stage a: t1 line 1 technical, first contact; t2 line 2 financial, two contacts; t3 line 1 technical,
    # reopened; t4 line 3, still open
    line_2 = stage_trend(tiny, "a", "fcr", Filters(period=MARCH), min_n=1, line=2)
    assert (line_2["fcr"][0], line_2["fcr_n"][0]) == (0.0, 1)
    assert stage_rows(tiny, "a", "fcr", Filters(), limit=10, line=1)["ticket_id"].to_list() == ["t3", "t1"]
    by_type = stage_breakdown(tiny, "a", "fcr", Filters(), "category", min_n=1)
    assert by_type.select("value", "fcr", "fcr_n").rows() == [("technical", 50.0, 2), ("financial", 0.0, 1)]
    on_line_1 = stage_breakdown(tiny, "a", "fcr", Filters(), "category", min_n=1, line=1)
    assert on_line_1.select("value", "fcr_n").rows() == [("technical", 2)]
    with pytest.raises(ValueError, match="support line"):
        stage_trend(tiny, "a", "csat", Filters(), min_n=1, line=2)
    with pytest.raises(ValueError, match="cannot break down"):
        stage_breakdown(tiny, "a", "csat", Filters(), "category", min_n=1)


def test_freshness_is_the_newest_timestamp_of_any_table(tiny: Engine) -> None:
    newest = max(
        row[column] for name, column in schema.TIME_COLUMNS.items() for row in TINY.get(name, []) if row.get(column)
    )
    assert store.freshness(tiny) == newest
