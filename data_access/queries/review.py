"""The semiannual KPI review: every stage's KPIs and the journey's behaviour KPIs in two periods, side by side, with
the change, whether it is statistically significant, and period B's status against the targets.

KPIs (``stage_id`` "*" = the whole journey):
- per stage: CSAT, NPS, CES, FCR (the metrics layer's formulas on the stage's answers and tickets) and, for a step of
  the default funnel but the last, conversion to the next step (the Funnel page's rules, default window);
- the whole journey: CSAT, NPS, CES and FCR over every stage, and
  - repeat purchase rate: customers with two or more orders in the period over customers with one or more;
  - support contacts per customer: the contacts of the tickets opened in the period over the customers on the books
    (signed up by the period's end and not churned before its start);
  - churn rate: customers whose ``churned_at`` falls in the period over those signed up before its start and not
    churned by then;
  - reactivation rate: customers who churned before the period's end and are active (a journey event or an order
    after ``churned_at``) in it, over all who churned before its end. Unlike the overview's month windows (churned
    before the window), a half-year also counts those who cancel and come back within it, most win-backs.
- why they leave and what won them back: the share of exit answers citing price, a missing feature, the support
  experience or a competitor (lower is better), the share of retention offers accepted, and the share of offered
  customers not churned 90 days after the offer.

Tests of a change (two-sided, significant at p < 0.05, and only when both periods have at least ``min_n``):
shares (CSAT, FCR, conversion, repeat purchase, churn, reactivation) by the pooled two-proportion z-test; NPS by its
difference over sqrt(SE_a^2 + SE_b^2) with SE = 100 sqrt((p+ + p- - (p+ - p-)^2) / n); CES by the difference of the
means over sqrt(s_a^2/n_a + s_b^2/n_b); contacts per customer by the difference of the rates over
sqrt(x_a/n_a^2 + x_b/n_b^2) (contacts taken as Poisson counts). A change that is not significant is "no clear change".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import exports, i18n, metrics, schema
from data_access.filters import Filters, Period
from data_access.i18n import N_, _
from data_access.queries import activity, funnel, kpis, retention, why
from data_access.store import fetch_frame, side_by_side
from data_access.store.dialect import has_bits

cu, od, tk = schema.customers, schema.orders, schema.tickets
WHOLE_JOURNEY = schema.ALL_STAGES
CLI_COLUMNS = (
    "stage_id",
    "metric",
    "a",
    "a_n",
    "b",
    "b_n",
    "change",
    "p_value",
    "significant",
    "target",
    "status",
)
# the verdicts are values (of the frames, the CLI and the saved reviews); shown, they go through verdict_word()
IMPROVED, DECLINED, NO_CLEAR_CHANGE, TOO_FEW = "improved", "declined", "no clear change", "not enough data"


def verdict_word(verdict: str) -> str:
    """A verdict in the current language ("declined" here is a KPI gone worse, not an offer turned down)."""
    words = {
        IMPROVED: i18n.pgettext("review verdict", "improved"),
        DECLINED: i18n.pgettext("review verdict", "declined"),
        NO_CLEAR_CHANGE: i18n.pgettext("review verdict", "no clear change"),
        TOO_FEW: i18n.pgettext("review verdict", "not enough data"),
    }
    return words.get(verdict, verdict)


# exit reasons the company can act on, reviewed as the share of exit answers citing them (lower is better)
EXIT_KPIS = {r.replace(" ", "_"): r for r in ("price", "missing feature", "support experience", "moved to competitor")}


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    unit: str  # "%", "points", "score", "per customer"
    higher_is_better: bool
    test: str  # "share" (x1 = k), "nps" (x1 = promoters, x2 = detractors), "mean" (x1 = sum, x2 = sum of squares),
    # "rate" (x1 = count); n is the base in every case


def _metric_kpi(name: str) -> Kpi:
    m = metrics.METRICS[name]
    return Kpi(name, m.label, m.unit, m.higher_is_better, {"wilson": "share", "nps": "nps", "mean": "mean"}[m.interval])


KPIS: dict[str, Kpi] = {
    k.key: k
    for k in (
        *(_metric_kpi(name) for name in metrics.STAGE_METRICS),
        Kpi("conversion", N_("Conversion to next step"), "%", True, "share"),
        Kpi("repeat_purchase", N_("Repeat purchase rate"), "%", True, "share"),
        Kpi("contacts_per_customer", N_("Support contacts per customer"), "per customer", False, "rate"),
        Kpi("churn", N_("Churn rate"), "%", False, "share"),
        Kpi("reactivation", N_("Reactivation rate"), "%", True, "share"),
        Kpi("exit_price", N_("Exits citing price"), "%", False, "share"),
        Kpi("exit_missing_feature", N_("Exits citing missing feature"), "%", False, "share"),
        Kpi("exit_support_experience", N_("Exits citing support experience"), "%", False, "share"),
        Kpi("exit_moved_to_competitor", N_("Exits citing moved to competitor"), "%", False, "share"),
        Kpi("offer_acceptance", N_("Retention offers accepted"), "%", True, "share"),
        Kpi("offer_kept", N_("Offered customers kept 90 days"), "%", True, "share"),
    )
}
FIGURE_SCHEMA = {
    "stage_id": pl.String,
    "metric": pl.String,
    "value": pl.Float64,
    "n": pl.Int64,
    "x1": pl.Float64,
    "x2": pl.Float64,
}
ROW_SCHEMA = {  # a review's row, as :func:`compare` gives it
    "stage_id": pl.String,
    "metric": pl.String,
    "a": pl.Float64,
    "a_n": pl.Int64,
    "b": pl.Float64,
    "b_n": pl.Int64,
    "change": pl.Float64,
    "p_value": pl.Float64,
    "significant": pl.Boolean,
    "verdict": pl.String,
    "target": pl.Float64,
    "warn": pl.Float64,
    "status": pl.String,
}
# the report's column headers (XLSX): in English the names themselves, marked here for the catalogue
REPORT_COLUMNS = (N_("a"), N_("a_n"), N_("b"), N_("b_n"), N_("change"), N_("done"), N_("planned"))
_PIECES = {"share": ("k", None), "nps": ("promoters", "detractors"), "mean": ("sum", "sumsq")}


def _half_year_last(first: date) -> date:
    return date(first.year, 6, 30) if first.month == 1 else date(first.year, 12, 31)


def half_years(last_day: date) -> tuple[Period, Period]:
    """The last two complete half-years (January-June, July-December) ending on or before ``last_day``: (A, B)."""
    year = last_day.year
    if (last_day.month, last_day.day) == (12, 31):
        b_first = date(year, 7, 1)
    elif last_day.month >= 7 or (last_day.month, last_day.day) == (6, 30):
        b_first = date(year, 1, 1)
    else:
        b_first = date(year - 1, 7, 1)
    a_first = date(b_first.year - 1, 7, 1) if b_first.month == 1 else date(b_first.year, 1, 1)
    return Period.days(a_first, _half_year_last(a_first)), Period.days(b_first, _half_year_last(b_first))


def _rated(conn: Connection, filters: Filters) -> pl.DataFrame:
    """CSAT, NPS, CES, FCR per stage and over every stage, with their test pieces (long)."""
    parts = []
    for source_name, chosen in metrics.STAGE_METRICS_BY_SOURCE.items():
        source = schema.TABLES_BY_NAME[source_name]
        both = fetch_frame(
            conn, kpis.metric_per_stage_and_overall_query(source, chosen, filters), {"stage_id": pl.String}
        )
        per_stage = both.filter(pl.col("stage_id").is_not_null())
        overall = both.filter(pl.col("stage_id").is_null())
        if overall.height == 0:  # no answer or ticket in the period: the whole journey's row says n = 0
            empty = pl.DataFrame([dict.fromkeys(both.columns)], schema=both.schema)
            overall = empty.with_columns(pl.lit(0).alias(f"{m.name}_n") for m in chosen)
        for frame in (per_stage, overall.with_columns(pl.lit(WHOLE_JOURNEY).alias("stage_id"))):
            for metric in chosen:
                first, second = _PIECES[KPIS[metric.name].test]
                m = metric.name
                parts.append(
                    frame.select(
                        pl.col("stage_id").cast(pl.String),
                        pl.lit(m).alias("metric"),
                        pl.col(m).cast(pl.Float64).alias("value"),
                        pl.col(f"{m}_n").cast(pl.Int64).fill_null(0).alias("n"),
                        pl.col(f"{m}__{first}").cast(pl.Float64).alias("x1"),
                        (pl.col(f"{m}__{second}") if second else pl.lit(None)).cast(pl.Float64).alias("x2"),
                    )
                )
    return pl.concat(parts) if parts else pl.DataFrame(schema=FIGURE_SCHEMA)


def _conversion(conn: Connection, filters: Filters) -> pl.DataFrame:
    steps = funnel.funnel_stages(conn)
    if len(steps) < funnel.MIN_STEPS:
        return pl.DataFrame(schema=FIGURE_SCHEMA)
    frame = funnel.steps(conn, funnel.FunnelSpec(steps), filters)
    reached = frame["customers"].to_list()
    rows = [
        (steps[k], "conversion", 100 * reached[k + 1] / reached[k] if reached[k] else None, reached[k], reached[k + 1])
        for k in range(len(steps) - 1)
    ]
    return pl.DataFrame([(*r, None) for r in rows], schema=FIGURE_SCHEMA, orient="row")


def _bound(moment: datetime | None) -> sa.BindParameter | None:
    return None if moment is None else sa.bindparam(None, moment, type_=schema.TIMESTAMP)


def _reactivated(conn: Connection, filters: Filters) -> sa.Select:
    """The customers churned by the period's end and active again in it (an event or an order after their churn
    date): from each customer's stored months after it where they cover the period's whole months, else from the
    events' and orders' own copies of the churn date (no join)."""
    period = filters.period
    months = activity.whole_months(period)
    origin = activity.stored_origin(conn, *months) if months else None
    if months and origin is not None:
        ca = schema.customer_activity.c
        return sa.select(sa.func.count()).where(
            filters.customer_clause(ca.customer_id),
            period.before_end(ca[retention.CHURNED]),
            has_bits(ca.months_back, activity.span(origin, *months)),
        )
    back = sa.union(
        *(
            sa.select(table.c[retention.KEY]).where(
                table.c[retention.KEY] > 0,
                filters.customer_clause(table.c.customer_id),
                period.before_end(table.c[retention.CHURNED]),
                table.c[column] > table.c[retention.CHURNED],
                period.clause(table.c[column]),
            )
            for table, column in retention.ACTIVITY
        )
    ).subquery("back")
    return sa.select(sa.func.count()).select_from(back)


def _journey(conn: Connection, filters: Filters) -> pl.DataFrame:
    """Repeat purchase, contacts per customer, churn and reactivation over the period (see the module)."""
    period, who = filters.period, filters.customer_clause(cu.c.customer_id)
    start = _bound(period.start)
    if start is None or period.end is None:
        raise ValueError("a review period needs a start and an end")
    per_buyer = (
        sa.select(od.c[retention.KEY], sa.func.count().label("orders"))
        .where(filters.where(od.c.ordered_at, od.c.customer_id))
        .group_by(od.c[retention.KEY])
        .subquery("orders_in_period")
    )
    buyers = sa.select(sa.func.count(), metrics.count_if(per_buyer.c.orders >= 2)).select_from(per_buyer)
    before_end = period.before_end(cu.c.signup_at)
    not_gone = sa.or_(cu.c.churned_at.is_(None), cu.c.churned_at >= start)
    ended_in = period.clause(cu.c.churned_at)
    churned_by_end = period.before_end(cu.c.churned_at)
    base = sa.select(
        metrics.count_if(sa.and_(before_end, not_gone)).label("books"),
        metrics.count_if(sa.and_(cu.c.signup_at < start, not_gone)).label("at_start"),
        metrics.count_if(sa.and_(cu.c.signup_at < start, not_gone, ended_in)).label("churned"),
        metrics.count_if(churned_by_end).label("gone_by_end"),
    ).where(who)
    contacts = sa.select(sa.func.coalesce(sa.func.sum(tk.c.contacts), 0)).where(
        filters.where(tk.c.opened_at, tk.c.customer_id)
    )
    returned = _reactivated(conn, filters)
    bought, repeat = (int(v or 0) for v in conn.execute(buyers).one())
    books, at_start, churned, gone_by_end = (int(v or 0) for v in conn.execute(base).one())
    touched = float(conn.execute(contacts).scalar_one() or 0)
    reactivated = int(conn.execute(returned).scalar_one() or 0)

    def share(k: int, n: int) -> float | None:
        return 100 * k / n if n else None

    rows = [
        ("repeat_purchase", share(repeat, bought), bought, repeat),
        ("contacts_per_customer", touched / books if books else None, books, touched),
        ("churn", share(churned, at_start), at_start, churned),
        ("reactivation", share(reactivated, gone_by_end), gone_by_end, reactivated),
    ]
    return pl.DataFrame([(WHOLE_JOURNEY, *r, None) for r in rows], schema=FIGURE_SCHEMA, orient="row")


def _why(conn: Connection, filters: Filters) -> pl.DataFrame:
    """The exit answers citing each actionable reason, and the retention offers accepted and the offered customers
    kept 90 days (the pages Why they leave and Retention offers), over the period."""
    reasons = why.exit_reasons(conn, filters)
    total = int(reasons["of"][0]) if reasons.height else 0
    cited = dict(zip(reasons["reason"], reasons["answers"], strict=True))
    rows = [
        (f"exit_{key}", 100 * cited.get(reason, 0) / total if total else None, total, float(cited.get(reason, 0)))
        for key, reason in EXIT_KPIS.items()
    ]
    offers = why.offer_outcomes(conn, filters)
    made = int(offers["customers"].sum()) if offers.height else 0
    accepted = int(offers.filter(pl.col("outcome") == "accepted")["customers"].sum()) if offers.height else 0
    kept = int(offers["kept"].sum()) if offers.height else 0
    rows += [
        ("offer_acceptance", 100 * accepted / made if made else None, made, float(accepted)),
        ("offer_kept", 100 * kept / made if made else None, made, float(kept)),
    ]
    return pl.DataFrame([(WHOLE_JOURNEY, *r, None) for r in rows], schema=FIGURE_SCHEMA, orient="row")


def figures(conn: Connection, filters: Filters) -> pl.DataFrame:
    """Every KPI of the review for one period (``filters.period``): stage_id, metric, value, n and the test's pieces
    x1, x2 (see :class:`Kpi`)."""
    return pl.concat([_rated(conn, filters), _conversion(conn, filters), _journey(conn, filters), _why(conn, filters)])


def _p_value(test: str, a: dict[str, Any], b: dict[str, Any]) -> float | None:
    na, nb = a["n"] or 0, b["n"] or 0
    if not na or not nb:
        return None
    if test == "share":
        return metrics.two_proportion_p_value(round(a["x1"]), na, round(b["x1"]), nb)
    if test == "nps":
        se = [metrics.nps_standard_error(r["x1"], r["x2"], r["n"]) for r in (a, b)]
    elif test == "mean":
        se = [metrics.mean_standard_error(r["x1"], r["x2"], r["n"]) for r in (a, b)]
    else:
        se = [metrics.rate_standard_error(r["x1"], r["n"]) for r in (a, b)]
    if None in se:
        return None
    return metrics.normal_p_value(b["value"] - a["value"], (se[0] ** 2 + se[1] ** 2) ** 0.5)


def compare(a: pl.DataFrame, b: pl.DataFrame, targets: pl.DataFrame, min_n: int) -> pl.DataFrame:
    """One row per stage and KPI: a, a_n, b, b_n, change (b - a), p_value, significant, verdict (improved, declined,
    no clear change, not enough data), target, warn and period B's status against them."""
    keys = ["stage_id", "metric"]
    both = a.join(b, on=keys, how="full", coalesce=True, suffix="_b")
    rows = []
    for r in both.iter_rows(named=True):
        kpi = KPIS[r["metric"]]
        ra = {"value": r["value"], "n": r["n"] or 0, "x1": r["x1"], "x2": r["x2"]}
        rb = {"value": r["value_b"], "n": r["n_b"] or 0, "x1": r["x1_b"], "x2": r["x2_b"]}
        change = rb["value"] - ra["value"] if ra["value"] is not None and rb["value"] is not None else None
        enough = ra["n"] >= min_n and rb["n"] >= min_n
        p = _p_value(kpi.test, ra, rb) if enough and change is not None else None
        significant = p is not None and p < metrics.SIGNIFICANCE_LEVEL
        if not enough:
            verdict = TOO_FEW
        elif not significant:
            verdict = NO_CLEAR_CHANGE
        else:
            verdict = IMPROVED if (change > 0) == kpi.higher_is_better else DECLINED
        rows.append(
            (r["stage_id"], r["metric"], ra["value"], ra["n"], rb["value"], rb["n"], change, p, significant, verdict)
        )
    compared = {c: t for c, t in ROW_SCHEMA.items() if c not in ("target", "warn", "status")}
    frame = pl.DataFrame(rows, schema=compared, orient="row")
    return _with_targets(frame, targets, min_n)


def _with_targets(frame: pl.DataFrame, targets: pl.DataFrame, min_n: int) -> pl.DataFrame:
    """Period B's target, warn and status; a stage's own target wins over the ``*`` one."""
    frame = metrics.with_targets_long(frame, targets, "metric")
    parts = []
    for key, kpi in KPIS.items():
        part = frame.filter(pl.col("metric") == key)
        parts.append(
            part.with_columns(
                metrics.status_expr(
                    pl.col("b"), pl.col("b_n") >= min_n, pl.col("target"), pl.col("warn"), kpi.higher_is_better
                ).alias("status")
            )
        )
    return pl.concat(parts) if parts else frame.with_columns(pl.lit(None, pl.String).alias("status"))


def load(engine: Engine, filters: Filters, a: Period, b: Period, min_n: int) -> pl.DataFrame:
    """The review of ``a`` against ``b`` for the customer filters (their period is replaced), in map order with the
    whole journey's rows last; a KPI with nothing behind it in either period (no NPS asked at a stage) is left out."""
    done = side_by_side(
        engine,
        {
            "a": lambda c: figures(c, filters.with_period(a)),
            "b": lambda c: figures(c, filters.with_period(b)),
            "stages": lambda c: kpis.stages_and_targets(c),
        },
    )
    stages, targets = done["stages"]
    frame = compare(done["a"], done["b"], targets, min_n).filter((pl.col("a_n") > 0) | (pl.col("b_n") > 0))
    order = {s: i for i, s in enumerate(stages["stage_id"].to_list())}
    kpi_order = {k: i for i, k in enumerate(KPIS)}
    return (
        frame.with_columns(
            pl.col("stage_id").replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("_stage"),
            pl.col("metric").replace_strict(kpi_order, default=len(kpi_order), return_dtype=pl.Int64).alias("_kpi"),
        )
        .sort("_stage", "_kpi")
        .drop("_stage", "_kpi")
    )


def callouts(frame: pl.DataFrame, names: dict[str, str], count: int = 3) -> dict[str, list[str]]:
    """The biggest significant improvements and declines in words, by p-value (the clearest first)."""
    out: dict[str, list[str]] = {}
    for verdict in (IMPROVED, DECLINED):
        chosen = frame.filter(pl.col("verdict") == verdict).sort("p_value", maintain_order=True).head(count)
        out[verdict] = [describe(r, names) for r in chosen.iter_rows(named=True)]
    return out


def describe(row: dict[str, Any], names: dict[str, str]) -> str:
    """'NPS, whole journey: 31 → 18 points (-13, p < 0.001; n 900 and 880)'."""
    kpi = KPIS[row["metric"]]
    where = _("whole journey") if row["stage_id"] == WHOLE_JOURNEY else names.get(row["stage_id"], row["stage_id"])
    return _("{kpi}, {where}: {a} → {b} ({change}, {p}; n {a_n} and {b_n})").format(
        kpi=_(kpi.label),
        where=where,
        a=format_value(kpi, row["a"]),
        b=format_value(kpi, row["b"]),
        change=format_change(kpi, row["change"]),
        p=p_text(row["p_value"]),
        a_n=i18n.number(row["a_n"]),
        b_n=i18n.number(row["b_n"]),
    )


def p_text(p: float | None) -> str:
    """ "p < 0.001" or "p = 0.012", with the language's decimal mark."""
    if p is None:
        return "p = –"
    return "p < " + i18n.number(0.001, 3) if p < 0.001 else "p = " + i18n.number(p, 3)


def format_value(kpi: Kpi, value: float | None) -> str:
    if value is None:
        return "–"
    if kpi.unit == "%":
        return i18n.percent(value / 100, 1)
    if kpi.unit == "points":
        return _signed(value, 0)
    return i18n.number(value, 2)


def _signed(value: float, digits: int) -> str:
    return ("+" if value >= 0 else "") + i18n.number(value, digits)


def format_change(kpi: Kpi, change: float | None) -> str:
    if change is None:
        return "–"
    if kpi.unit == "%":
        return _("{change} pts").format(change=_signed(change, 1))
    if kpi.unit == "points":
        return _signed(change, 0)
    return _signed(change, 2)


def cli_rows(engine: Engine, filters: Filters, a: Period, b: Period, min_n: int) -> pl.DataFrame:
    """The command line's table: one row per stage and KPI (:data:`CLI_COLUMNS`)."""
    return load(engine, filters, a, b, min_n).select(CLI_COLUMNS)


VERDICT_FILL = {IMPROVED: "CFE3F1", DECLINED: "F4C7AB", NO_CLEAR_CHANGE: "FFFFFF", TOO_FEW: "EEEEEE"}


def to_xlsx(frame: pl.DataFrame, about: list[str] | None = None) -> bytes:
    """The review as an XLSX sheet: ``about`` lines first (periods, filters, freshness), then the table with each
    row on its verdict's colour where the frame has one (improved blue, declined orange; never a colour for no clear
    change)."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    book = Workbook()
    sheet = book.active
    sheet.title = _("Review")
    for line in about or []:
        exports.append_row(sheet, [line])
    header_row = sheet.max_row + 1 if about else 1
    exports.append_row(sheet, [_(c) for c in frame.columns])  # in English the column names themselves
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    verdicts = frame["verdict"].to_list() if "verdict" in frame.columns else [None] * frame.height
    shown = {c: verdict_word if c == "verdict" else _ for c in ("verdict", "status")}  # the dashboard's own words
    words = [shown.get(c) for c in frame.columns]
    for values, verdict in zip(frame.iter_rows(), verdicts, strict=True):
        exports.append_row(sheet, [w(v) if w and v else v for w, v in zip(words, values, strict=True)])
        fill = VERDICT_FILL.get(verdict or "")
        if fill:
            for cell in sheet[sheet.max_row]:
                cell.fill = PatternFill("solid", fgColor=fill)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
