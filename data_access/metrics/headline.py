"""The Overview's headline figures that are not survey or ticket metrics: retention, churn and reactivation (each a
count over a base, in percent) and CLV (revenue so far over the customers signed up so far). Declared once here; the
Overview's cards use them on the totals of a window, its month lines on the totals of each month."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from data_access.metrics.statistics import percent


@dataclass(frozen=True)
class Rate:
    """A headline rate: ``part`` over ``whole``, in percent (none when there is no base)."""

    name: str
    part: str  # what is counted, in words (for the reader of the code; not shown)
    whole: str  # over what

    def of(self, part: float, whole: float) -> float | None:
        """The rate of two totals (a card's value)."""
        return 100 * part / whole if whole else None

    def expr(self, part: pl.Expr, whole: pl.Expr) -> pl.Expr:
        """The rate of two columns (a month line), null where the base is not positive."""
        return percent(part, whole)


RETENTION = Rate(
    "retention", "customers active in the period and in the one before", "customers active the period before"
)
CHURN = Rate("churn", "customers who churned in the period", "customers at the period's start")
REACTIVATION = Rate(
    "reactivation", "churned customers active again in the period", "customers churned before the period"
)
RATES = {r.name: r for r in (RETENTION, CHURN, REACTIVATION)}


def customer_base(signed_up: float, churned: float) -> float:
    """The customers at a moment: signed up before it, less churned before it."""
    return signed_up - churned


def clv(revenue: float, customers: float) -> float | None:
    """Lifetime value so far: every order amount up to a moment over the customers signed up by then."""
    return revenue / customers if customers else None


def clv_expr(revenue: pl.Expr, signups: pl.Expr) -> pl.Expr:
    """:func:`clv` at each row's end, of per-month columns sorted by month (cumulative sums)."""
    return revenue.fill_null(0).cum_sum() / signups.fill_null(0).cum_sum()
