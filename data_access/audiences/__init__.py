"""Audiences: groups of customers defined by what they did, as a rule (:mod:`.rules`) compiled to one statement
(:mod:`.compile`), kept in the store (:mod:`.book`), and their membership over time (:mod:`.membership`)."""

from data_access.audiences.book import Audience, add, get, listed, members, remove
from data_access.audiences.compile import members_query
from data_access.audiences.membership import Change, current, daily, recompute
from data_access.audiences.rules import RuleError, parse

__all__ = [
    "Audience",
    "Change",
    "RuleError",
    "add",
    "current",
    "daily",
    "get",
    "listed",
    "members",
    "members_query",
    "parse",
    "recompute",
    "remove",
]
