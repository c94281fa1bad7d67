"""Delivery by webhook. Alerts: a JSON body signed with HMAC-SHA256 in ``X-CJM-Signature`` (the receiver checks it
with :func:`verify`), a delivery id in ``X-CJM-Delivery``. Audience pushes: the Standard Webhooks headers
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``; checked with :func:`verify_standard`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from data_access.delivery.config import NotifyConfig
from data_access.delivery.retry import NotifyError, Permanent, Transient, judged, with_retries

SIGNATURE_HEADER = "X-CJM-Signature"
DELIVERY_HEADER = "X-CJM-Delivery"


def signature(secret: str, body: bytes) -> str:
    """The value of ``X-CJM-Signature``: ``sha256=`` and the hex HMAC-SHA256 of the body with the webhook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    return header is not None and hmac.compare_digest(signature(secret, body), header)


def send_webhook(
    config: NotifyConfig, name: str, body: dict[str, Any], sleep: Callable[[float], None] = time.sleep
) -> None:
    hook = config.webhooks.get(name)
    if hook is None:
        raise NotifyError(f"no webhook {name!r} in [notify.webhooks] of .streamlit/secrets.toml")
    data = json.dumps(body, default=str, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: signature(hook.secret, data),
        DELIVERY_HEADER: uuid.uuid4().hex,
        "User-Agent": "cjm-dashboard-alerts",
    }

    def attempt() -> None:
        reply = httpx.post(hook.url, content=data, headers=headers, timeout=config.timeout_seconds)
        judged(reply.status_code, hook.name, reply.headers, reply.text)

    with_retries(config, attempt, sleep)


def _key(secret: str) -> bytes:
    """A Standard Webhooks secret (``whsec_`` and base64) as its bytes; any other secret as its UTF-8 bytes."""
    return base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()


def standard_signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body``."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def verify_standard(secret: str, headers: Mapping[str, str], body: bytes, tolerance: int = 300) -> bool:
    """What a receiver does: the signature over the id, the timestamp (within ``tolerance`` seconds) and the body
    matches one of the header's signatures."""
    try:
        webhook_id, stamp = headers["webhook-id"], int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - stamp) > tolerance:
        return False
    expected = standard_signature(secret, webhook_id, stamp, body)
    return any(hmac.compare_digest(expected, given) for given in headers.get("webhook-signature", "").split())


def send_standard(
    config: NotifyConfig,
    name: str,
    webhook_id: str,
    body: bytes,
    sleep: Callable[[float], None] = time.sleep,
    on_attempt: Callable[[str | None], None] = lambda error: None,
) -> None:
    """Posts ``body`` to the webhook ``name`` signed the Standard Webhooks way (a new timestamp and signature per
    attempt, the same id), retried as :func:`with_retries` does; a Segment destination also gets its write key as
    basic auth. ``on_attempt`` hears each attempt's error (None for the one that went through)."""
    hook = config.webhooks.get(name)
    if hook is None:
        raise NotifyError(f"no webhook {name!r} in [notify.webhooks] of .streamlit/secrets.toml")

    def attempt() -> None:
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": standard_signature(hook.secret, webhook_id, stamp, body),
            "User-Agent": "cjm-dashboard-audiences",
        }
        auth = (hook.write_key, "") if hook.write_key else None
        try:
            reply = httpx.post(hook.url, content=body, headers=headers, auth=auth, timeout=config.timeout_seconds)
            judged(reply.status_code, hook.name, reply.headers, reply.text)
        except Exception as exc:
            on_attempt(f"{type(exc).__name__}: {exc}" if not isinstance(exc, Transient | Permanent) else str(exc))
            raise
        on_attempt(None)

    with_retries(config, attempt, sleep)
