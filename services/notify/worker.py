"""The notify worker on nameko: `nameko run --config services/notify/nameko.yaml services.notify.worker`.

nameko only delivers; the handling is the chassis EventConsumer running notify's plain-Python
handlers (idempotent through the inbox), exactly as in the embedded stack. Failures are retried
with the chassis backoff policy, then the message goes to `notify.events.dead-letter`.
"""

from __future__ import annotations

import json
import logging
import os

import eventlet
import pika
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.messaging import QueueConsumer

from services.chassis.consumer import EventConsumer, RetryPolicy
from services.chassis.dead_letters import dead_letter_queue
from services.chassis.events import MalformedEvent, check_headers
from services.chassis.inprocess_bus import InProcessBus
from services.chassis.metrics import EVENTS_CONSUMED, serve_metrics
from services.chassis.rabbit import DEAD_LETTER_REASON, ORIGIN_EXCHANGE, ORIGIN_ROUTING_KEY, connect
from services.chassis.runtime import ServiceRuntime
from services.chassis.settings import Settings, from_env
from services.notify.app import definition, nameko_service_name

log = logging.getLogger(__name__)
RETRY = RetryPolicy()


class Handlers(DependencyProvider):
    """Builds notify's runtime once per worker process, when nameko starts the service (never at
    import time), and hands each worker the retrying delivery function."""

    def setup(self) -> None:
        self.settings = from_env("notify")
        # notify publishes no events, so the runtime's relay needs no real bus
        self.consumer = ServiceRuntime(definition, self.settings, InProcessBus()).consumer
        serve_metrics(self.settings.metrics_port, self.settings.bind_host)

    def get_dependency(self, worker_ctx):
        # nameko hands the message's AMQP headers to the worker as context data: the trace
        # context (traceparent) rides there, so the consumer span continues the producer's trace.
        headers = dict(worker_ctx.context_data)
        return lambda source, event_type, payload: deliver(
            self.consumer, self.settings, source, event_type, payload, headers
        )


def deliver(
    consumer: EventConsumer,
    settings: Settings,
    source: str,
    event_type: str,
    payload: dict,
    headers: dict | None = None,
) -> str:
    exchange = f"{source}.events"
    try:
        # The same header checks as the chassis consumer: the headers are untrusted input too.
        checked = check_headers(headers)
    except MalformedEvent as exc:
        return dead_letter(consumer, settings, exchange, event_type, payload, str(exc))
    headers = {k: v for k, v in checked.items() if isinstance(v, str) and not k.startswith("call_id")}
    for attempt in range(1, RETRY.max_attempts + 1):
        try:
            return consumer.handle(exchange, event_type, payload, headers)
        except MalformedEvent as exc:
            return dead_letter(consumer, settings, exchange, event_type, payload, str(exc))
        except Exception as exc:
            if attempt == RETRY.max_attempts:
                return dead_letter(consumer, settings, exchange, event_type, payload, repr(exc))
            consumer.record_retry(exchange, event_type)
            log.warning("notify: attempt %d failed: %r", attempt, exc)
            eventlet.sleep(RETRY.delay_s(attempt))
    raise AssertionError("unreachable")


def dead_letter(
    consumer: EventConsumer, settings: Settings, exchange: str, event_type: str, payload: dict, reason: str
) -> str:
    body = json.dumps(payload, ensure_ascii=False).encode()
    _publish_dead_letter(settings, body, {ORIGIN_EXCHANGE: exchange, ORIGIN_ROUTING_KEY: event_type}, reason)
    consumer.record_dead_letter(exchange, event_type)
    log.error("notify: dead-lettered %s/%s: %s", exchange, event_type, reason)
    return "dead_letter"


def _publish_dead_letter(settings: Settings, body: bytes, headers: dict, reason: str) -> None:
    conn = connect(settings.amqp_url, "oms-notify-dead-letter")
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        queue = dead_letter_queue("notify", settings.release)
        channel.queue_declare(queue, durable=True)
        channel.basic_publish(
            "",
            queue,
            body,
            pika.BasicProperties(
                content_type="application/json",
                delivery_mode=2,
                headers={**headers, DEAD_LETTER_REASON: reason[:500]},
            ),
        )
    finally:
        conn.close()


class PoisonProofQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that a message kombu cannot decode (not JSON, a content
    type it does not accept) is dead-lettered with its reason and acked. nameko's own would raise
    out of its consuming loop, kill the container, and meet the same message again after every
    restart."""

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for consumer in consumers:
            consumer.on_decode_error = self._dead_letter_undecodable
        return consumers

    def _dead_letter_undecodable(self, message, exc: Exception) -> None:
        info = message.delivery_info or {}
        exchange, routing_key = str(info.get("exchange", "")), str(info.get("routing_key", ""))
        reason = f"not a JSON event nameko can decode: {exc!r}"
        settings = from_env("notify")
        _publish_dead_letter(
            settings,
            message.body if isinstance(message.body, bytes) else str(message.body).encode(),
            {ORIGIN_EXCHANGE: exchange, ORIGIN_ROUTING_KEY: routing_key},
            reason,
        )
        EVENTS_CONSUMED.labels("notify.undecodable", routing_key[:64], "dead_letter").inc()
        log.error("notify: dead-lettered undecodable message from %s/%s: %s", exchange, routing_key, reason)
        message.ack()


class PoisonProofEventHandler(EventHandler):
    queue_consumer = PoisonProofQueueConsumer()


poison_proof_event_handler = PoisonProofEventHandler.decorator


class NotifyWorker:
    # nameko names its queues after the service; a release sharing the broker with others needs
    # its own (read when nameko imports this module, as nameko's own config is).
    name = nameko_service_name(os.environ.get("OMS_RELEASE", ""))
    deliver = Handlers()

    # requeue_on_error: if even the dead-letter publish fails, the message goes back, not away
    @poison_proof_event_handler("production", "work_order_created", requeue_on_error=True)
    def on_work_order_created(self, payload: dict) -> None:
        self.deliver("production", "work_order_created", payload)
