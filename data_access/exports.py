"""Files handed out (CSV, XLSX, HTML): nothing a loaded file contains may run where they are opened.

- CSV: a text cell that a spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return) gets a leading apostrophe, as OWASP's CSV-injection advice says; numbers are left alone.
- XLSX: every cell that came from text is written as text (openpyxl would store a string starting with ``=`` as a
  formula), so its value is kept exactly and never evaluated.
- HTML: every value and every row and column label is escaped (pandas ``Styler.to_html`` escapes nothing).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import polars as pl

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = r"^[=+\-@\t\r]"
APOSTROPHE = "'"


def neutral(text: str) -> str:
    """``text`` as a spreadsheet will show it and never run it."""
    return APOSTROPHE + text if text.startswith(FORMULA_START) else text


def unneutral(text: str) -> str:
    """The text :func:`neutral` was given (for a file exported here and imported again)."""
    return text[1:] if text.startswith(APOSTROPHE) and text[1:].startswith(FORMULA_START) else text


def neutral_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of ``frame`` through :func:`neutral` (one expression per column, no Python per row)."""
    text = [name for name, dtype in frame.schema.items() if dtype in (pl.String, pl.Categorical) or dtype == pl.Enum]
    return frame.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(_FORMULA_PATTERN))
        .then(pl.lit(APOSTROPHE) + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in text
    )


def unneutral_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The text columns as they were before :func:`neutral_frame` (a file exported here and imported again)."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(r"^'[=+\-@\t\r]")).then(pl.col(c).str.slice(1)).otherwise(pl.col(c)).alias(c)
        for c in text
    )


def csv_text(frame: pl.DataFrame) -> str:
    """``frame`` as CSV for a download: text cells neutral, see the module's docstring."""
    buffer = io.StringIO()
    neutral_frame(frame).write_csv(buffer)
    return buffer.getvalue()


def append_row(sheet: Any, values: Iterable[Any]) -> None:
    """Appends a row to an openpyxl worksheet, every text value stored as text (never as a formula)."""
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def html_table(styler: Any) -> str:
    """A pandas Styler as an HTML table with every value and label escaped."""
    return (
        styler.format(escape="html").format_index(escape="html", axis=0).format_index(escape="html", axis=1).to_html()
    )
