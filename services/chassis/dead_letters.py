"""Dead letters: what a service's consumer gave up on (poison messages, or failures that outlived
their retries), listed for a person to read and sent back, once the cause is fixed, to that one
consumer only (not to every subscriber of the event)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import pika

from services.chassis.events import ATTEMPT, DEAD_LETTER_REASON, ORIGIN_EXCHANGE, ORIGIN_ROUTING_KEY
from services.chassis.rabbit import connect, consumer_queue, queue_depth


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    exchange: str
    routing_key: str
    attempts: int
    reason: str
    body: bytes


def dead_letter_queue(service: str, release: str = "") -> str:
    return f"{consumer_queue(service, release)}.dead-letter"


def _attempts(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _read(props: pika.BasicProperties, body: bytes) -> DeadLetter:
    headers = props.headers or {}
    return DeadLetter(
        message_id=props.message_id or "",
        exchange=str(headers.get(ORIGIN_EXCHANGE, "")),
        routing_key=str(headers.get(ORIGIN_ROUTING_KEY, "")),
        attempts=_attempts(headers.get(ATTEMPT, 1)),
        reason=str(headers.get(DEAD_LETTER_REASON, "")),
        body=body,
    )


def list_dead_letters(url: str, service: str, release: str = "", limit: int = 100) -> list[DeadLetter]:
    """Read without removing: the messages go back to the queue when the channel closes."""
    if queue_depth(url, dead_letter_queue(service, release)) is None:
        return []  # nothing was ever dead-lettered here
    conn = connect(url, f"oms-{service}-dead-letters")
    try:
        channel = conn.channel()
        found: list[DeadLetter] = []
        while len(found) < limit:
            method, props, body = channel.basic_get(dead_letter_queue(service, release), auto_ack=False)
            if method is None:
                break
            found.append(_read(props, body))
        return found
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def replay_dead_letters(
    url: str,
    service: str,
    release: str = "",
    limit: int | None = None,
    target_queue: Callable[[DeadLetter], str] | None = None,
) -> int:
    """Send dead letters back to the service's own queue with a fresh attempt count, each one
    confirmed before it is removed from the dead-letter queue."""
    target = target_queue or (lambda _letter: consumer_queue(service, release))
    if queue_depth(url, dead_letter_queue(service, release)) is None:
        return 0
    conn = connect(url, f"oms-{service}-dead-letters")
    replayed = 0
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        while limit is None or replayed < limit:
            method, props, body = channel.basic_get(dead_letter_queue(service, release), auto_ack=False)
            if method is None:
                break
            letter = _read(props, body)
            headers = {k: v for k, v in (props.headers or {}).items() if k != DEAD_LETTER_REASON}
            headers[ATTEMPT] = 1
            channel.basic_publish(
                "",
                target(letter),
                body,
                pika.BasicProperties(
                    content_type=props.content_type or "application/json",
                    delivery_mode=pika.DeliveryMode.Persistent,
                    message_id=props.message_id,
                    type=props.type,
                    headers=headers,
                ),
            )
            channel.basic_ack(method.delivery_tag)
            replayed += 1
        return replayed
    finally:
        with contextlib.suppress(Exception):
            conn.close()
