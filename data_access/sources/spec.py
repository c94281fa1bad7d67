"""What a source is: a declarative description of one vendor's export, mapped onto one table of the contract.

A :class:`Source` says, per contract column, which of the vendor's columns hold it (the aliases seen in real exports,
the first present one winning row by row), how the value is read (:data:`READS`), how the vendor's values translate
(``values``) and what an untranslated value becomes (``other``). Rows the vendor exports but the contract does not
want are left out by ``keep``; line items are collapsed by ``collapse_by``. Times are read as the file says: an
offset in the value, a zone in the header (``Created at (Europe/Berlin)``), epoch seconds, else ``zone`` (``"UTC"``
where the vendor documents UTC, or ``None``: the user must say which zone the file's times are in).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

# How a vendor column is read into a contract column:
READS = {
    "text": "the value as text",
    "time": "a time",
    "number": "a number (1,234.50 and 1234,50 alike)",
    "integer": "a whole number",
    "boolean": "true/false, yes/no, 1/0",
    "at_least_one": "a whole number; empty or 0 counts as 1",
    "positive": "true when the number is above 0",
    "present": "true when the value is not empty",
    "first_mapped": "a list (spaces or commas): the first item the value map knows",
}
KEEP, NULL, REFUSE = "keep", "null", "refuse"  # what a value the map does not know becomes (else: a given value)
FAMILIES = {"tickets": "tickets", "answers": "survey_responses", "events": "journey_events", "orders": "orders"}


@dataclass(frozen=True)
class Field:
    """Where one contract column comes from."""

    aliases: tuple[str, ...] = ()
    read: str = "text"
    values: Mapping[str, Any] = field(default_factory=dict)
    other: Any = KEEP
    default: Any = None  # what an empty value becomes
    derive: Callable[[Any, Field], pl.Expr] | None = None  # a rule of the source's own: (the file, this field)
    note: str = ""  # how it is derived, in words (the README's table)

    def __post_init__(self) -> None:
        if self.read not in READS:
            raise ValueError(f"unknown read {self.read!r}")


@dataclass(frozen=True)
class Keep:
    """Rows kept: ``column`` (first alias present) is one of ``values`` (case-insensitive; "" = empty)."""

    aliases: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class Companion:
    """A second file the vendor exports beside the main one (Intercom's CSAT file): told apart by ``signature``,
    joined to the main file's rows by ``key`` (aliases in both), its ``columns`` brought over under the names the
    main file's fields read (main column name -> the companion's aliases)."""

    signature: tuple[str, ...]
    key: tuple[str, ...]
    columns: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Source:
    """One vendor's export of one family (tickets, answers, events, orders)."""

    name: str
    title: str
    family: str
    fields: Mapping[str, Field]
    key: str  # the contract column holding the vendor's own id (the dedup key)
    signature: tuple[str, ...] = ()  # headers that tell this vendor's file apart (all present)
    zone: str | None = "UTC"  # the zone of times that carry neither an offset nor a zone in their header
    keep: tuple[Keep, ...] = ()
    collapse_by: tuple[str, ...] = ()  # aliases of the column that groups line items into one row (first row wins)
    header_rows: int = 1
    formats: str = "CSV"
    notes: str = ""
    generic: bool = False  # the user picks the columns (a survey tool's own questions)
    companion: Companion | None = None

    @property
    def table(self) -> str:
        return FAMILIES[self.family]


def norm(name: str) -> str:
    """A header as compared: lower case, spaces squeezed, a trailing "(zone)" left out."""
    base = re.sub(r"\s*\((?:[A-Za-z_]+/[A-Za-z_/+-]+|UTC|GMT)\)\s*$", "", str(name))
    return " ".join(base.lower().split())
