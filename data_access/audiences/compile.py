"""An audience's rule as one SQL statement (SQLAlchemy Core, every store): each fact table the rule reads is read
once, grouped by customer, with one count (and, for orders, one sum) per leaf that reads it; those few aggregates
are joined to the customers, and the rule becomes a condition on them. Windows count back from ``as_of``; nothing
after it is read."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from data_access import metrics, schema
from data_access.audiences.rules import MAX_DEPTH, Attr, Compare, Facts, Group, LastSeen, Node, Ref, Risk, RuleError
from data_access.filters import Filters

TABLES = {
    "events": schema.journey_events,
    "tickets": schema.tickets,
    "answers": schema.survey_responses,
    "orders": schema.orders,
}
COMPARE = {"eq": operator.eq, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
cu = schema.customers


def _compare(value: sa.ColumnElement, rule: Compare) -> sa.ColumnElement[bool]:
    return COMPARE[rule.op](value, sa.literal(rule.value, sa.Float(53)))


def inline(node: Node, resolve: Callable[[str], Node], seen: tuple[str, ...] = ()) -> Node:
    """The rule with each named audience replaced by its rule (at most :data:`MAX_DEPTH` levels, no cycle)."""
    if isinstance(node, Group):
        return Group(node.kind, tuple(inline(p, resolve, seen) for p in node.parts))
    if not isinstance(node, Ref):
        return node
    if node.key in seen:
        raise RuleError(f"audience {node.key}: a cycle ({' -> '.join((*seen, node.key))})")
    if len(seen) >= MAX_DEPTH:
        raise RuleError(f"audience {node.key}: audiences nest at most {MAX_DEPTH} levels")
    return inline(resolve(node.key), resolve, (*seen, node.key))


def _leaves(node: Node) -> list[Node]:
    if isinstance(node, Group):
        return [leaf for p in node.parts for leaf in _leaves(p)]
    return [node]


def _fact_condition(leaf: Facts, table: sa.Table, as_of: datetime) -> sa.ColumnElement[bool]:
    time = table.c[schema.TIME_COLUMNS[table.name]]
    parts: list[sa.ColumnElement[bool]] = [
        time <= schema.bound_time(as_of - timedelta(days=leaf.window.end_days if leaf.window else 0))
    ]
    if leaf.window is not None and leaf.window.start_days is not None:
        parts.append(time > schema.bound_time(as_of - timedelta(days=leaf.window.start_days)))
    for name, value in leaf.where:
        if name == "stage":
            parts.append(table.c.stage_id == value)
        elif name == "category":
            parts.append(table.c.category == value)
        elif name == "line":
            parts.append(table.c.final_line == value)
        elif name == "unresolved":
            still_open = sa.or_(table.c.resolved_at.is_(None), table.c.resolved_at > schema.bound_time(as_of))
            parts.append(still_open if value else sa.not_(still_open))
        elif name == "survey":
            parts.append(table.c.survey == value)
        elif name == "score":
            parts.append(_compare(table.c.score, value))
    return sa.and_(*parts)


def _last_seen(rule: Compare, last_at: sa.ColumnElement, as_of: datetime) -> sa.ColumnElement[bool]:
    """``days_ago`` compared as times: "30 or more days ago" is at or before as_of - 30 days; never seen is longer
    ago than any number of days."""
    edge = schema.bound_time(as_of - timedelta(days=rule.value))
    never = last_at.is_(None)
    if rule.op == "gte":
        return sa.or_(never, last_at <= edge)
    if rule.op == "gt":
        return sa.or_(never, last_at < edge)
    if rule.op == "lte":
        return last_at >= edge
    if rule.op == "lt":
        return last_at > edge
    return sa.and_(last_at <= edge, last_at > schema.bound_time(as_of - timedelta(days=rule.value + 1)))


def _unknown(key: str) -> Node:
    raise RuleError(f"audience: unknown audience {key}")


def members_query(rule: Node, as_of: datetime, resolve: Callable[[str], Node] | None = None) -> sa.Select:
    """``customer_id`` of every customer (signed up by ``as_of``) the rule holds for at ``as_of``."""
    rule = inline(rule, resolve or _unknown)
    leaves = _leaves(rule)
    facts = [leaf for leaf in leaves if isinstance(leaf, Facts)]
    columns: dict[int, tuple[sa.ColumnElement, sa.ColumnElement | None]] = {}
    source = cu
    for name, table in TABLES.items():
        mine = [leaf for leaf in facts if leaf.table == name]
        if not mine:
            continue
        picked = []
        for leaf in mine:
            i = facts.index(leaf)
            condition = _fact_condition(leaf, table, as_of)
            picked.append(metrics.count_if(condition).label(f"n{i}"))
            if leaf.total is not None:
                amount = sa.case((condition, table.c.amount), else_=0.0)
                picked.append(sa.func.sum(amount).label(f"s{i}"))
        time = table.c[schema.TIME_COLUMNS[table.name]]
        grouped = (
            sa.select(table.c.customer_id, *picked)
            .where(time <= schema.bound_time(as_of))
            .group_by(table.c.customer_id)
            .subquery(f"{name}_per_customer")
        )
        source = source.outerjoin(grouped, grouped.c.customer_id == cu.c.customer_id)
        for leaf in mine:
            i = facts.index(leaf)
            columns[i] = (grouped.c[f"n{i}"], grouped.c[f"s{i}"] if leaf.total is not None else None)
    seen = None
    if any(isinstance(leaf, LastSeen) for leaf in leaves):
        ev, od = schema.journey_events, schema.orders
        times = sa.union_all(
            sa.select(ev.c.customer_id, ev.c.occurred_at.label("at")).where(
                ev.c.occurred_at <= schema.bound_time(as_of)
            ),
            sa.select(od.c.customer_id, od.c.ordered_at.label("at")).where(od.c.ordered_at <= schema.bound_time(as_of)),
        ).subquery("seen_times")
        seen = (
            sa.select(times.c.customer_id, sa.func.max(times.c.at).label("last_at"))
            .group_by(times.c.customer_id)
            .subquery("last_seen")
        )
        source = source.outerjoin(seen, seen.c.customer_id == cu.c.customer_id)
    score = None
    if any(isinstance(leaf, Risk) for leaf in leaves):
        from data_access.queries import risk

        scored = risk.at_risk_query(Filters(), as_of, risk.Triggers()).subquery("risk_scores")
        source = source.outerjoin(scored, scored.c.customer_id == cu.c.customer_id)
        score = sa.func.coalesce(scored.c.score, 0)

    def condition(node: Node) -> sa.ColumnElement[bool]:
        if isinstance(node, Group):
            parts = [condition(p) for p in node.parts]
            if node.kind == "not":
                return sa.not_(parts[0])
            return sa.and_(*parts) if node.kind == "all" else sa.or_(*parts)
        if isinstance(node, Attr):
            column = cu.c[node.name]
            if node.op == "in":
                return column.in_(node.values)
            return column == node.values[0] if node.op == "eq" else sa.or_(column.is_(None), column != node.values[0])
        if isinstance(node, Facts):
            count, total = columns[facts.index(node)]
            met = _compare(sa.func.coalesce(count, 0), node.count)
            return met if total is None else sa.and_(met, _compare(sa.func.coalesce(total, 0.0), node.total))
        if isinstance(node, LastSeen):
            return _last_seen(node.days_ago, seen.c.last_at, as_of)
        if isinstance(node, Risk):
            met = _compare(score, node.score)
            if not node.stages:
                return met
            named = [s for s in node.stages if s is not None]
            at = [scored.c.stage_id.in_(named)] if named else []
            if None in node.stages:
                at.append(sa.and_(scored.c.customer_id.is_not(None), scored.c.stage_id.is_(None)))
            return sa.and_(met, sa.or_(*at))
        raise RuleError(f"cannot compile {node!r}")

    return (
        sa.select(cu.c.customer_id)
        .select_from(source)
        .where(cu.c.signup_at <= schema.bound_time(as_of), condition(rule))
        .order_by(cu.c.customer_id)
    )
