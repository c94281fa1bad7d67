"""Experiments: each variant against the control on a share, with scipy.stats (a two-proportion test, the
sample-ratio mismatch check, the smallest lift the sample detects)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from data_access.i18n import N_
from data_access.metrics.statistics import SIGNIFICANCE_LEVEL

SRM_ALPHA = 0.001  # a sample-ratio mismatch this unlikely under an even split means the assignment is broken


POWER = 0.8


WINNER, NO_DIFFERENCE, NOT_ENOUGH, SRM = (
    N_("winner"),
    N_("no difference detected"),
    N_("not enough data"),
    N_("SRM: do not trust"),
)


@dataclass(frozen=True)
class Verdict:
    """One variant against the control on a share (retention, conversion, CSAT), in percent and points."""

    control: str
    variant: str
    control_rate: float | None
    variant_rate: float | None
    lift: float | None  # variant - control, points
    lift_lo: float | None
    lift_hi: float | None
    p_value: float | None
    srm_p: float | None  # chi-square of the assignment counts against an even split
    mde: float | None  # the smallest lift (points) this sample detects with 80% power at the 5% level
    verdict: str
    winner: str | None = None


def control_of(variants: list[str]) -> str:
    """The variant named control (any case), else the first by name."""
    return next((v for v in variants if v.lower() == "control"), sorted(variants)[0])


def experiment_verdicts(frame: pl.DataFrame, min_n: int, alpha: float = SIGNIFICANCE_LEVEL) -> list[Verdict]:
    """From per-variant ``assigned``, ``n`` (judged) and ``k`` (successes): each variant against the control.
    The lift's interval is the normal (Wald) interval of a difference of proportions, its p-value the chi-square
    test of the 2x2 table (scipy.stats.chi2_contingency, no continuity correction: the two-proportion z-test),
    the SRM check a chi-square of the assignment counts against an even split (scipy.stats.chisquare), the MDE
    (z_{1-alpha/2} + z_{power}) sqrt(p(1-p)(1/n_c + 1/n_v)) at the control's rate."""
    from scipy import stats

    if frame.height < 2:
        return []
    rows = {r["variant"]: r for r in frame.iter_rows(named=True)}
    control = control_of(list(rows))
    assigned = [int(rows[v]["assigned"]) for v in rows]
    srm_p = float(stats.chisquare(assigned).pvalue) if sum(assigned) > 0 else None
    c = rows[control]
    out = []
    for name, v in rows.items():
        if name == control:
            continue
        n0, k0, n1, k1 = int(c["n"]), int(c["k"]), int(v["n"]), int(v["k"])
        if min(n0, n1) == 0:
            out.append(Verdict(control, name, None, None, None, None, None, None, srm_p, None, NOT_ENOUGH))
            continue
        p0, p1 = k0 / n0, k1 / n1
        z = float(stats.norm.ppf(1 - alpha / 2))
        se = math.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
        table = [[k1, n1 - k1], [k0, n0 - k0]]
        degenerate = (k0 + k1) in (0, n0 + n1)
        p_value = 1.0 if degenerate else float(stats.chi2_contingency(table, correction=False).pvalue)
        spread = math.sqrt(max(p0 * (1 - p0), 1e-12) * (1 / n0 + 1 / n1))
        mde = 100 * (z + float(stats.norm.ppf(POWER))) * spread
        lift = 100 * (p1 - p0)
        if srm_p is not None and srm_p < SRM_ALPHA:
            verdict, winner = SRM, None
        elif min(n0, n1) < min_n:
            verdict, winner = NOT_ENOUGH, None
        elif p_value < alpha:
            verdict, winner = WINNER, name if lift > 0 else control
        else:
            verdict, winner = NO_DIFFERENCE, None
        out.append(
            Verdict(
                control,
                name,
                100 * p0,
                100 * p1,
                lift,
                lift - 100 * z * se,
                lift + 100 * z * se,
                p_value,
                srm_p,
                mde,
                verdict,
                winner,
            )
        )
    return out
