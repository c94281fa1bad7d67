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
    # adjusted Wald: 2 promoters and 2 detractors of 5 -> (2.75, 2.75) of 8
    assert (a["nps_lo"], a["nps_hi"]) == (pytest.approx(-57.46, abs=0.01), pytest.approx(57.46, abs=0.01))
    assert b["nps"] == pytest.approx(75.0)
    # 3 promoters, no detractor of 4 -> (3.75, 0.75) of 7: 42.86 +/- 50.20, inside -100..100 (it was 32.6..117.4)
    assert (b["nps_lo"], b["nps_hi"]) == (pytest.approx(-7.34, abs=0.01), pytest.approx(93.06, abs=0.01))

    assert b["ces"] == pytest.approx(6.0)
    assert b["ces_n"] == 3
    # mean 6 of 1..7 -> 5/6 with sd 1/6 -> effective n 15 -> Wilson 0.5839..0.9469 -> 4.503..6.681 (it was ..7.13)
    assert (b["ces_lo"], b["ces_hi"]) == (pytest.approx(4.503, abs=0.001), pytest.approx(6.681, abs=0.001))

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


def _adjusted_wald(promoters: int, detractors: int, n: int) -> tuple[float, float]:
    """The NPS interval worked out independently of the metrics layer."""
    import math

    pp, pd = (promoters + 0.75) / (n + 3), (detractors + 0.75) / (n + 3)
    half = 100 * 1.959963984540054 * math.sqrt((pp + pd - (pp - pd) ** 2) / (n + 3))
    return max(-100.0, 100 * (pp - pd) - half), min(100.0, 100 * (pp - pd) + half)


@pytest.mark.parametrize("seed", range(6))
def test_every_interval_stays_on_its_metrics_scale_on_tiny_and_huge_samples(seed: int) -> None:
    """Random counts, from one answer to ten million, and every corner (all at the top, all at the bottom):
    every metric's interval lies inside its scale and holds its value (NPS: its adjusted centre)."""
    import numpy as np

    from data_access import metrics

    rng = np.random.default_rng(seed)
    sizes = np.array([1, 2, 3, 4, 5, 10, 30, 1_000, 10_000_000] * 4)
    for m in metrics.METRICS.values():
        n = sizes.astype(float)
        if m.interval == "wilson":
            k = np.concatenate([np.zeros(9), sizes[9:18], rng.integers(0, sizes[18:] + 1)]).astype(float)
            pieces = {"k": k}
            value = 100 * k / n
        elif m.interval == "nps":
            promoters = np.concatenate([sizes[:9], np.zeros(9), rng.integers(0, sizes[18:] + 1)]).astype(float)
            detractors = np.concatenate([np.zeros(9), sizes[9:18], np.floor((sizes[18:] - promoters[18:]) / 2)])
            pieces = {"promoters": promoters, "detractors": detractors}
            value = 100 * (promoters - detractors) / n
        else:
            low, high = m.bounds
            values = np.arange(low, high + 1)
            corners = [np.eye(len(values))[-1], np.eye(len(values))[0]]  # all at the top, all at the bottom
            counts = [
                rng.multinomial(size, corners[0] if i < 9 else corners[1] if i < 18 else rng.dirichlet(values))
                for i, size in enumerate(sizes.tolist())
            ]
            pieces = {
                "sum": np.array([(c * values).sum() for c in counts], float),
                "sumsq": np.array([(c * values**2).sum() for c in counts], float),
            }
            value = pieces["sum"] / n
        frame = pl.DataFrame({f"{m.name}_n": n.astype(np.int64), **{f"{m.name}__{k}": v for k, v in pieces.items()}})
        out = metrics.with_intervals(frame, m, 30)
        lo, hi = out[f"{m.name}_lo"].to_numpy(), out[f"{m.name}_hi"].to_numpy()
        scale = (0.0, 100.0) if m.unit == "%" else (-100.0, 100.0) if m.interval == "nps" else m.bounds
        assert np.all(lo >= scale[0] - 1e-9) and np.all(hi <= scale[1] + 1e-9), m.name
        assert np.all(lo <= hi + 1e-9), m.name
        if m.interval != "nps":
            assert np.all((lo <= value + 1e-9) & (value <= hi + 1e-9)), m.name
        else:
            expected = [
                _adjusted_wald(p, d, c) for p, d, c in zip(pieces["promoters"], pieces["detractors"], n, strict=True)
            ]
            assert np.allclose(lo, [e[0] for e in expected]) and np.allclose(hi, [e[1] for e in expected])


def test_the_headline_rates_by_hand() -> None:
    """Retention, churn, reactivation and CLV as the Overview counts them, on numbers worked by hand."""
    assert metrics.RETENTION.of(30, 40) == 75.0  # 30 of the 40 active before are active again
    assert metrics.CHURN.of(5, metrics.customer_base(120, 20)) == 5.0  # 5 lost of the 100 at the start
    assert metrics.REACTIVATION.of(2, 0) is None  # nobody had churned: no rate, not 0
    assert metrics.clv(1_000.0, 8) == 125.0 and metrics.clv(10.0, 0) is None
    months = pl.DataFrame({"kept": [3, 0], "before": [4, 0], "revenue": [100.0, None], "signups": [2, 2]})
    done = months.select(
        metrics.RETENTION.expr(pl.col("kept"), pl.col("before")).alias("retention"),
        metrics.clv_expr(pl.col("revenue"), pl.col("signups")).alias("clv"),
    )
    assert done["retention"].to_list() == [75.0, None]
    assert done["clv"].to_list() == [50.0, 25.0]  # 100 over 2, then 100 over 4
