"""The columns every table of the store is made of, and the one ``MetaData`` they all belong to."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

metadata = sa.MetaData()

ID = sa.String(64)
NAME = sa.String(200)
# MySQL/MariaDB DATETIME drops fractions of a second unless told otherwise.
TIMESTAMP = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
EMAIL = sa.String(254)


def bound_time(value: Any) -> sa.BindParameter:
    """A time as a bound parameter of the store's timestamp type (naive UTC)."""
    return sa.bindparam(None, value, type_=TIMESTAMP)


def col(
    name: str,
    type_: Any,
    *,
    required: bool = True,
    doc: str,
    example: str,
    key: bool = False,
    enum: tuple[Any, ...] | None = None,
    range_: tuple[float | None, float | None] | None = None,
    made_up: bool = False,
) -> sa.Column:
    """A contract column. ``made_up``: optional in input files, filled in by ingestion, never null when stored."""
    return sa.Column(
        name,
        type_,
        primary_key=key,
        nullable=not (required or key or made_up),
        info={
            "doc": doc,
            "example": example,
            "required": required and not made_up,
            "enum": enum,
            "range": range_,
            "made_up": made_up,
        },
    )
