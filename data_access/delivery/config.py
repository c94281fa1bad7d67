"""Where deliveries go: the ``[notify]`` settings of ``.streamlit/secrets.toml`` (``[notify.smtp]``,
``[notify.webhooks.NAME]``, the base URL of links, retries and timeouts); see the README's *Alerts* section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from data_access.config import read_secrets

DEFAULT_BASE_URL = "http://localhost:8501"


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 25
    starttls: bool = False
    user: str | None = None
    password: str | None = None
    sender: str = "CJM alerts <cjm-alerts@localhost>"
    cafile: str | None = None  # a CA bundle to trust for STARTTLS (an internal CA), else the system's


WEBHOOK_FORMATS = ("standard", "segment")  # how an audience push is shaped (alerts have their own)


@dataclass(frozen=True)
class Webhook:
    name: str
    url: str
    secret: str
    format: str = "standard"  # audience pushes: the Standard Webhooks envelope, or Segment's track call
    write_key: str | None = None  # a Segment source's write key, sent as basic auth


@dataclass(frozen=True)
class NotifyConfig:
    smtp: Smtp | None = None
    webhooks: Mapping[str, Webhook] = field(default_factory=dict)
    base_url: str = DEFAULT_BASE_URL
    retries: int = 3  # after the first attempt
    backoff_seconds: float = 2.0  # waits 1x, 2x, 4x this between attempts
    timeout_seconds: float = 10.0

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, Any]) -> NotifyConfig:
        """From the ``[notify]`` table of the secrets; a malformed entry is a :class:`ValueError` naming it."""
        raw = dict(secrets.get("notify", {}) or {})
        smtp = None
        if raw.get("smtp"):
            s = dict(raw["smtp"])
            if not s.get("host"):
                raise ValueError("[notify.smtp] needs a host")
            smtp = Smtp(
                host=str(s["host"]),
                port=int(s.get("port", 25)),
                starttls=bool(s.get("starttls", False)),
                user=s.get("user") or None,
                password=s.get("password") or None,
                sender=str(s.get("sender") or Smtp.sender),
                cafile=s.get("cafile") or None,
            )
        hooks = {}
        for name, spec in dict(raw.get("webhooks", {}) or {}).items():
            url, secret = str(spec.get("url", "")), str(spec.get("secret", ""))
            if not url.startswith(("http://", "https://")) or not httpx.URL(url).host:
                raise ValueError(f"[notify.webhooks.{name}] url must be an http(s) address, not {url!r}")
            if len(secret) < 16:
                raise ValueError(f"[notify.webhooks.{name}] needs a secret of at least 16 characters")
            shape = str(spec.get("format", "standard"))
            if shape not in WEBHOOK_FORMATS:
                raise ValueError(f"[notify.webhooks.{name}] format must be one of {', '.join(WEBHOOK_FORMATS)}")
            hooks[str(name)] = Webhook(str(name), url, secret, shape, spec.get("write_key") or None)
        return cls(
            smtp=smtp,
            webhooks=hooks,
            base_url=str(raw.get("base_url") or DEFAULT_BASE_URL),
            retries=int(raw.get("retries", 3)),
            backoff_seconds=float(raw.get("backoff_seconds", 2.0)),
            timeout_seconds=float(raw.get("timeout_seconds", 10.0)),
        )

    @classmethod
    def load(cls) -> NotifyConfig:
        return cls.from_secrets(read_secrets())
