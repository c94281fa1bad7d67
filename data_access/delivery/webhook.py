"""Delivery by webhook: a JSON body signed with HMAC-SHA256 in ``X-CJM-Signature`` (the receiver checks it with
:func:`verify`), a delivery id in ``X-CJM-Delivery``."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from data_access.delivery.config import NotifyConfig
from data_access.delivery.retry import NotifyError, Permanent, Transient, with_retries

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
        if reply.status_code == 429 or reply.status_code >= 500:
            raise Transient(f"HTTP {reply.status_code} from {hook.name}")
        if reply.status_code >= 300:
            raise Permanent(f"HTTP {reply.status_code} from {hook.name}: {reply.text[:200]}")

    with_retries(config, attempt, sleep)
