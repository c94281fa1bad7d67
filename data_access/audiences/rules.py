"""An audience's rule: JSON, checked into a tree of groups and leaves before anything is stored.

Groups: ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``. Leaves:

- ``{"attr": "segment", "op": "eq"|"ne"|"in", "value": ...}`` on the customer's attributes;
- ``{"events": {"stage": ...}, "window": ..., "count": {"op": ..., "value": N}}``, and the same for ``tickets``
  (``category``, ``line``, ``unresolved``), ``answers`` (``survey``, ``score`` with an op) and ``orders`` (with
  ``"sum": {"op": ..., "value": ...}`` on the amount); ``window`` is ``{"last_days": N}`` (after as_of - N days, up
  to as_of) or ``{"between_days_ago": [FROM, TO]}`` (after as_of - FROM days, up to as_of - TO days); without
  ``count``, at least one row;
- ``{"last_seen": {"days_ago": {"op": ..., "value": N}}}`` (no journey event or order for that long; never seen
  matches);
- ``{"risk": {"op": ..., "value": N}}`` (the churn early warning's score), optionally with ``"stages": [...]``
  (the stage of the customer's latest journey event in the warning's windows; null: none);
- ``{"audience": "KEY"}`` (another audience).

A bad rule raises :class:`RuleError` with the path of the bad part: ``all[1].window: unknown key "last_day"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from data_access import schema

OPS = ("eq", "gt", "gte", "lt", "lte")
ATTR_OPS = ("eq", "ne", "in")
FACTS = {
    "events": {"stage": "text"},
    "tickets": {"category": "text", "line": "integer", "unresolved": "boolean"},
    "answers": {"survey": "text", "score": "compare", "stage": "text"},
    "orders": {},
}
MAX_DEPTH = 2  # an audience may name an audience that names one, no deeper


class RuleError(ValueError):
    """A rule that cannot be used; the message starts with the path of the bad part."""


@dataclass(frozen=True)
class Compare:
    op: str
    value: float


@dataclass(frozen=True)
class Window:
    start_days: int | None  # rows after as_of - start_days (None: from the beginning)
    end_days: int  # and at or before as_of - end_days


@dataclass(frozen=True)
class Group:
    kind: str  # all, any, not
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Attr:
    name: str
    op: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Facts:
    table: str  # events, tickets, answers, orders
    where: tuple[tuple[str, Any], ...]  # (field, value or Compare)
    window: Window | None
    count: Compare
    total: Compare | None = None  # orders: on the sum of the amount


@dataclass(frozen=True)
class LastSeen:
    days_ago: Compare


@dataclass(frozen=True)
class Risk:
    score: Compare
    stages: tuple[str | None, ...] = ()  # only customers whose warning's stage is one of these (None: no event)


@dataclass(frozen=True)
class Ref:
    key: str


Node = Group | Attr | Facts | LastSeen | Risk | Ref


def _fail(path: str, words: str) -> RuleError:
    return RuleError(f"{path or 'rule'}: {words}")


def _keys(raw: dict, path: str, allowed: set[str]) -> None:
    for key in raw:
        if key not in allowed:
            raise _fail(path, f'unknown key "{key}" (known: {", ".join(sorted(allowed))})')


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, f"{json.dumps(value)} is not a number")
    return float(value)


def _compare(raw: Any, path: str) -> Compare:
    if not isinstance(raw, dict):
        raise _fail(path, 'expected {"op": ..., "value": ...}')
    _keys(raw, path, {"op", "value"})
    if raw.get("op") not in OPS:
        raise _fail(f"{path}.op", f"{json.dumps(raw.get('op'))} is not one of {', '.join(OPS)}")
    return Compare(str(raw["op"]), _number(raw.get("value"), f"{path}.value"))


def _days(value: Any, path: str) -> int:
    days = _number(value, path)
    if days < 0 or days != int(days):
        raise _fail(path, "days are a whole number, 0 or more")
    return int(days)


def _window(raw: Any, path: str) -> Window:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise _fail(path, 'expected {"last_days": N} or {"between_days_ago": [FROM, TO]}')
    _keys(raw, path, {"last_days", "between_days_ago"})
    if "last_days" in raw:
        return Window(_days(raw["last_days"], f"{path}.last_days"), 0)
    pair = raw["between_days_ago"]
    if not isinstance(pair, list) or len(pair) != 2:
        raise _fail(f"{path}.between_days_ago", "expected [FROM, TO], e.g. [90, 30]")
    start, end = (_days(v, f"{path}.between_days_ago[{i}]") for i, v in enumerate(pair))
    if start <= end:
        raise _fail(f"{path}.between_days_ago", "FROM is further back than TO, e.g. [90, 30]")
    return Window(start, end)


def _facts(table: str, raw: dict, path: str) -> Facts:
    _keys(raw, path, {table, "window", "count"} | ({"sum"} if table == "orders" else set()))
    given = raw[table]
    if not isinstance(given, dict):
        raise _fail(f"{path}.{table}", "expected an object of conditions, {} for any row")
    _keys(given, f"{path}.{table}", set(FACTS[table]))
    where: list[tuple[str, Any]] = []
    for name, value in given.items():
        kind = FACTS[table][name]
        where_path = f"{path}.{table}.{name}"
        if kind == "compare":
            where.append((name, _compare(value, where_path)))
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise _fail(where_path, "true or false")
            where.append((name, value))
        elif kind == "integer":
            where.append((name, int(_number(value, where_path))))
        else:
            if not isinstance(value, str):
                raise _fail(where_path, f"{json.dumps(value)} is not text")
            where.append((name, value))
    window = _window(raw["window"], f"{path}.window") if "window" in raw else None
    count = _compare(raw["count"], f"{path}.count") if "count" in raw else Compare("gte", 1)
    total = _compare(raw["sum"], f"{path}.sum") if "sum" in raw else None
    return Facts(table, tuple(where), window, count, total)


def parse(raw: Any, path: str = "") -> Node:
    """The rule's tree; :class:`RuleError` names the bad part."""
    if not isinstance(raw, dict) or not raw:
        raise _fail(path, 'expected an object such as {"all": [...]}')
    for kind in ("all", "any"):
        if kind in raw:
            _keys(raw, path, {kind})
            parts = raw[kind]
            if not isinstance(parts, list) or not parts:
                raise _fail(f"{path}{'.' if path else ''}{kind}", "expected a list of one rule or more")
            return Group(kind, tuple(parse(p, f"{path}{'.' if path else ''}{kind}[{i}]") for i, p in enumerate(parts)))
    if "not" in raw:
        _keys(raw, path, {"not"})
        return Group("not", (parse(raw["not"], f"{path}{'.' if path else ''}not"),))
    if "attr" in raw:
        _keys(raw, path, {"attr", "op", "value"})
        name = raw["attr"]
        if name not in schema.FILTER_DIMENSIONS:
            raise _fail(f"{path}.attr", f"{json.dumps(name)} is not one of {', '.join(schema.FILTER_DIMENSIONS)}")
        op = raw.get("op", "eq")
        if op not in ATTR_OPS:
            raise _fail(f"{path}.op", f"{json.dumps(op)} is not one of {', '.join(ATTR_OPS)}")
        value = raw.get("value")
        values = value if op == "in" else [value]
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise _fail(f"{path}.value", "text, or a list of text for in")
        return Attr(str(name), str(op), tuple(values))
    for table in FACTS:
        if table in raw:
            return _facts(table, raw, path)
    if "last_seen" in raw:
        _keys(raw, path, {"last_seen"})
        inner = raw["last_seen"]
        if not isinstance(inner, dict):
            raise _fail(f"{path}.last_seen", 'expected {"days_ago": {"op": ..., "value": N}}')
        _keys(inner, f"{path}.last_seen", {"days_ago"})
        return LastSeen(_compare(inner.get("days_ago"), f"{path}.last_seen.days_ago"))
    if "risk" in raw:
        _keys(raw, path, {"risk", "stages"})
        stages = raw.get("stages", [])
        if not isinstance(stages, list) or not all(s is None or isinstance(s, str) for s in stages):
            raise _fail(f"{path}.stages", "a list of stage ids (null: no journey event in the warning's windows)")
        return Risk(_compare(raw["risk"], f"{path}.risk"), tuple(stages))
    if "audience" in raw:
        _keys(raw, path, {"audience"})
        if not isinstance(raw["audience"], str):
            raise _fail(f"{path}.audience", "an audience's key")
        return Ref(raw["audience"])
    known = ["all", "any", "not", "attr", *FACTS, "last_seen", "risk", "audience"]
    raise _fail(path, f"unknown rule {json.dumps(sorted(raw))} (known: {', '.join(known)})")


def refs(node: Node) -> list[str]:
    """The audiences a rule names, in order."""
    if isinstance(node, Group):
        return [k for p in node.parts for k in refs(p)]
    return [node.key] if isinstance(node, Ref) else []
