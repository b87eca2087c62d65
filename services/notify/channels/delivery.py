"""Sending one message on several channels: each on its own, retried with exponential backoff,
every attempt recorded.

Each channel runs in its own worker thread, so one that hangs until its timeout, backs off or
raises never holds up or stops the others. A "failed" answer is retried after
`policy.delay_s(n)`, or after the platform's rate-limit hint when that is longer; a "rejected"
one is not retried (the same request would be refused again). When a platform asks for a longer
wait than `max_rate_limit_wait_s`, the round gives up on that channel ("failed") and leaves the
next try to the caller's scheduler rather than holding a worker for minutes.

`sleep` and `clock` are parameters so tests neither sleep nor depend on the time of day.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from services.notify.channels.base import Channel, DeliveryResult, Message, Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackoffPolicy:
    attempts: int = 4  # tries per channel, the first included
    base_delay_s: float = 2.0
    factor: float = 2.0
    max_delay_s: float = 60.0
    max_rate_limit_wait_s: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")

    def delay_s(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based)."""
        return min(self.base_delay_s * self.factor ** (attempt - 1), self.max_delay_s)


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


@dataclass(frozen=True)
class Delivery:
    message_id: str
    attempts: tuple[Attempt, ...]  # in the order they ended
    outcomes: Mapping[str, Outcome]  # channel name -> its last outcome

    def of(self, channel: str) -> list[Attempt]:
        return [a for a in self.attempts if a.channel == channel]


def utc_now() -> datetime:
    return datetime.now(UTC)


def deliver(
    channels: Sequence[Channel],
    message: Message,
    policy: BackoffPolicy = BackoffPolicy(),  # frozen, so one shared default is safe
    *,
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> Delivery:
    """Send `message` on every channel; `on_attempt` sees each attempt as it ends (to store it)."""
    names = [channel.name for channel in channels]
    if len(set(names)) != len(names):
        raise ValueError(f"channel names must be unique: {names}")
    attempts: list[Attempt] = []
    lock = threading.Lock()

    def record(attempt: Attempt) -> None:
        with lock:
            attempts.append(attempt)
        level = logging.INFO if attempt.outcome == "sent" else logging.WARNING
        log.log(
            level,
            "notify %s via %s, attempt %d: %s (%s)",
            attempt.message_id,
            attempt.channel,
            attempt.attempt,
            attempt.outcome,
            attempt.detail,
        )
        if on_attempt is not None:
            try:
                on_attempt(attempt)
            except Exception:  # the log's trouble must not stop the sending
                log.exception("notify: storing attempt %d of %s failed", attempt.attempt, attempt.channel)

    def one(channel: Channel) -> Outcome:
        return _deliver_one(channel, message, policy, clock, sleep, record)

    if len(channels) <= 1:
        outcomes = {channel.name: one(channel) for channel in channels}
    else:
        with ThreadPoolExecutor(max_workers=len(channels), thread_name_prefix="notify") as pool:
            futures = {channel.name: pool.submit(one, channel) for channel in channels}
            outcomes = {name: future.result() for name, future in futures.items()}
    return Delivery(message.message_id, tuple(attempts), outcomes)


def _deliver_one(
    channel: Channel,
    message: Message,
    policy: BackoffPolicy,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    record: Callable[[Attempt], None],
) -> Outcome:
    for number in range(1, policy.attempts + 1):
        at, started = clock(), time.monotonic()
        try:
            result = channel.send(message)
        except Exception as exc:  # a channel's bug is that channel's failed attempt, nobody else's
            result = DeliveryResult("failed", f"{type(exc).__name__}: {exc}"[:300])
        record(
            Attempt(
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
        )
        if result.outcome != "failed" or number == policy.attempts:
            return result.outcome
        wait = policy.delay_s(number)
        if result.retry_after_s is not None:
            if result.retry_after_s > policy.max_rate_limit_wait_s:
                log.warning(
                    "notify %s via %s: asked to wait %.0f s, more than %.0f s; left for a later round",
                    message.message_id,
                    channel.name,
                    result.retry_after_s,
                    policy.max_rate_limit_wait_s,
                )
                return "failed"
            wait = max(wait, result.retry_after_s)
        sleep(wait)
    return "failed"  # not reached: the loop returns on its last attempt
