"""Trying a delivery again: at most 1 + ``retries`` attempts with a doubling wait, a reply worth retrying (5xx, 429,
a dropped connection) told apart from one that is not (4xx, a refused login or recipient)."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import httpx

from data_access.delivery.config import NotifyConfig


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
            sleep(config.backoff_seconds * 2**i)


class Transient(Exception):
    """A reply worth retrying (5xx, 429)."""


class Permanent(Exception):
    """A reply not worth retrying (4xx other than 429)."""
