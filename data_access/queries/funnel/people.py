"""The people behind a step: who reached it and went no further (PostHog's ``persons`` of a funnel step)."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import schema
from data_access.access import masked
from data_access.filters import Filters
from data_access.queries.funnel.attempts import chosen_attempts, how
from data_access.queries.funnel.spec import FunnelError, FunnelSpec, cu
from data_access.store import contact_columns, fetch_frame

CLI_COLUMNS = (
    "stage_id",
    "customers",
    "conversion_from_previous",
    "conversion_from_first",
    "median_seconds_to_convert",
)


def dropped_query(
    spec: FunnelSpec,
    filters: Filters,
    step: int,
    limit: int,
    *,
    stored: bool = False,
    dialect: str = "",
    contact: tuple[sa.ColumnElement, ...] = (),
) -> sa.Select:
    """Customers whose furthest step is ``step`` (they never reached the next one), with their attributes
    (``contact``: their e-mail and name, :func:`store.contact_columns`)."""
    chosen = chosen_attempts(spec, filters, stored=stored, dialect=dialect)
    return (
        sa.select(
            chosen.c.customer_id,
            *contact,
            *(cu.c[d] for d in schema.FILTER_DIMENSIONS),
            cu.c.signup_at,
            chosen.c.entered_at,
        )
        .join(cu, cu.c.customer_id == chosen.c.customer_id)
        .where(chosen.c.depth == step + 1)
        .order_by(chosen.c.customer_id)
        .limit(limit)
    )


def dropped(conn: Connection, spec: FunnelSpec, filters: Filters, step: int, limit: int) -> pl.DataFrame:
    if not 0 <= step < len(spec.steps) - 1:
        raise FunnelError(f"Step {step} has no next step to drop before")
    contact = tuple(contact_columns(conn))
    query = dropped_query(spec, filters, step, limit, contact=contact, **how(conn, spec, filters))
    schema_overrides = {"customer_id": pl.String, "email": pl.String, "customer_name": pl.String}
    return masked(fetch_frame(conn, query, schema_overrides), filters.scope)
