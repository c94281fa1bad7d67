"""Delivery, whatever is delivered: the settings (:mod:`.config`), e-mail (:mod:`.mail`), signed webhooks
(:mod:`.webhook`), retries (:mod:`.retry`) and the exactly-once delivery log (:mod:`.log`). It knows nothing of
alert rules: alerts (and anything else that sends) hand it a message and a channel."""

from data_access.delivery.config import DEFAULT_BASE_URL, NotifyConfig, Smtp, Webhook
from data_access.delivery.log import EMAIL_PREFIX, STALE_SENDING, WEBHOOK_PREFIX, claim, entries, mark, period_key
from data_access.delivery.mail import send_email
from data_access.delivery.retry import NotifyError
from data_access.delivery.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    send_standard,
    send_webhook,
    signature,
    standard_signature,
    verify,
    verify_standard,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DELIVERY_HEADER",
    "EMAIL_PREFIX",
    "SIGNATURE_HEADER",
    "STALE_SENDING",
    "WEBHOOK_PREFIX",
    "NotifyConfig",
    "NotifyError",
    "Smtp",
    "Webhook",
    "claim",
    "entries",
    "mark",
    "period_key",
    "send_email",
    "send_standard",
    "send_webhook",
    "signature",
    "standard_signature",
    "verify",
    "verify_standard",
]
