"""Audiences: groups of customers defined by what they did, as a rule (:mod:`.rules`) compiled to one statement
(:mod:`.compile`) and kept in the store (:mod:`.book`)."""

from data_access.audiences.book import Audience, add, get, listed, members, remove
from data_access.audiences.compile import members_query
from data_access.audiences.rules import RuleError, parse

__all__ = ["Audience", "RuleError", "add", "get", "listed", "members", "members_query", "parse", "remove"]
