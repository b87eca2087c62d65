"""One try of one message on one channel, as a row of the delivery log. Scheduling the tries
(several channels at once, backoff, quiet hours, the log in the database) is the dispatcher's:
services/notify/service_layer/dispatch.py.

"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.notify.channels.base import Channel, DeliveryResult, Message, Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """One try on one channel: a row of the delivery log."""

    channel: str
    message_id: str
    attempt: int  # 1-based
    outcome: Outcome
    detail: str
    at: datetime  # when the try started
    duration_s: float
    status: int | None = None  # HTTP status or SMTP reply code
    code: int | None = None  # the platform's answer code


def utc_now() -> datetime:
    return datetime.now(UTC)


def attempt(
    channel: Channel, message: Message, number: int, clock: Callable[[], datetime] = utc_now
) -> tuple[Attempt, DeliveryResult]:
    """One try of `message` on `channel`: what it answered, as a row of the delivery log. A
    channel that raises is that channel's failed try, nobody else's."""
    at, started = clock(), time.monotonic()
    try:
        result = channel.send(message)
    except Exception as exc:
        result = DeliveryResult("failed", f"{type(exc).__name__}: {exc}"[:300])
    level = logging.INFO if result.outcome == "sent" else logging.WARNING
    log.log(
        level,
        "notify %s via %s, try %d: %s (%s)",
        message.message_id,
        channel.name,
        number,
        result.outcome,
        result.detail,
    )
    row = Attempt(
        channel=channel.name,
        message_id=message.message_id,
        attempt=number,
        outcome=result.outcome,
        detail=result.detail,
        at=at,
        duration_s=time.monotonic() - started,
        status=result.status,
        code=result.code,
    )
    return row, result
