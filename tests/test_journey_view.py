"""The journey map grid as shown and as exported: text, status colours, flagged pains, HTML and XLSX."""

from __future__ import annotations

import io

import polars as pl
from openpyxl import load_workbook

from components.builders import journey_view
from data_access import metrics

STAGES = pl.DataFrame({"stage_id": ["a", "b"], "name": ["A", "B"]})
CELLS = pl.DataFrame(
    {"stage_id": ["a", "b"], "lane": ["pains", "pains"], "text": ["Too many steps", "Price"]},
)
LIVE = pl.DataFrame(
    {
        "stage_id": ["a", "a", "b"],
        "lane": ["conversion", "customers", "csat"],
        "value": [38.0, 809.0, 90.0],
        "n": [809, 809, 120],
        "target": [60.0, None, 80.0],
        "warn": [45.0, None, 70.0],
        "status": [metrics.STATUS_BAD, metrics.STATUS_NO_TARGET, metrics.STATUS_GOOD],
    }
)


def built() -> tuple:
    return journey_view.grid(STAGES, CELLS, LIVE, ["pains"])


def test_cells_show_value_n_and_status_on_its_colour() -> None:
    text, colours, keys = built()
    assert keys[0] == "pains" and "conversion" in keys
    assert text.loc["Conversion to next step", "A"] == "✖ 38.0% · n 809"
    assert colours.loc["Conversion to next step", "A"] == journey_view.TINT[metrics.STATUS_BAD]
    assert text.loc["CSAT", "B"] == "✔ 90.0% · n 120"
    assert text.loc["Customers", "A"] == "809"  # a count, never coloured
    # the pain of the stage that hurts is marked, the other is not
    assert colours.loc["Pains", "A"] == journey_view.FLAGGED
    assert colours.loc["Pains", "B"] == "#ffffff"


def test_stages_are_grouped_by_their_phase() -> None:
    assert "phase" not in built()[2]  # no phases: no phase row
    phased = STAGES.with_columns(pl.Series("phase", ["Before", "After"]))
    text, colours, keys = journey_view.grid(phased, CELLS, LIVE, ["pains"])
    assert keys[0] == journey_view.PHASE_LANE
    assert text.loc["Phase"].to_list() == ["Before", "After"]
    assert colours.loc["Phase"].to_list() == list(journey_view.PHASE_BANDS)  # neighbouring phases differ
    assert journey_view.phase_bands(["x", "x", "y", None, None, "x"]) == [0, 0, 1, 2, 2, 3]


def test_exports_keep_the_colours() -> None:
    text, colours, _ = built()
    html = journey_view.to_html(text, colours, "Journey map: test", "all segments")
    assert html.startswith("<!doctype html>") and "Too many steps" in html
    assert f"background-color: {journey_view.TINT[metrics.STATUS_BAD]}" in html
    book = load_workbook(io.BytesIO(journey_view.to_xlsx(text, colours, "Journey map: test", "all segments")))
    sheet = book.active
    header = [c.value for c in sheet[3]]
    assert header[:3] == [None, "A", "B"]
    lanes = [sheet.cell(row=r, column=1).value for r in range(4, sheet.max_row + 1)]
    row = 4 + lanes.index("Conversion to next step")
    cell = sheet.cell(row=row, column=2)
    assert cell.value == "✖ 38.0% · n 809"
    assert cell.fill.fgColor.rgb.endswith(journey_view.TINT[metrics.STATUS_BAD].lstrip("#").upper())


def test_two_maps_side_by_side_with_their_differences_marked() -> None:
    ideal = pl.DataFrame(
        {
            "stage_id": ["a", "a", "b"],
            "lane": ["pains", "actions", "opportunities"],
            "text": ["Too many steps", "Signs up in one step", "Annual plan"],
        }
    )
    lanes = ["actions", "pains", "opportunities"]
    changed = journey_view.differences(STAGES, CELLS, ideal, lanes)
    assert changed.rows() == [
        ("A", "Actions", None, "Signs up in one step", "added"),
        ("B", "Pains", "Price", None, "removed"),
        ("B", "Opportunities", None, "Annual plan", "added"),
    ]
    both, tints = journey_view.compare_grid(STAGES, CELLS, ideal, lanes, "Current", "Ideal")
    assert list(both.index[:4]) == ["Actions · Current", "Actions · Ideal", "Pains · Current", "Pains · Ideal"]
    assert both.loc["Pains · Current", "A"] == "Too many steps"  # the same in both: not marked
    assert tints.loc["Pains · Current", "A"] == "#ffffff"
    assert both.loc["Pains · Current", "B"] == "≠ Price" and both.loc["Pains · Ideal", "B"] == "≠ (empty)"
    assert tints.loc["Pains · Ideal", "B"] == journey_view.CHANGED
    assert journey_view.differences(STAGES, CELLS, CELLS, lanes).height == 0
