"""The digest: the Overview by e-mail on a schedule, to each subscriber within their role and segment limit.
Subscriptions (:mod:`.book`), what it says (:mod:`.compose`, with the month lines drawn by :mod:`.sparks`) and its
delivery beside the alerts (:mod:`.send`). Callers use ``digest.X`` for the names below."""

from data_access.digest.book import EVERY, DigestError, listed, refusal, subscribe, unsubscribe
from data_access.digest.compose import Digest, compose, link
from data_access.digest.send import Sent, key_of, run

__all__ = [
    "EVERY",
    "Digest",
    "DigestError",
    "Sent",
    "compose",
    "key_of",
    "link",
    "listed",
    "refusal",
    "run",
    "subscribe",
    "unsubscribe",
]
