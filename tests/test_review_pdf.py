"""The KPI review as a PDF: every figure of the review's table in its text with the XLSX's values, in English and in
Russian (Cyrillic fonts embedded), a saved review with its frozen figures and notes, loaded text kept as text, and
its pages rendered to PNG."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from pypdf.generic import ArrayObject

from components.builders import review_pdf, review_view
from data_access import i18n, reviews, store
from data_access.filters import Filters, Period
from data_access.loading import ingest
from data_access.queries import review
from tests.test_cli import cli
from tests.test_exports import FORMULA, SCRIPT
from tests.test_review_view import ABOUT, FRAME, SAID, STAGES

SPAN = ("--a-from", "2025-07-01", "--a-to", "2025-12-31", "--b-from", "2026-01-01", "--b-to", "2026-06-30")
A, B = Period.parse("2025-07-01", "2025-12-31"), Period.parse("2026-01-01", "2026-06-30")


def text_of(pdf: bytes) -> str:
    """The PDF's text, pages joined, every run of white space (narrow and no-break spaces too) as one space (and
    "_ _" as "__": pypdf reads two underscores drawn side by side as two words)."""
    reader = PdfReader(io.BytesIO(pdf))
    text = re.sub(r"[\s\u00a0\u202f]+", " ", " ".join(page.extract_text() for page in reader.pages))
    return re.sub(r"_ (?=_)", "_", text)


def spaced(text: str) -> str:
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def runs_nothing(pdf: bytes) -> None:
    """No script, action, form or attachment in the file: a PDF reader only shows it (its opening action is a view)."""
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"].get_object()
    assert not {"/AcroForm", "/AA", "/Names"} & set(root), set(root)  # no form, no trigger, no named scripts or files
    opening = root.get("/OpenAction")
    assert opening is None or isinstance(opening.get_object(), ArrayObject)  # a page and a zoom, not an action
    for page in reader.pages:
        assert "/AA" not in page and "/Annots" not in page


def fonts_of(pdf: bytes) -> set[str]:
    """The embedded fonts' names (each page's font resources with a font file)."""
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            assert "/FontFile2" in descendant["/FontDescriptor"].get_object()  # the TrueType font is in the file
            names.add(str(font["/BaseFont"]))
    return names


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('pdf') / 'sample.duckdb'}"
    engine = store.create_store_engine(url)
    store.init_store(engine)
    ingest.seed(engine, 2_000, 7)
    engine.dispose()
    return url


def expected_cells(row: dict, language: str) -> str:
    """A table row of the PDF, from the XLSX's row: the KPI, A, its n, B, its n and the change, formatted."""
    with i18n.using(language):
        kpi = review.KPIS[row["metric"]]
        return spaced(
            " ".join(
                [
                    _label(kpi.label),
                    review.format_value(kpi, row["a"]),
                    i18n.number(row["a_n"]),
                    review.format_value(kpi, row["b"]),
                    i18n.number(row["b_n"]),
                    review.format_change(kpi, row["change"]),
                ]
            )
        )


def _label(label: str) -> str:
    return i18n._(label)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_pdf_holds_every_figure_of_the_xlsx(sample: str, tmp_path: Path, language: str) -> None:
    xlsx, pdf = tmp_path / "review.xlsx", tmp_path / "review.pdf"
    done = cli("review", "--db", sample, *SPAN, "--format", "xlsx", "--out", str(xlsx))
    assert done.returncode == 0, done.stderr
    done = cli("review", "--db", sample, *SPAN, "--format", "pdf", "--out", str(pdf), "--lang", language)
    assert done.returncode == 0, done.stderr
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    sheet = load_workbook(xlsx).active
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in sheet.iter_rows(min_row=2)]
    assert len(rows) > 20
    text = text_of(data)
    missing = [expected_cells(r, language) for r in rows if expected_cells(r, language) not in text]
    assert not missing, (missing[:3], text[:2000])
    with i18n.using(language):
        for words in (i18n._("KPI review"), i18n._("Every stage and KPI"), i18n._("Clearest declines")):
            assert spaced(words) in text
    if language == "ru":
        assert "Весь путь" in text and "Страница 1 из" in text
    else:
        assert "Whole journey" in text and "Page 1 of" in text
    assert len(fonts_of(data)) == 2 and all("DejaVuSans" in n for n in fonts_of(data))  # embedded, as subsets
    runs_nothing(data)


def test_a_saved_review_makes_the_same_pdf_with_its_frozen_figures(sample: str, tmp_path: Path) -> None:
    engine = store.create_store_engine(sample)
    live = review.load(engine, Filters(segment=("B2C",)), A, B, 30)
    notes = pl.DataFrame({"stage_id": ["*"], "metric": ["nps"], "done": ["Called the detractors"], "planned": [None]})
    reviews.save(engine, "H2 against H1", A, B, Filters(segment=("B2C",)), reviews.with_notes(live, notes))
    engine.dispose()
    out = tmp_path / "saved.pdf"
    done = cli("review", "--db", sample, "--saved", "H2 against H1", "--format", "pdf", "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = text_of(out.read_bytes())
    assert "saved review H2 against H1" in text and "segment = B2C" in text
    assert "Called the detractors" in text
    for r in live.iter_rows(named=True):
        assert expected_cells(r, "en") in text
    missing = cli("review", "--db", sample, "--saved", "nope", "--format", "pdf", "--out", str(out))
    assert missing.returncode != 0 and "no saved review named 'nope'" in missing.stderr
    both = ("--saved", "H2 against H1", "--segment", "B2B")
    mixed = cli("review", "--db", sample, *both, "--format", "pdf", "--out", str(out))
    assert mixed.returncode != 0 and "give --saved NAME alone" in mixed.stderr
    bad = cli("review", "--db", sample, "--format", "pdf")
    assert bad.returncode != 0 and "--out" in bad.stderr


def test_loaded_text_stays_text_and_a_long_note_wraps() -> None:
    long_note = " ".join(["The onboarding mail was rewritten"] * 60)[:2000]  # a 2,000 character comment
    unbroken = "x" * 400  # one word longer than a line
    stages = pl.DataFrame({"stage_id": ["s"], "name": [SCRIPT]})
    notes = {"stage_id": ["s"], "metric": ["csat"], "done": [FORMULA], "planned": [long_note + unbroken]}
    frame = reviews.with_notes(FRAME, pl.DataFrame(notes))
    data = review_pdf.to_pdf(frame, stages, [*ABOUT, SCRIPT], SAID)
    text = text_of(data)
    assert SCRIPT in text and FORMULA in text  # shown as they were written, nothing more
    assert spaced(long_note) in text and text.count("x") >= 400
    runs_nothing(data)
    reader = PdfReader(io.BytesIO(data))
    for page in reader.pages:  # nothing drawn off the page
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert (round(width), round(height)) == (842, 595)  # A4 landscape, in points


def test_the_chart_is_drawn_not_pasted() -> None:
    data = review_pdf.to_pdf(FRAME, STAGES, ABOUT, SAID)
    reader = PdfReader(io.BytesIO(data))
    assert not any(page.images for page in reader.pages)  # vector bars and text, no picture
    assert "-15.0 pts" in text_of(data)  # the declined CSAT's bar is labelled with its change
    assert reader.pages[-1].extract_text().strip().endswith(f"Page {len(reader.pages)} of {len(reader.pages)}")


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
def test_the_pages_render(tmp_path: Path) -> None:
    with i18n.using("ru"):
        data = review_pdf.to_pdf(FRAME, STAGES, review_view.report_lines(ABOUT, []), SAID)
    (tmp_path / "r.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp_path / "r.pdf"), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(PdfReader(io.BytesIO(data)).pages) and all(p.stat().st_size > 1000 for p in pages)
