"""The KPI review as an A4 PDF (fpdf2: pure Python, fonts embedded, no browser): what it covers and the clearest
changes on the first page, period B's journey grid coloured by the change, the table of every stage and KPI with its
verdict, the significant changes drawn as vector bars, the notes, and page numbers.

Everything loaded (stage names, notes, comments) is written as text runs in DejaVu Sans (Latin and Cyrillic, embedded
as a subset): a PDF has no formulas, nothing here turns text into markup, and long text wraps (a word longer than a
line is cut across lines) instead of running off the page."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from components.builders import review_view
from data_access import i18n
from data_access.i18n import _
from data_access.queries import review

FONTS = Path(__file__).with_name("fonts")
FAMILY = "DejaVu"
INK = "#222222"
MUTED = "#666666"
BAR = {review.IMPROVED: "#0072B2", review.DECLINED: "#D55E00"}


class _Report(FPDF):
    """A4 landscape with the review's title and "page X of Y" at the foot of every page."""

    def __init__(self, title: str) -> None:
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self.report_title = title
        self.add_font(FAMILY, "", FONTS / "DejaVuSans.ttf")
        self.add_font(FAMILY, "B", FONTS / "DejaVuSans-Bold.ttf")
        self.set_auto_page_break(auto=True, margin=14)
        self.set_margins(12, 12, 12)
        self.set_title(title)
        self.set_lang(i18n.current())
        self.set_creator("CJM retention dashboard")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FAMILY, "", 7)
        self.set_text_color(MUTED)
        page = _("Page {page} of {pages}").format(page=self.page_no(), pages="{nb}")
        self.cell(0, 5, f"{self.report_title} · {page}", align="C")

    def heading(self, text: str, size: float = 12) -> None:
        self.set_font(FAMILY, "B", size)
        self.set_text_color(INK)
        self.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1.5)

    def paragraph(self, text: str, size: float = 9, colour: str = INK, bold: bool = False) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)
        self.set_text_color(colour)
        self.multi_cell(0, size * 0.48, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _lists(pdf: _Report, said: dict[str, list[str]]) -> None:
    for verdict, title, none in (
        (review.IMPROVED, _("Clearest improvements"), _("No significant improvement.")),
        (review.DECLINED, _("Clearest declines"), _("No significant decline.")),
    ):
        pdf.heading(title, 11)
        for line in said.get(verdict) or [none]:
            pdf.paragraph(f"•  {line}")
        pdf.ln(2)


def _grid(pdf: _Report, frame: pl.DataFrame, stages: pl.DataFrame) -> None:
    text, colours = review_view.change_grid(frame, stages)
    pdf.add_page()
    pdf.heading(_("Period B's journey, coloured by the change against A"))
    if text.empty:
        pdf.paragraph(_("No figures in either period."))
        return
    pdf.set_font(FAMILY, "", 5.6)
    columns = len(text.columns)
    label_width = 26
    widths = [label_width, *[(pdf.epw - label_width) / columns] * columns]
    head = FontFace(family=FAMILY, emphasis="BOLD", size_pt=5.6, fill_color="#f4f4f4")
    with pdf.table(col_widths=widths, headings_style=head, line_height=2.6, text_align="LEFT", padding=0.8) as table:
        top = table.row()
        top.cell("KPI")
        for name in text.columns:
            top.cell(str(name))
        for label, cells, tints in zip(
            text.index, text.itertuples(index=False), colours.itertuples(index=False), strict=True
        ):
            row = table.row()
            row.cell(str(label), style=FontFace(emphasis="BOLD"))
            for value, tint in zip(cells, tints, strict=True):
                row.cell(str(value), style=FontFace(fill_color=tint))
    pdf.ln(2)
    pdf.paragraph(_legend(), 7, MUTED)


def _legend() -> str:
    words = " · ".join(
        f"{review_view.VERDICT_ICON[v]} {review.verdict_word(v)}"
        for v in (review.IMPROVED, review.DECLINED, review.NO_CLEAR_CHANGE, review.TOO_FEW)
    )
    return f"{words} · " + _("improved and declined only where the change is significant (p < 0.05)")


def _table(pdf: _Report, frame: pl.DataFrame, names: dict[str, str]) -> None:
    shown = review_view.table(frame.drop([c for c in ("done", "planned") if c in frame.columns]), names)
    pdf.add_page()
    pdf.heading(_("Every stage and KPI"))
    if shown.empty:
        pdf.paragraph(_("No figures in either period."))
        return
    widths = [38, 42, 18, 14, 18, 14, 20, 14, 32, 18, 25]
    head = FontFace(family=FAMILY, emphasis="BOLD", size_pt=7, fill_color="#f4f4f4")
    pdf.set_font(FAMILY, "", 7)
    tints = [review_view.VERDICT_TINT[v] for v in frame["verdict"].to_list()]
    with pdf.table(col_widths=widths, headings_style=head, line_height=3.4, text_align="LEFT", padding=0.8) as table:
        top = table.row()
        for column in shown.columns:
            top.cell(str(column))
        for values, tint in zip(shown.itertuples(index=False), tints, strict=True):
            row = table.row()
            for value in values:
                row.cell(i18n.number(value) if isinstance(value, int) else str(value), style=FontFace(fill_color=tint))


def _chart(pdf: _Report, frame: pl.DataFrame, names: dict[str, str]) -> None:
    """The significant changes as horizontal bars from a zero line, drawn with lines and rectangles (vector)."""
    chosen = frame.filter(pl.col("verdict").is_in([review.IMPROVED, review.DECLINED]) & pl.col("change").is_not_null())
    _section(pdf, _("Significant changes, B against A (blue improved, orange declined)"))
    if chosen.height == 0:
        pdf.paragraph(_("None significant."))
        return
    pdf.paragraph(_("change (points; per customer for contacts)"), 8, MUTED)
    pdf.ln(2)
    label_width, value_width, bar_height, gap = 90, 22, 5.0, 2.0
    left = pdf.l_margin + label_width
    span = pdf.epw - label_width - 2 * value_width
    largest = max(abs(c) for c in chosen["change"].to_list()) or 1.0
    has_negative = any(c < 0 for c in chosen["change"].to_list())
    zero = left + value_width + (span / 2 if has_negative else 0)
    scale = (span / 2 if has_negative else span) / largest
    for r in chosen.iter_rows(named=True):
        if pdf.will_page_break(bar_height + gap):
            pdf.add_page()
        y = pdf.get_y()
        kpi = review.KPIS[r["metric"]]
        pdf.set_font(FAMILY, "", 7.5)
        pdf.set_text_color(INK)
        label = f"{_(kpi.label)}, {review_view.where_label(r['stage_id'], names)}"
        pdf.set_xy(pdf.l_margin, y + 0.9)
        pdf.multi_cell(label_width - 2, 3.2, label, align="R")
        length = r["change"] * scale
        start = zero if length >= 0 else zero + length
        pdf.set_fill_color(BAR[r["verdict"]])
        pdf.rect(start, y, abs(length), bar_height, style="F")
        pdf.set_draw_color(MUTED)
        pdf.line(zero, y - gap / 2, zero, y + bar_height + gap / 2)  # the zero line, one piece per bar
        pdf.set_xy(zero + length + 1 if length >= 0 else zero + length - value_width - 1, y)
        pdf.cell(value_width, bar_height, review.format_change(kpi, r["change"]), align="L" if length >= 0 else "R")
        pdf.set_y(max(pdf.get_y(), y + bar_height) + gap)


def _section(pdf: _Report, title: str) -> None:
    """A section after the one before it, on a new page only when less than a quarter of this one is left."""
    pdf.ln(8)
    if pdf.will_page_break(pdf.eph / 4):
        pdf.add_page()
    pdf.heading(title)


def _notes(pdf: _Report, frame: pl.DataFrame, names: dict[str, str]) -> None:
    noted = (
        frame.filter(pl.col("done").is_not_null() | pl.col("planned").is_not_null())
        if {"done", "planned"} <= set(frame.columns)
        else frame.clear()
    )
    _section(pdf, _("Notes: what was done, what is planned"))
    if noted.height == 0:
        pdf.paragraph(_("No notes."))
        return
    for r in noted.iter_rows(named=True):
        pdf.paragraph(
            f"{review_view.where_label(r['stage_id'], names)} · {_(review.KPIS[r['metric']].label)}", 9, bold=True
        )
        for word, text in ((_("Done"), r["done"]), (_("Planned"), r["planned"])):
            if text:
                pdf.paragraph(f"{word}: {text}", 8.5)
        pdf.ln(2)


def to_pdf(frame: pl.DataFrame, stages: pl.DataFrame, about: list[str], said: dict[str, list[str]]) -> bytes:
    """The review as an A4 PDF in the current language (see the module's docstring)."""
    names = dict(stages.select("stage_id", "name").iter_rows())
    pdf = _Report(_("KPI review"))
    pdf.add_page()
    pdf.heading(_("KPI review"), 18)
    for line in about:
        pdf.paragraph(line, 9)
        pdf.ln(0.8)
    pdf.ln(3)
    _lists(pdf, said)
    _grid(pdf, frame, stages)
    _table(pdf, frame, names)
    _chart(pdf, frame, names)
    _notes(pdf, frame, names)
    return bytes(pdf.output())
