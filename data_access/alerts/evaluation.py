"""Evaluating a rule (reads only): the last complete week or month, the rule's figure there with its interval and n,
and whether it fires. A rule fires only on enough data and outside the noise, with the intervals of the metrics
layer:
- ``off_target``: the period's whole 95% interval is on the wrong side of the stage's KPI target;
- ``drop``: the metric got worse by at least ``threshold`` points against the period before, and the two periods'
  95% intervals do not overlap (both periods with at least ``min_n`` answers or tickets);
- ``above`` (``churn_risk`` only): more than ``threshold`` customers on the churn early warning at the period's
  end (a count, exact: no interval)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import i18n, metrics, schema, store
from data_access.alerts.rulebook import CHURN_RISK, PERIODS, AlertError, Rule, target_of, unit_of
from data_access.delivery.log import period_key
from data_access.filters import AudienceChoice, Filters, Period
from data_access.i18n import _, ngettext
from data_access.queries import kpis, risk


@dataclass(frozen=True)
class Window:
    """A complete calendar week (Monday first) or month: its key in the log, start inclusive, end exclusive."""

    key: str
    start: datetime
    end: datetime

    def caption(self) -> str:
        return Period(self.start, self.end).caption()


def window(period: str, as_of: datetime) -> Window:
    """The last complete ``period`` that ends at or before ``as_of``."""
    day = datetime(as_of.year, as_of.month, as_of.day)
    if period == "week":
        end = day - timedelta(days=day.weekday())
        start = end - timedelta(days=7)
        return Window(period_key(period, start), start, end)
    if period == "month":
        end = datetime(as_of.year, as_of.month, 1)
        start = datetime(end.year - (end.month == 1), 12 if end.month == 1 else end.month - 1, 1)
        return Window(period_key(period, start), start, end)
    raise AlertError(
        _("Unknown period {period}: choose one of {choices}").format(period=repr(period), choices=", ".join(PERIODS))
    )


def before(period: str, current: Window) -> Window:
    """The ``period`` just before ``current``."""
    return window(period, current.start)


def default_as_of(engine: Engine, now: datetime | None = None) -> datetime:
    """When a run looks from: now, or the day after the newest data when the store's data ends earlier (a store
    loaded up to the end of October is judged on October, not on an empty November)."""
    return as_of_from(store.freshness(engine), now or store.utc_now())


def as_of_from(newest: datetime | None, now: datetime) -> datetime:
    """:func:`default_as_of` from the newest timestamp in the store."""
    if newest is None:
        return now
    return min(now, datetime(newest.year, newest.month, newest.day) + timedelta(days=1))


@dataclass(frozen=True)
class Finding:
    """One rule on one period: the figure, its interval and n, what it is compared with, and whether it fires."""

    rule: Rule
    window: Window
    value: float | None
    n: int
    lo: float | None = None
    hi: float | None = None
    target: float | None = None
    previous: float | None = None
    previous_n: int | None = None
    previous_window: Window | None = None
    fires: bool = False
    why: str = ""
    enough: bool = True  # enough answers or tickets to judge
    test: bool = False

    def figure(self) -> str:
        if self.value is None:
            return _("no data")
        if self.rule.metric == CHURN_RISK:
            return ngettext("{n} customer", "{n} customers", int(self.value)).format(n=i18n.number(self.value))
        unit = metrics.METRICS[self.rule.metric].unit
        if unit == "%":
            text = i18n.percent(self.value / 100, 1)
        elif unit == "points":
            text = ("+" if self.value > 0 else "") + i18n.number(self.value, 1)
        else:
            text = i18n.number(self.value, 2)
        if self.lo is None:
            return text
        return (
            text
            + " "
            + _("(95%\u00a0interval {lo} to {hi}, n = {n})").format(
                lo=i18n.number(self.lo, 1), hi=i18n.number(self.hi or 0, 1), n=i18n.number(self.n)
            )
        )


def _metric_values(conn: Connection, rule: Rule, current: Window, previous: Window) -> dict[str, dict]:
    """The rule's metric in ``previous`` and ``current``, in one scan: value, n, lo, hi, enough."""
    metric = metrics.METRICS[rule.metric]
    source = metric.source
    time = source.c[metric.time_column]
    filters = Filters(Period(previous.start, current.end), segment=(rule.segment,) if rule.segment else ())
    filters = filters.with_audience(AudienceChoice(rule.audience) if rule.audience else None)
    which = sa.case(
        (time < sa.bindparam(None, current.start, type_=schema.TIMESTAMP), sa.literal("previous")),
        else_=sa.literal("current"),
    ).label("which")
    where = [source.c.stage_id == rule.stage_id] if rule.stage_id else []
    frame = store.fetch_frame(conn, kpis.metric_query(source, [metric], filters, [which], *where), {"which": pl.String})
    got = (
        {r["which"]: r for r in metrics.finish(frame, metric, rule.min_n).iter_rows(named=True)} if frame.height else {}
    )
    empty = {metric.name: None, f"{metric.name}_n": 0, f"{metric.name}_lo": None, f"{metric.name}_hi": None}
    return {k: got.get(k, empty | {f"{metric.name}_enough": False}) for k in ("previous", "current")}


def churn_risk_count(conn: Connection, rule: Rule, at: datetime) -> int:
    """Customers on the churn early warning at ``at`` (of the rule's segment, whose latest stage is its stage)."""
    filters = Filters(segment=(rule.segment,) if rule.segment else ())
    filters = filters.with_audience(AudienceChoice(rule.audience) if rule.audience else None)
    listed = risk.at_risk_query(filters, at, risk.Triggers()).subquery("listed")
    stmt = sa.select(sa.func.count()).select_from(listed)
    if rule.stage_id:
        stmt = stmt.where(listed.c.stage_id == rule.stage_id)
    return int(conn.execute(stmt).scalar_one())


def evaluate(conn: Connection, rule: Rule, as_of: datetime) -> Finding:
    """The rule on its last complete period before ``as_of``."""
    current = window(rule.period, as_of)
    if rule.metric == CHURN_RISK:
        count = churn_risk_count(conn, rule, current.end)
        fires = count > (rule.threshold or 0)
        why = (
            _("{n} customers at risk at {day}, more than {x}")
            if fires
            else _("{n} customers at risk at {day}, not more than {x}")
        ).format(n=i18n.number(count), day=i18n.day(current.end), x=f"{rule.threshold:g}")
        return Finding(rule, current, float(count), count, target=rule.threshold, fires=fires, why=why)
    m = rule.metric
    previous = before(rule.period, current)
    values = _metric_values(conn, rule, current, previous)
    now, then = values["current"], values["previous"]
    sign = 1.0 if metrics.METRICS[m].higher_is_better else -1.0
    base = Finding(
        rule,
        current,
        now[m],
        int(now[f"{m}_n"]),
        now[f"{m}_lo"],
        now[f"{m}_hi"],
        previous=then[m],
        previous_n=int(then[f"{m}_n"]),
        previous_window=previous,
    )
    if not now[f"{m}_enough"]:
        return replace(
            base,
            enough=False,
            why=_("not enough data: n = {n}, fewer than {least}").format(
                n=i18n.number(base.n), least=i18n.number(rule.min_n)
            ),
        )
    if rule.comparison == "off_target":
        target = target_of(conn, rule)
        if target is None:
            return replace(base, why=_("no target set"))
        worst = now[f"{m}_hi"] if sign > 0 else now[f"{m}_lo"]
        fires = (worst - target) * sign < 0
        if fires:
            why = (
                _("the whole interval is below the target {x}")
                if sign > 0
                else _("the whole interval is above the target {x}")
            )
        elif (now[m] - target) * sign < 0:
            why = _("the interval reaches the target {x}")
        else:
            why = _("on target ({x})")
        why = why.format(x=f"{target:g}")
        return replace(base, target=target, fires=fires, why=why)
    if not then[f"{m}_enough"]:
        words = (
            _("not enough data the month before: n = {n}")
            if rule.period == "month"
            else _("not enough data the week before: n = {n}")
        )
        return replace(base, enough=False, why=words.format(n=i18n.number(base.previous_n or 0)))
    change = (now[m] - then[m]) * sign
    # apart: this period's interval lies wholly on the worse side of the period before's interval
    outside = then[f"{m}_lo"] > now[f"{m}_hi"] if sign > 0 else then[f"{m}_hi"] < now[f"{m}_lo"]
    fires = change <= -(rule.threshold or 0) and outside
    why = (
        _("worse by {x} {unit} than {period} ({then})")
        if change < 0
        else _("better by {x} {unit} than {period} ({then})")
    ).format(x=i18n.number(abs(change), 1), unit=unit_of(m), period=previous.key, then=i18n.number(then[m], 1))
    if change <= -(rule.threshold or 0) and not outside:
        why += _(", but the two periods' intervals overlap: noise")
    return replace(base, target=rule.threshold, fires=fires, why=why)


def as_of_date(text: str | None) -> datetime | None:
    """``--as-of`` from the command line: a date (that day's start) or an ISO date-time."""
    if not text:
        return None
    return Period.parse(text, None).start
