"""Every download of the app: CSV through the export rules (no cell a spreadsheet would run, see
``data_access.exports``), and each click recorded in the audit log with what the file holds."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import streamlit as st

from components import auth
from components.builders import labels
from data_access import exports, i18n

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML = "text/html"
PDF = "application/pdf"


def csv_button(label: str, frame: pl.DataFrame, file_name: str, key: str, about: str = "") -> None:
    """A CSV of ``frame``, written when clicked; ``about`` (the filters in words) goes to the audit log with the
    file's name and rows."""
    detail = f"{frame.height:,} rows" + (f" · {about}" if about else "")
    file_button(label, lambda: exports.csv_text(labels.headers(frame)), file_name, CSV, key, detail)


def file_button(
    label: str, data: str | bytes | Callable[[], str | bytes], file_name: str, mime: str, key: str, about: str = ""
) -> None:
    """A download (``data`` may be a callable: built when clicked, in this run's language), recorded in the audit
    log when clicked."""
    if callable(data):
        build, language = data, i18n.current()

        def data() -> str | bytes:  # Streamlit may call it outside this script run: the language goes with it
            with i18n.using(language):
                return build()

    st.download_button(
        label,
        data,
        file_name=file_name,
        mime=mime,
        key=key,
        on_click=lambda: auth.audit("export", file_name, about or None),
    )
