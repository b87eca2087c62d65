"""The notify worker on nameko: `nameko run --config services/notify/nameko.yaml services.notify.worker`.

nameko only delivers; the handling is the chassis EventConsumer running notify's plain-Python
handlers (idempotent through the inbox), exactly as in the embedded stack. Failures are retried
with the chassis backoff policy, then the message goes to `notify.events.dead-letter`.
"""

from __future__ import annotations

import json
import logging

import eventlet
from nameko.events import event_handler

from services.chassis.consumer import EventConsumer, RetryPolicy
from services.chassis.events import MalformedEvent
from services.chassis.inprocess_bus import InProcessBus
from services.chassis.rabbit import connect
from services.chassis.runtime import ServiceRuntime
from services.chassis.settings import from_env
from services.notify.app import definition

log = logging.getLogger(__name__)
RETRY = RetryPolicy()
_consumer: EventConsumer | None = None


def consumer() -> EventConsumer:
    """Built on first use inside the worker (never at import time)."""
    global _consumer
    if _consumer is None:
        runtime = ServiceRuntime(definition, from_env("notify"), InProcessBus())  # notify publishes no events
        _consumer = runtime.consumer
    return _consumer


def deliver(source: str, event_type: str, payload: dict) -> str:
    exchange = f"{source}.events"
    c = consumer()
    for attempt in range(1, RETRY.max_attempts + 1):
        try:
            return c.handle(exchange, event_type, payload)
        except MalformedEvent as exc:
            return dead_letter(c, exchange, event_type, payload, str(exc))
        except Exception as exc:
            if attempt == RETRY.max_attempts:
                return dead_letter(c, exchange, event_type, payload, repr(exc))
            c.record_retry(exchange, event_type)
            log.warning("notify: attempt %d failed: %r", attempt, exc)
            eventlet.sleep(RETRY.delay_s(attempt))
    raise AssertionError("unreachable")


def dead_letter(c: EventConsumer, exchange: str, event_type: str, payload: dict, reason: str) -> str:
    c.record_dead_letter(exchange, event_type)
    queue = "notify.events.dead-letter"
    conn = connect(from_env("notify").amqp_url, "oms-notify-dead-letter")
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.queue_declare(queue, durable=True)
        channel.basic_publish("", queue, json.dumps(payload, ensure_ascii=False).encode(), properties=None)
    finally:
        conn.close()
    log.error("notify: dead-lettered %s/%s: %s", exchange, event_type, reason)
    return "dead_letter"


class NotifyWorker:
    name = "notify"

    @event_handler("production", "work_order_created")
    def on_work_order_created(self, payload: dict) -> None:
        deliver("production", "work_order_created", payload)
