"""The review's report as handed round: the XLSX read back (sheets, colours kept) and the self-contained HTML."""

from __future__ import annotations

import io

import polars as pl
from openpyxl import load_workbook

from components.builders import review_view
from data_access import reviews
from data_access.queries import review

STAGES = pl.DataFrame({"stage_id": ["s"], "name": ["Start"]})
FRAME = reviews.with_notes(
    pl.DataFrame(
        {
            "stage_id": ["s", "s", "*"],
            "metric": ["csat", "nps", "churn"],
            "a": [45.0, 30.0, 16.7],
            "a_n": [100, 50, 600],
            "b": [30.0, 0.0, 20.0],
            "b_n": [100, 50, 500],
            "change": [-15.0, -30.0, 3.3],
            "p_value": [0.0285, 0.0538, 0.1],
            "significant": [True, False, False],
            "verdict": [review.DECLINED, review.NO_CLEAR_CHANGE, review.NO_CLEAR_CHANGE],
            "target": [40.0, None, None],
            "warn": [35.0, None, None],
            "status": ["off target", "no target", "no target"],
        }
    ),
    pl.DataFrame({"stage_id": ["s"], "metric": ["csat"], "done": ["New survey"], "planned": [None]}),
)
ABOUT = ["Period A: 2025-01-01 to 2025-06-30 · period B: 2025-07-01 to 2025-12-31", "Customers: all customers"]
SAID = {review.IMPROVED: [], review.DECLINED: ["CSAT, Start: 45.0% → 30.0%"]}


def test_the_xlsx_report_reads_back_with_its_colours() -> None:
    book = load_workbook(io.BytesIO(review_view.to_xlsx(FRAME, STAGES, ABOUT, SAID)))
    assert book.sheetnames == ["Review", "Changes", "Grid of B"]
    sheet = book["Review"]
    assert sheet["A1"].value == ABOUT[0]  # what it covers comes first
    header = [c.value for c in sheet[3]]
    assert header[:3] == ["stage_id", "metric", "a"] and "done" in header
    csat = [c.value for c in sheet[4]]
    assert csat[:2] == ["s", "csat"] and csat[header.index("done")] == "New survey"
    assert sheet.cell(row=4, column=1).fill.fgColor.rgb.endswith(review.VERDICT_FILL[review.DECLINED])
    assert sheet.cell(row=5, column=1).fill.fgColor.rgb.endswith("FFFFFF")  # no clear change: never coloured
    changes = [r[0] for r in book["Changes"].iter_rows(values_only=True)]
    assert changes[:4] == ["Improved", "None significant.", None, "Declined"]
    grid = book["Grid of B"]
    assert [c.value for c in grid[1]] == [None, "Start", "Whole journey"]
    assert grid.cell(row=2, column=2).value.startswith("▼ 30.0% (-15.0 pts)")


def test_the_html_report_is_one_file_with_its_chart() -> None:
    html = review_view.to_html(FRAME, STAGES, ABOUT, SAID)
    assert html.startswith("<!doctype html>") and ABOUT[0] in html
    assert "plotly" in html.lower() and "<script" in html  # plotly.js inlined: it opens offline
    assert "New survey" in html and "CSAT, Start: 45.0% → 30.0%" in html
    assert "None significant." in html  # no improvement to call out


def test_the_reports_in_russian_name_their_sheets_columns_and_verdicts_in_russian() -> None:
    from data_access import i18n

    with i18n.using("ru"):
        book = load_workbook(io.BytesIO(review_view.to_xlsx(FRAME, STAGES, ABOUT, SAID)))
        html = review_view.to_html(FRAME, STAGES, ABOUT, SAID)
    assert book.sheetnames == ["Обзор", "Изменения", "Сетка периода B"]
    sheet = book["Обзор"]
    header = [c.value for c in sheet[3]]
    assert header[:4] == ["код этапа", "метрика", "A", "n A"] and "сделано" in header and "вывод" in header
    row = [c.value for c in sheet[4]]
    assert row[header.index("вывод")] == "ухудшилось" and row[header.index("статус")] == "вне цели"
    assert row[:2] == ["s", "csat"]  # the data stays as it is
    assert sheet.cell(row=4, column=1).fill.fgColor.rgb.endswith(review.VERDICT_FILL[review.DECLINED])
    grid = book["Сетка периода B"]
    assert [c.value for c in grid[1]] == [None, "Start", "Весь путь"]
    assert grid.cell(row=2, column=2).value.startswith("▼ 30,0\u00a0% (-15,0 п.)")
    assert "<html lang='ru'>" in html and "Обзор KPI" in html and "Все этапы и KPI" in html
    assert "Every stage" not in html and "Improved" not in html
