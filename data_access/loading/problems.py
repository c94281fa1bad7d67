"""Why a load was refused: each problem with its file, row and column, the first ones shown and all counted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from data_access.config import SETTINGS
from data_access.i18n import _, ngettext


@dataclass(frozen=True)
class Problem:
    """One reason a load was refused. ``row`` counts data rows from 1 (the header is not a row)."""

    file: str
    reason: str
    column: str | None = None
    row: int | None = None

    def __post_init__(self) -> None:
        # SQLAlchemy names are str subclasses that Polars would mistake for rows; keep plain strings.
        if self.column is not None:
            object.__setattr__(self, "column", str(self.column))

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(_("row {n}").format(n=self.row))
        if self.column is not None:
            where.append(_("column {name}").format(name=self.column))
        return f"{', '.join(where)}: {self.reason}"


@dataclass
class Problems:
    """The first problems found (up to the display limit) and how many there are in all."""

    shown: list[Problem] = field(default_factory=list)
    total: int = 0

    def add(self, problem: Problem, count: int = 1) -> None:
        self.total += count
        if len(self.shown) < SETTINGS.max_errors_shown:
            self.shown.append(problem)

    def add_rows(self, file: str, column: str | None, mask: pl.Series, reason: Callable[[int], str]) -> None:
        """One problem per failing row (``mask`` true), each worded by ``reason(row_index)``."""
        bad = mask.fill_null(False).arg_true()
        room = max(SETTINGS.max_errors_shown - len(self.shown), 0)
        for index in bad.head(room).to_list():
            self.shown.append(Problem(file, reason(index), column, index + 1))
        self.total += bad.len()


class LoadRejected(Exception):
    """The load was refused; nothing was written."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        super().__init__(
            ngettext(
                "{n} problem found; nothing was loaded", "{n} problems found; nothing was loaded", problems.total
            ).format(n=problems.total)
        )

    def report(self) -> str:
        lines = [str(self)]
        lines += [f"  {p}" for p in self.problems.shown]
        if self.problems.total > len(self.problems.shown):
            lines.append("  " + _("... and {n} more").format(n=self.problems.total - len(self.problems.shown)))
        return "\n".join(lines)
