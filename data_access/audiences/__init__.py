"""Audiences: groups of customers defined by what they did, as a rule (:mod:`.rules`) compiled to one statement
(:mod:`.compile`), kept in the store (:mod:`.book`), and their membership over time (:mod:`.membership`)."""

from data_access.audiences.book import KEY, Audience, add, get, listed, members, preview, remove
from data_access.audiences.compile import members_query
from data_access.audiences.membership import (
    Change,
    choice,
    choices,
    current,
    daily,
    listed_members,
    recompute,
    refresh,
)
from data_access.audiences.rules import RuleError, parse

__all__ = [
    "KEY",
    "Audience",
    "Change",
    "RuleError",
    "add",
    "choice",
    "choices",
    "current",
    "daily",
    "get",
    "listed",
    "listed_members",
    "members",
    "members_query",
    "parse",
    "preview",
    "recompute",
    "refresh",
    "remove",
]
