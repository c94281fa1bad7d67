"""Who is who: a source's row names its customer by an id, an e-mail, or both. The customer is the store's row with
that ``customer_id``, else the one whose ``email`` matches (case-insensitive); a customer the store does not know is
created, keyed by the e-mail (lower case) or else the id, with ``signup_at`` = first seen and ``unknown`` for each
attribute the filters narrow on. Only the keys the file names are looked up, a chunk at a time."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from data_access import schema
from data_access.sources.shaping import EMAIL, REFERENCE
from data_access.store import dialect

UNKNOWN = "unknown"
CHUNK = 2_000  # keys per lookup statement (bound as one expanding parameter)
ATTRIBUTES = ("segment", "channel", "region", "plan")  # the customers' required attributes a source cannot know


def _matching(conn: Connection, select: list[sa.ColumnElement], key: sa.ColumnElement, values: list[str]) -> list:
    """The rows of ``select`` whose ``key`` is one of ``values``: one statement where the store takes the whole list
    as one parameter (DuckDB, PostgreSQL), else a statement per chunk of bound values."""
    query = sa.select(*select).select_from(schema.customers)
    if conn.dialect.name in dialect.LIST_PARAMETER:
        return list(conn.execute(query.where(dialect.in_list(key, dialect.list_bind("keys"))), {"keys": values}))
    chunked = query.where(key.in_(sa.bindparam("keys", expanding=True)))
    return [
        row
        for start in range(0, len(values), CHUNK)
        for row in conn.execute(chunked, {"keys": values[start : start + CHUNK]})
    ]


def _known_ids(conn: Connection, ids: list[str]) -> set[str]:
    c = schema.customers.c
    return {str(row[0]) for row in _matching(conn, [c.customer_id], c.customer_id, ids)}


def _ids_by_email(conn: Connection, emails: list[str]) -> dict[str, str]:
    """Each e-mail's customer (the first by id where several share one)."""
    c = schema.customers.c
    found: dict[str, str] = {}
    for email, customer in sorted(
        _matching(conn, [sa.func.lower(c.email), c.customer_id], sa.func.lower(c.email), emails),
        key=lambda r: (str(r[0]), str(r[1])),
    ):
        found.setdefault(str(email), str(customer))
    return found


@dataclass(frozen=True)
class Resolved:
    frame: pl.DataFrame  # the rows with customer_id set to the store's customer (e-mail column dropped)
    new_customers: pl.DataFrame  # customers rows to create (contract columns), empty when everyone is known


def resolve(conn: Connection, frame: pl.DataFrame, time_column: str) -> Resolved:
    """Each row's customer, and the customers to create for the ones the store does not know."""
    none = pl.lit(None, pl.String)
    raw_id = pl.col(REFERENCE).cast(pl.String).str.strip_chars() if REFERENCE in frame.columns else none
    raw_mail = pl.col(EMAIL).cast(pl.String).str.strip_chars() if EMAIL in frame.columns else none
    # a value with an @ is an e-mail wherever it stands; one without is an id, even in an e-mail column
    by_id = pl.coalesce(
        pl.when(~raw_id.str.contains("@")).then(raw_id), pl.when(~raw_mail.str.contains("@")).then(raw_mail)
    )
    by_mail = pl.coalesce(
        pl.when(raw_mail.str.contains("@")).then(raw_mail), pl.when(raw_id.str.contains("@")).then(raw_id)
    )
    work = frame.with_columns(by_id.alias("_id"), by_mail.str.to_lowercase().alias("_mail"))
    ids = work["_id"].drop_nulls().unique().to_list()
    known = _known_ids(conn, ids) if ids else set()
    emails = work.filter(~pl.col("_id").is_in(list(known)) | pl.col("_id").is_null())["_mail"].drop_nulls().unique()
    by_email = _ids_by_email(conn, emails.to_list()) if emails.len() else {}
    found = pl.DataFrame(
        {"_mail": list(by_email), "_by_mail": list(by_email.values())},
        schema=[("_mail", pl.String), ("_by_mail", pl.String)],
    )
    work = work.join(found, on="_mail", how="left")
    known_id = pl.when(pl.col("_id").is_in(list(known))).then(pl.col("_id"))
    work = work.with_columns(
        pl.coalesce(known_id, pl.col("_by_mail")).alias("_store"),
        pl.coalesce(pl.col("_mail"), pl.col("_id")).alias("_new"),
    )
    unknown = work.filter(pl.col("_store").is_null() & pl.col("_new").is_not_null())
    new_customers = (
        unknown.group_by("_new")
        .agg(pl.col(time_column).min().alias("signup_at"), pl.col("_mail").drop_nulls().first().alias("email"))
        .rename({"_new": "customer_id"})
        .with_columns(*(pl.lit(UNKNOWN).alias(a) for a in ATTRIBUTES))
        .sort("customer_id")
    )
    out = work.with_columns(pl.coalesce("_store", "_new").alias(REFERENCE)).drop(
        ["_id", "_mail", "_by_mail", "_store", "_new", EMAIL], strict=False
    )
    return Resolved(out, new_customers)
