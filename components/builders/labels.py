"""What the result columns and the dashboard's own words in them are called on screen and in downloads, in the
current language. The queries name their columns once, in English snake case (``customer_id``), which is also
their English header; a table or a CSV shows them through :func:`headers`. Values the dashboard itself writes
(trigger reasons, verdicts) go through :func:`words`; the user's data (stage names, segments, comments) is never
translated."""

from __future__ import annotations

import polars as pl

from data_access.i18n import N_, _

# Result columns as the queries name them: in English the name itself is the header (what the exports have
# always had); a translation names the column in its language. Marked here for the catalogue.
COLUMNS = (
    N_("customer_id"),
    N_("email"),
    N_("customer_name"),
    N_("segment"),
    N_("persona"),
    N_("channel"),
    N_("region"),
    N_("plan"),
    N_("stage"),
    N_("score"),
    N_("reasons"),
    N_("customers at risk"),
    N_("stage_id"),
    N_("metric"),
    N_("value"),
    N_("ci95_low"),
    N_("ci95_high"),
    N_("target"),
    N_("warn"),
    N_("status"),
    N_("responded_at"),
    N_("comment"),
    N_("touchpoint"),
    N_("opened_at"),
    N_("ticket_id"),
    N_("final_line"),
    N_("category"),
    N_("contacts"),
    N_("reopened"),
    N_("resolved_at"),
    N_("variant"),
    N_("assigned"),
    N_("group"),
    N_("churned"),
    N_("churn_rate"),
    N_("csat"),
    N_("entered"),
    N_("converted"),
    N_("conversion"),
    N_("rest_conversion"),
    N_("difference"),
    N_("p_value"),
    N_("significant"),
    N_("verdict"),
    N_("role"),
    N_("granted_by"),
    N_("granted_at"),
    N_("logged_at"),
    N_("who"),
    N_("action"),
    N_("object"),
    N_("detail"),
    N_("entered_at"),
    N_("webhook_id"),
    N_("destination"),
    N_("kind"),
    N_("happened_at"),
    N_("attempts"),
    N_("sent_at"),
    N_("error"),
    N_("occurred_at"),
    N_("survey"),
    N_("judged"),
    N_("successes"),
)


def headers(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its columns named in the current language: the result columns of :data:`COLUMNS` and
    those named by the dashboard's own words (a pivot on trigger reasons); any other name stays as it is."""
    names = {c: _(c) for c in frame.columns}
    return frame.rename({c: n for c, n in names.items() if n != c})


def words(frame: pl.DataFrame, column: str, separator: str | None = None) -> pl.DataFrame:
    """The dashboard's own words in ``column`` (``separator``: several in one cell) in the current language."""
    if frame.height == 0 or column not in frame.columns:
        return frame
    values = frame[column].drop_nulls().unique().to_list()
    if separator:
        parts = {p for v in values for p in v.split(separator)}
        mapping = {v: separator.join(_(p) for p in v.split(separator)) for v in values if parts}
    else:
        mapping = {v: _(v) for v in values}
    return frame.with_columns(pl.col(column).replace(mapping))
