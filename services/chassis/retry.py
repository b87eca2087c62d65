"""One retry and dead-letter policy for every transport (RabbitMQ consumer, in-process bus, the
nameko worker): one decision, the same delays, the same headers on every retried or
dead-lettered copy, so `omsctl dead-letters` reads the same for every service.

On RabbitMQ a retry waits in a queue of its own delay tier (`<queue>.retry.<ms>ms`, a queue-level
TTL, then dead-lettered back to `<queue>`): RabbitMQ expires only the head of a queue, so with one
retry queue and per-message TTLs a 0.2 s retry waited behind a 3.2 s one. In one tier every
message has the same TTL, so the head is always the first due.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.chassis.db import is_bad_value
from services.chassis.events import (
    ATTEMPT,
    DEAD_LETTER_REASON,
    ORIGIN_EXCHANGE,
    ORIGIN_ROUTING_KEY,
    MalformedEvent,
)


@dataclass(frozen=True)
class Retry:
    """Deliver again after `delay_s`, as attempt number `attempt`."""

    delay_s: float
    attempt: int


@dataclass(frozen=True)
class DeadLetter:
    """Give up: park the message with `reason` for a person to read (and replay once fixed)."""

    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    first_delay_s: float = 0.2
    factor: float = 4.0

    def delay_s(self, attempt: int) -> float:
        """Delay before attempt `attempt + 1`."""
        return self.first_delay_s * self.factor ** (attempt - 1)

    def delays_ms(self) -> list[int]:
        """Every delay a retry can wait (one RabbitMQ queue per tier)."""
        return sorted({delay_ms(self.delay_s(a)) for a in range(1, self.max_attempts)})

    def decide(self, attempt: int, error: BaseException) -> Retry | DeadLetter:
        """What to do with a message whose handling failed with `error` on attempt `attempt`."""
        if isinstance(error, MalformedEvent):
            return DeadLetter(str(error))  # no retry can fix what cannot be read
        if is_bad_value(error):  # nor a value the database refuses (too long, out of range)
            return DeadLetter(f"the database refused a value: {getattr(error, 'orig', error)!r}")
        if attempt >= self.max_attempts:
            return DeadLetter(f"gave up after {attempt} attempts: {error!r}")
        return Retry(self.delay_s(attempt), attempt + 1)


def delay_ms(delay_s: float) -> int:
    return max(round(delay_s * 1000), 1)


def retry_queue(queue: str, delay_s: float) -> str:
    return f"{queue}.retry.{delay_ms(delay_s)}ms"


def retry_queue_arguments(queue: str, delay_s: float) -> dict[str, Any]:
    """A tier queue: every message waits the same TTL, then goes back to `queue`."""
    return {
        "x-message-ttl": delay_ms(delay_s),
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": queue,
    }


def tier_queues(queue: str, policy: RetryPolicy) -> dict[str, dict[str, Any]]:
    """name -> arguments of every retry tier queue of `queue`."""
    return {
        retry_queue(queue, ms / 1000): retry_queue_arguments(queue, ms / 1000) for ms in policy.delays_ms()
    }


def forwarded_headers(
    headers: dict[str, Any], exchange: str, routing_key: str, attempt: int, reason: str = ""
) -> dict[str, Any]:
    """The headers every retried or dead-lettered copy carries, on every transport."""
    out = {**headers, ORIGIN_EXCHANGE: exchange, ORIGIN_ROUTING_KEY: routing_key, ATTEMPT: attempt}
    if reason:
        out[DEAD_LETTER_REASON] = reason[:500]
    return out


DEFAULT_POLICY = RetryPolicy()
