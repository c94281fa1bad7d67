"""Nothing a loaded file contains runs where an export is opened: every download of every page, from a store whose
text columns carry a script, an image with an onerror handler and a spreadsheet formula."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import streamlit as st
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from components.builders import journey_view
from data_access import exports, store
from data_access.loading import ingest
from sample_data.generate import generate
from tests.test_pages import APP

SCRIPT = "<script>window.__xss=1</script>"
IMAGE = "<img src=x onerror=window.__xss=1>"
FORMULA = '=HYPERLINK("http://evil.example","x")'
PLANTED = (SCRIPT, IMAGE, FORMULA)


def planted_frames(customers: int) -> list[tuple[str, pl.DataFrame]]:
    """The sample company with the three payloads in its free-text columns: stage names and phases, customers'
    personas, channels, regions, plans, e-mails and names, comments, touchpoints and actions, agents, map names and
    cells, business events (segments stay, for the stories; closed lists such as a ticket's category cannot hold
    them)."""

    def mark(frame: pl.DataFrame, column: str, every: int = 3) -> pl.DataFrame:
        if column not in frame.columns:
            return frame
        index = pl.int_range(pl.len())
        pick = pl.when(index % every == 0).then(pl.lit(SCRIPT)).when(index % every == 1).then(pl.lit(IMAGE))
        return frame.with_columns(pick.otherwise(pl.lit(FORMULA)).alias(column))

    columns = {
        "stages": ("name", "phase", "description"),
        "customers": ("persona", "channel", "region", "plan", "email", "name"),
        "journey_events": ("touchpoint", "action"),
        "survey_responses": ("comment", "touchpoint"),
        "tickets": ("agent_id", "entry_channel"),
        "journey_map": ("map", "text"),
        "business_events": ("name", "description"),
    }
    out = []
    for name, frame in generate(customers, 42):
        for column in columns.get(name, ()):
            frame = mark(frame, column, 3 if name != "journey_map" else 5)
        if name == "tickets":  # the bot row still needs its bot
            frame = frame.with_columns(
                pl.when(pl.col("bot_resolved"))
                .then(pl.lit("bot"))
                .otherwise(pl.col("entry_channel"))
                .alias("entry_channel")
            )
        out.append((name, frame))
    return out


@pytest.fixture(scope="module")
def planted_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('planted') / 'planted.duckdb'}"
    engine = store.create_store_engine(url)
    store.init_store(engine)
    ingest.write(engine, planted_frames(1_500), mode="replace")
    engine.dispose()
    return url


def test_text_cells_are_neutral_in_csv() -> None:
    frame = pl.DataFrame(
        {"text": [FORMULA, "+1", "-x", "@SUM(A1)", "\tx", "\rx", "plain", None], "n": [-1, 2, 3, 4, 5, 6, 7, 8]}
    )
    rows = list(csv.reader(io.StringIO(exports.csv_text(frame))))
    assert [r[0] for r in rows[1:]] == [f"'{FORMULA}", "'+1", "'-x", "'@SUM(A1)", "'\tx", "'\rx", "plain", ""]
    assert rows[1][1] == "-1"  # numbers stay numbers
    assert exports.unneutral_frame(exports.neutral_frame(frame)).equals(frame)


def test_xlsx_text_is_text_and_html_is_escaped() -> None:
    import pandas as pd

    text = pd.DataFrame([[FORMULA, SCRIPT]], index=[IMAGE], columns=[IMAGE, "= 76.4% (+2.3 pts) · n 399"])
    colours = pd.DataFrame([["#ffffff", "#ffffff"]], index=text.index, columns=text.columns)
    book = load_workbook(io.BytesIO(journey_view.to_xlsx(text, colours, FORMULA, SCRIPT)))
    cells = [c for row in book.active.iter_rows() for c in row if c.value is not None]
    assert {c.value for c in cells} >= {FORMULA, SCRIPT, IMAGE, "= 76.4% (+2.3 pts) · n 399"}
    assert {c.data_type for c in cells} == {"s"}  # none is a formula
    html = journey_view.to_html(text, colours, SCRIPT, IMAGE)
    assert SCRIPT not in html and IMAGE not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=window.__xss=1&gt;" in html


class Downloads:
    """Every st.download_button a run draws: file name -> its bytes (a callable's data is built, as a click would)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self._real = st.download_button

    def __call__(self, label: str, data: Any, file_name: str | None = None, **kwargs: Any) -> Any:
        built = data() if callable(data) else data
        self.files[str(file_name)] = built.encode() if isinstance(built, str) else bytes(built)
        return self._real(label, data, file_name=file_name, **kwargs)


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _inert(name: str, data: bytes) -> list[str]:
    """What in a downloaded file could run (empty when nothing can)."""
    found = []
    if name.endswith(".csv"):
        for row in csv.reader(io.StringIO(data.decode("utf-8"))):
            found += [cell for cell in row if cell.startswith(exports.FORMULA_START) and not _number(cell)]
    elif name.endswith(".xlsx"):
        for sheet in load_workbook(io.BytesIO(data)):
            for row in sheet.iter_rows():
                found += [f"{c.coordinate}={c.value!r}" for c in row if c.data_type == "f"]
    elif name.endswith(".html"):
        text = data.decode("utf-8")
        found += [p for p in (SCRIPT, IMAGE) if p in text]
    elif name.endswith(".pdf"):
        from tests.test_review_pdf import runs_nothing

        try:
            runs_nothing(data)
        except AssertionError as exc:
            found.append(f"the PDF can act: {exc}")
    return found


def test_every_download_of_every_page_is_inert(planted_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CJM_DATABASE_URL", planted_url)
    seen = Downloads()
    monkeypatch.setattr(st, "download_button", seen)
    visits = [
        ("pages/overview.py", {}),
        ("pages/churn_warning.py", {}),
        ("pages/retention.py", {}),
        ("pages/funnel.py", {}),
        ("pages/stage_kpis.py", {}),
        ("pages/journey_map.py", {"stage": "onboarding", "lane": "csat"}),
        ("pages/journey_map.py", {"stage": "onboarding", "lane": "conversion"}),
        ("pages/review.py", {}),
        ("pages/map_editor.py", {}),
        ("pages/access.py", {}),
    ]
    for page, params in visits:
        at = AppTest.from_file(APP, default_timeout=90)
        for k, v in params.items():
            at.query_params[k] = v
        at.run()
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
    expected = {
        "at_risk_2026-10-31.csv",
        "retention_month.csv",
        "stage_kpis.csv",
        "journey_map.html",
        "journey_map.xlsx",
        "onboarding_csat.csv",
        "dropped_after_onboarding.csv",
        "journey_map.csv",
        "kpi_targets.csv",
        "audit_log.csv",
    }
    assert expected <= set(seen.files), sorted(seen.files)
    assert any(n.startswith("kpi_review_") and n.endswith(".xlsx") for n in seen.files)
    assert any(n.startswith("kpi_review_") and n.endswith(".html") for n in seen.files)
    pdf = next(data for n, data in seen.files.items() if n.startswith("kpi_review_") and n.endswith(".pdf"))
    for name, data in seen.files.items():
        assert not _inert(name, data), (name, _inert(name, data)[:5])
    # and the planted text is there, shown as text: neutral in CSV, escaped in HTML, a string in XLSX
    comments = list(csv.DictReader(io.StringIO(seen.files["onboarding_csat.csv"].decode())))
    assert f"'{FORMULA}" in {r["comment"] for r in comments}
    assert "&lt;img src=x onerror" in seen.files["journey_map.html"].decode()  # a stage name, a map cell
    book = load_workbook(io.BytesIO(seen.files["journey_map.xlsx"]))
    assert FORMULA in {c.value for row in book.active.iter_rows() for c in row}
    from tests.test_review_pdf import text_of

    assert SCRIPT in text_of(pdf)  # a stage name in the review's PDF: its characters, drawn as text


def test_a_binary_file_named_csv_is_refused_and_leaves_nothing(planted_url: str, tmp_path: Path) -> None:
    engine = store.create_store_engine(planted_url)
    before = store.row_counts(engine)
    problems = ingest.Problems()
    assert ingest.read_source(ingest.Source("orders.csv", b"PK\x03\x04\x14\x00binary"), problems) is None
    assert "is not a text file" in problems.shown[0].reason
    for name, data, reason in (
        ("customers.csv", b"customer_id\x00\x01\x02", "is not a text file"),
        ("orders.parquet", b"order_id,amount\n1,2\n", "is not a Parquet file"),
        ("orders.xlsx", b"order_id,amount\n1,2\n", "is not an Excel workbook"),
    ):
        with pytest.raises(ingest.LoadRejected) as refused:
            ingest.ingest(engine, [ingest.Source(name, data), ingest.Source("stages.csv", b"stage_id\nx\n")])
        assert reason in str(refused.value.problems.shown[0])
    assert store.row_counts(engine) == before
    assert ingest.upload_problem("big.csv", 201 * 1024 * 1024) is not None
    assert ingest.upload_problem("small.csv", 1024) is None
    engine.dispose()
