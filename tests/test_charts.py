"""Chart builders return figures whose numbers are the frame's numbers."""

from __future__ import annotations

import polars as pl

from components.builders import charts, kpi_table
from data_access import metrics


def frame() -> pl.DataFrame:
    base = {"stage_id": ["a", "b"], "name": ["A", "B"], "customers": [10, 0]}
    for m in metrics.STAGE_METRICS:
        base |= {
            m: [60.0, None],
            f"{m}_n": [5, 0],
            f"{m}_lo": [23.07, None],
            f"{m}_hi": [88.24, None],
            f"{m}_target": [80.0, None],
            f"{m}_warn": [70.0, None],
            f"{m}_status": [metrics.STATUS_BAD, metrics.STATUS_NO_DATA],
        }
    return pl.DataFrame(base)


def test_bar_per_stage_with_interval_target_and_words() -> None:
    fig = charts.metric_by_stage(frame(), "csat")
    bars, target = fig.data
    assert list(bars.y) == [60.0]  # the stage with no answers is left out
    assert list(bars.error_y.array) == [88.24 - 60.0]
    assert list(bars.error_y.arrayminus) == [60.0 - 23.07]
    assert "60.0%" in bars.x[0] and "n=5" in bars.x[0] and "off target" in bars.x[0]
    assert list(target.y) == [80.0]


def test_no_answers_gives_an_empty_state() -> None:
    empty = frame().with_columns(pl.lit(0).alias("nps_n"))
    fig = charts.metric_by_stage(empty, "nps")
    assert not fig.data
    assert "No NPS answers" in fig.layout.annotations[0].text


def test_table_cells_carry_value_n_and_status() -> None:
    table = kpi_table.summary(frame())
    assert table["CSAT"].to_list() == ["✖ 60.0%  (n=5)", "–"]
    assert table["CES"].to_list()[0] == "✖ 60.0  (n=5)"
    long = kpi_table.long(frame())
    assert long.height == 2 * len(metrics.STAGE_METRICS)
    assert long.columns == [
        "stage_id",
        "stage",
        "metric",
        "value",
        "ci95_low",
        "ci95_high",
        "n",
        "target",
        "warn",
        "status",
    ]


def test_sparkline_marks_each_event_in_its_months_with_a_line_and_a_named_hover() -> None:
    from datetime import date, datetime

    line = pl.DataFrame({"month": [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)], "value": [10.0, None, 20.0]})
    events = pl.DataFrame(
        {
            "occurred_at": [datetime(2025, 12, 5), datetime(2026, 2, 10), datetime(2026, 3, 1)],
            "name": ["before", "price change", "release"],
        }
    )
    fig = charts.sparkline(line, events, "%")
    shapes = fig.layout.shapes
    assert [s.x0 for s in shapes] == [datetime(2026, 2, 10), datetime(2026, 3, 1)]  # December is outside the line
    assert all(s.x0 == s.x1 and (s.yref, s.y0, s.y1) == ("paper", 0, 1) for s in shapes)
    _, markers = fig.data
    assert list(markers.y) == [15.0, 15.0]  # at the mean of the known values
    assert list(markers.customdata) == ["price change (2026-02-10)", "release (2026-03-01)"]
    assert len(charts.sparkline(line, events.head(0), "%").layout.shapes) == 0
