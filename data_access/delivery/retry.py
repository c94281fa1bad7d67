"""Trying a delivery again: at most 1 + ``retries`` attempts with a doubling wait (or the wait the reply's
``Retry-After`` asks for, up to :data:`MAX_WAIT`), a reply worth retrying (5xx, 408, 429, a dropped connection) told
apart from one that is not (any other 4xx, a refused login or recipient)."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from data_access.delivery.config import NotifyConfig

MAX_WAIT = 300.0  # seconds: the longest Retry-After honoured


class NotifyError(Exception):
    """A delivery that did not go through (after its retries), in one line."""


def with_retries(config: NotifyConfig, attempt: Callable[[], None], sleep: Callable[[float], None]) -> None:
    """``attempt`` until it goes through, at most 1 + ``retries`` times, waiting 1, 2, 4... x the backoff."""
    for i in range(config.retries + 1):
        try:
            attempt()
            return
        except Permanent as exc:
            raise NotifyError(str(exc)) from exc
        except (OSError, smtplib.SMTPException, httpx.HTTPError, Transient) as exc:
            if i == config.retries:
                what = str(exc) if isinstance(exc, Transient) else f"{type(exc).__name__}: {exc}"
                raise NotifyError(f"{what} (after {config.retries + 1} attempts)") from exc
            asked = exc.after if isinstance(exc, Transient) and exc.after is not None else 0.0
            sleep(min(max(config.backoff_seconds * 2**i, asked), MAX_WAIT))


class Transient(Exception):
    """A reply worth retrying (5xx, 408, 429); ``after``: the seconds its ``Retry-After`` asked to wait."""

    def __init__(self, message: str, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


def retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header's wait in seconds: a number of seconds, or an HTTP date (None if neither)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0) if when.tzinfo else None


def judged(status: int, name: str, headers: Mapping[str, str], text: str) -> None:
    """Raises :class:`Transient` for a reply worth retrying, :class:`Permanent` for another that is not a success."""
    if status in (408, 429) or status >= 500:
        raise Transient(f"HTTP {status} from {name}", retry_after(headers.get("retry-after")))
    if status >= 300:
        raise Permanent(f"HTTP {status} from {name}: {text[:200]}")


class Permanent(Exception):
    """A reply not worth retrying (4xx other than 429)."""
