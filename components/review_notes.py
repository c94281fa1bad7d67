"""The review's notes (what was done since the last review, what is planned, per KPI) and saving the review with
them: an editor beside what was tried last time, saved through ``data_access.reviews`` in one transaction."""

from __future__ import annotations

import pandas as pd
import polars as pl
import streamlit as st

from components import editors
from components.builders import review_view
from data_access import i18n, reviews
from data_access.filters import Filters, Period
from data_access.i18n import _
from data_access.queries import review


def editor(frame: pl.DataFrame, names: dict[str, str], tried: pl.DataFrame, key: str) -> pl.DataFrame:
    """Notes per KPI, next to the notes of the newest other saved review; returns stage_id, metric, done, planned."""
    last = {(r["stage_id"], r["metric"]): r for r in tried.iter_rows(named=True)}
    has_notes = "done" in frame.columns
    stage, verdict, tried_col = _("Stage"), _("Verdict"), _("Tried last time")
    done, planned = _("Done"), _("Planned")
    rows = []
    for r in frame.iter_rows(named=True):
        before = last.get((r["stage_id"], r["metric"]))
        rows.append(
            {
                stage: review_view.where_label(r["stage_id"], names),
                "KPI": _(review.KPIS[r["metric"]].label),
                done: (r["done"] or "") if has_notes else "",
                planned: (r["planned"] or "") if has_notes else "",
                verdict: review.verdict_word(r["verdict"]),
                tried_col: "" if before is None else " / ".join(x for x in (before["done"], before["planned"]) if x),
            }
        )
    edited = st.data_editor(
        pd.DataFrame(rows),
        key=key,
        hide_index=True,
        width="stretch",
        disabled=[stage, "KPI", verdict, tried_col],
        column_config={
            done: st.column_config.TextColumn(_("Done since the last review")),
            planned: st.column_config.TextColumn(_("Planned")),
        },
    )
    notes = pl.DataFrame(
        {
            "stage_id": frame["stage_id"],
            "metric": frame["metric"],
            "done": [None if v is None else str(v) for v in edited[done]],
            "planned": [None if v is None else str(v) for v in edited[planned]],
        },
        schema={"stage_id": pl.String, "metric": pl.String, "done": pl.String, "planned": pl.String},
    )
    trimmed = [pl.col(c).str.strip_chars() for c in reviews.NOTE_COLUMNS]
    return notes.with_columns(
        pl.when(t == "").then(None).otherwise(t).alias(c) for t, c in zip(trimmed, reviews.NOTE_COLUMNS, strict=True)
    )


def read_only(frame: pl.DataFrame, names: dict[str, str], tried: pl.DataFrame) -> None:
    """The notes as a table to read (for a role that may not write them)."""
    last = {(r["stage_id"], r["metric"]): r for r in tried.iter_rows(named=True)}
    rows = [
        {
            _("Stage"): review_view.where_label(r["stage_id"], names),
            "KPI": _(review.KPIS[r["metric"]].label),
            _("Done since the last review"): r["done"] or "",
            _("Planned"): r["planned"] or "",
            _("Tried last time"): " / ".join(
                x for x in (last.get((r["stage_id"], r["metric"]), {}).get(k) for k in reviews.NOTE_COLUMNS) if x
            ),
        }
        for r in frame.iter_rows(named=True)
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="review_notes_read")
    st.caption(_("Your role reads the notes; analysts write them and save the review."))


def save_form(url: str, kept: pl.DataFrame, a: Period, b: Period, customers: Filters, suggested: str) -> None:
    """Name and save the review: periods, customer filters, ``kept`` (every figure as it is now with the notes,
    :func:`reviews.with_notes`)."""
    name = st.text_input(_("Save this review as"), value=suggested, key="review_save_name")
    if st.button(_("Save the review"), type="primary", key="review_save"):
        editors.write(
            url,
            lambda w: _("Saved the review {name}: {n} KPIs with their notes, as they are now.").format(
                name=name.strip(), n=i18n.number(reviews.save(w, name, a, b, customers, kept))
            ),
            ("save", f"review {name.strip()}"),
        )
