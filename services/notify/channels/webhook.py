"""A generic signed webhook, for the plant's own systems (an SMS gateway, a shop-floor screen).

POST JSON {message_id, kind, recipient, subject, body, reference, urgent, sent_at} with
  X-OMS-Timestamp: <unix seconds>
  X-OMS-Signature: sha256=<hex HMAC-SHA256, keyed with the shared secret, of "<timestamp>.<raw body>">
  Idempotency-Key / X-OMS-Message-Id: <message_id>
as Stripe and GitHub sign theirs. A receiver recomputes the signature over the raw bytes it got,
compares in constant time, refuses a timestamp more than 5 minutes old (replay), and answers 2xx for
a message_id it already has: a retry after a lost answer then shows nothing twice. 2xx = sent;
408/425/429/5xx = failed (Retry-After honoured); any other status = rejected.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from services.notify.channels._http import HttpChannel, dumps, http_outcome
from services.notify.channels.base import DeliveryResult, Message
from services.notify.channels.config import WebhookConfig


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-OMS-Signature header value."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class WebhookChannel(HttpChannel):
    def __init__(
        self,
        name: str,
        config: WebhookConfig,
        *,
        client: httpx.Client | None = None,
        now: Callable[[], float] = time.time,
    ):
        super().__init__(name, config.url, config.timeout_s, [config.secret], client=client, now=now)
        self._config = config

    def send(self, message: Message) -> DeliveryResult:
        now = self._now()
        body = dumps(self.body(message, now))
        timestamp = str(int(now))
        headers = {
            "X-OMS-Timestamp": timestamp,
            "X-OMS-Signature": signature(self._config.secret, timestamp, body),
            "Idempotency-Key": message.message_id,
            "X-OMS-Message-Id": message.message_id,
        }
        answer = self._post(self._config.url, body, headers)
        if isinstance(answer, DeliveryResult):
            return answer
        decided = http_outcome(answer)
        if decided is not None:
            return decided
        return DeliveryResult("sent", f"HTTP {answer.status}", status=answer.status)

    @staticmethod
    def body(message: Message, now: float) -> dict[str, Any]:
        recipient = message.recipient
        # Only the addresses we hold: a receiver routing by mobile or e-mail needs them, and a
        # field we do not have is left out rather than sent as null.
        addresses = {"mobile": recipient.mobile, "email": recipient.email}
        return {
            "message_id": message.message_id,
            "kind": message.kind,
            "recipient": {"name": recipient.name, **{k: v for k, v in addresses.items() if v}},
            "subject": message.subject,
            "body": message.body,
            "reference": message.reference,
            "urgent": message.urgent,
            "sent_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        }
