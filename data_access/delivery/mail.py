"""Delivery by e-mail through SMTP: a plain-text and an HTML part (with its inline images), STARTTLS and a login
where configured."""

from __future__ import annotations

import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Mapping
from email.message import EmailMessage

from data_access.delivery.config import NotifyConfig
from data_access.delivery.retry import NotifyError, Permanent, with_retries


def send_email(
    config: NotifyConfig,
    to: str,
    subject_line: str,
    text: str,
    markup: str,
    sleep: Callable[[float], None] = time.sleep,
    images: Mapping[str, bytes] | None = None,
) -> None:
    """Sends one message; ``images`` (content id -> PNG) go with the HTML part, which shows them as ``cid:ID``."""
    smtp = config.smtp
    if smtp is None:
        raise NotifyError("no [notify.smtp] in .streamlit/secrets.toml: e-mail is not configured")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = smtp.sender, to, subject_line
    message["Message-ID"] = f"<{uuid.uuid4().hex}@cjm>"
    message.set_content(text)
    message.add_alternative(markup, subtype="html")
    if images:
        html_part = message.get_payload()[-1]
        for cid, png in images.items():
            html_part.add_related(png, "image", "png", cid=f"<{cid}>", disposition="inline", filename=f"{cid}.png")

    def attempt() -> None:
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=config.timeout_seconds) as server:
                if smtp.starttls:
                    server.starttls(context=ssl.create_default_context(cafile=smtp.cafile))
                if smtp.user:
                    server.login(smtp.user, smtp.password or "")
                server.send_message(message)
        except (
            smtplib.SMTPAuthenticationError,
            smtplib.SMTPNotSupportedError,
            smtplib.SMTPRecipientsRefused,
            smtplib.SMTPSenderRefused,
        ) as exc:
            raise Permanent(f"{type(exc).__name__}: {exc}") from exc  # trying again would not change the answer

    with_retries(config, attempt, sleep)
