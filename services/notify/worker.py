"""The notify worker on nameko: `nameko run --config services/notify/nameko.yaml services.notify.worker`.

nameko only delivers; the handling is the chassis EventConsumer running notify's plain-Python
handlers (idempotent through the inbox), exactly as in the embedded stack. Failures follow the
chassis retry policy (services/chassis/retry.py): a retry waits in a delay-tier queue that feeds
nameko's queue again, a hopeless or malformed message goes to `notify.events.dead-letter`.
"""

from __future__ import annotations

import json
import logging
import math
import os
from contextlib import contextmanager

import pika
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.messaging import QueueConsumer
from nameko.timer import timer

from services.chassis.consumer import EventConsumer
from services.chassis.dead_letters import dead_letter_queue
from services.chassis.events import ATTEMPT, check_headers
from services.chassis.inprocess_bus import InProcessBus
from services.chassis.metrics import EVENTS_CONSUMED, serve_metrics
from services.chassis.rabbit import connect, declare_external_queues
from services.chassis.retry import DeadLetter, RetryPolicy, forwarded_headers, retry_queue
from services.chassis.runtime import ServiceRuntime
from services.chassis.settings import Settings, from_env
from services.notify.app import definition, nameko_queue, nameko_service_name

log = logging.getLogger(__name__)
RETRY = RetryPolicy()


class Handlers(DependencyProvider):
    """Builds notify's runtime once per worker process, when nameko starts the service (never at
    import time), and hands each worker the delivery function."""

    def setup(self) -> None:
        self.settings = from_env("notify")
        # notify publishes no events, so the runtime's relay needs no real bus
        runtime = ServiceRuntime(definition, self.settings, InProcessBus())
        self.consumer = runtime.consumer
        self.jobs = runtime.jobs
        # The retry tiers and dead-letter queue of every queue nameko reads exist before the first
        # failure needs them (`migrate` declares them too; declaring is idempotent).
        declare_external_queues(
            self.settings.amqp_url, "notify", external_bindings(runtime, self.settings), self.settings.release
        )
        serve_metrics(self.settings.metrics_port, self.settings.bind_host)

    def get_dependency(self, worker_ctx):
        # nameko hands the message's AMQP headers to the worker as context data: the trace
        # context (traceparent) rides there, so the consumer span continues the producer's trace.
        headers = dict(worker_ctx.context_data)
        return Deliver(
            lambda source, event_type, payload: deliver(
                self.consumer, self.settings, source, event_type, payload, headers
            ),
            self.jobs.tick,
        )


class Deliver:
    """What a worker gets: the delivery function, and the job tick its timer calls."""

    def __init__(self, deliver, tick):
        self._deliver = deliver
        self.tick_jobs = tick

    def __call__(self, source: str, event_type: str, payload: dict) -> str:
        return self._deliver(source, event_type, payload)


def external_bindings(runtime: ServiceRuntime, settings: Settings) -> list[tuple[str, str, str]]:
    return [
        (nameko_queue(settings.release, sub), sub.exchange, sub.event_type)
        for sub in runtime.wiring.subscriptions
    ]


def deliver(
    consumer: EventConsumer,
    settings: Settings,
    source: str,
    event_type: str,
    payload: dict,
    headers: dict | None = None,
) -> str:
    """Handle one delivery; a failure is decided by the chassis retry policy, exactly as on the
    chassis consumer: a retry waits in its delay tier's queue (never in a worker slot), a
    hopeless or malformed message goes to the dead-letter queue with the same headers."""
    exchange = f"{source}.events"
    attempt = 1
    try:
        # The same header checks as the chassis consumer: the headers are untrusted input too.
        checked = check_headers(headers)
        attempt = checked.get(ATTEMPT, 1)
        trace_headers = {
            k: v for k, v in checked.items() if isinstance(v, str) and not k.startswith("call_id")
        }
        return consumer.handle(exchange, event_type, payload, trace_headers)
    except Exception as exc:
        decision = RETRY.decide(attempt, exc)
        body = json.dumps(payload, ensure_ascii=False).encode()
        message_id = str(payload.get("event_id", ""))[:64] if isinstance(payload, dict) else ""
        if isinstance(decision, DeadLetter):
            headers = forwarded_headers({}, exchange, event_type, attempt, decision.reason)
            _publish(settings, dead_letter_queue("notify", settings.release), body, headers, message_id)
            consumer.record_dead_letter(exchange, event_type)
            log.error("notify: dead-lettered %s/%s: %s", exchange, event_type, decision.reason)
            return "dead_letter"
        sub = next(s for s in consumer.subscriptions if (s.source, s.event_type) == (source, event_type))
        queue = nameko_queue(settings.release, sub)
        headers = forwarded_headers({}, exchange, event_type, decision.attempt)
        _publish(settings, retry_queue(queue, decision.delay_s), body, headers, message_id)
        consumer.record_retry(exchange, event_type)
        log.warning(
            "notify: attempt %d of %s failed: %r; retrying in %.1fs",
            attempt,
            message_id,
            exc,
            decision.delay_s,
        )
        return "retry"


def _publish(settings: Settings, queue: str, body: bytes, headers: dict, message_id: str = "") -> None:
    """One confirmed publish to a queue (a retry tier or the dead-letter queue); if it fails the
    exception reaches nameko, which requeues the message (requeue_on_error): nothing is lost."""
    conn = connect(settings.amqp_url, "oms-notify-forward")
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            "",
            queue,
            body,
            pika.BasicProperties(
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=message_id or None,
                headers=headers,
            ),
        )
    finally:
        conn.close()


class PoisonProofQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that a message kombu cannot decode (not JSON, a content
    type it does not accept) is dead-lettered with its reason and acked. nameko's own would raise
    out of its consuming loop, kill the container, and meet the same message again after every
    restart."""

    @contextmanager
    def establish_connection(self):
        # kombu's default waits 2, 4, 6 ... 30 s between attempts: after a broker outage the worker
        # read its queue again up to 10 s late. Half a second, up to 2 s, like the chassis consumer.
        with self.create_connection() as conn:
            conn.ensure_connection(
                self.on_connection_error,
                self.connect_max_retries,
                interval_start=0.5,
                interval_step=0.5,
                interval_max=2,
            )
            yield conn

    def ack_message(self, message):
        # nameko catches only amqp's ConnectionError here; a socket the broker just reset raises
        # OSError (ConnectionResetError, BrokenPipeError), which killed the whole container after a
        # broker restart. The message was not acked: the broker redelivers it, the inbox dedupes.
        try:
            super().ack_message(message)
        except OSError as exc:
            log.warning("notify: could not ack on a closed connection (%r); it will be redelivered", exc)

    def requeue_message(self, message):
        try:
            super().requeue_message(message)
        except OSError as exc:
            log.warning("notify: could not requeue on a closed connection (%r); the broker will", exc)

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for consumer in consumers:
            consumer.on_decode_error = self._dead_letter_undecodable
        return consumers

    def _dead_letter_undecodable(self, message, exc: Exception) -> None:
        dead_letter_raw(message, f"not a JSON event nameko can decode: {exc!r}")
        message.ack()  # on the consuming thread itself: kombu calls this from its loop


def dead_letter_raw(message, reason: str) -> None:
    """Park a message as it arrived (the body bytes), with the chassis headers and its reason."""
    info = message.delivery_info or {}
    exchange, routing_key = str(info.get("exchange", "")), str(info.get("routing_key", ""))
    settings = from_env("notify")
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    headers = forwarded_headers({}, exchange, routing_key, 1, reason)
    _publish(settings, dead_letter_queue("notify", settings.release), body, headers)
    EVENTS_CONSUMED.labels("notify.undecodable", routing_key[:64], "dead_letter").inc()
    log.error("notify: dead-lettered a message from %s/%s: %s", exchange, routing_key, reason)


class PoisonProofEventHandler(EventHandler):
    queue_consumer = PoisonProofQueueConsumer()

    def handle_message(self, body, message):
        # nameko's own events carry no message_id property; one that does must name the event
        # its body holds (the same check as the chassis consumer's).
        message_id = (message.properties or {}).get("message_id")
        if message_id is not None and not (isinstance(body, dict) and body.get("event_id") == message_id):
            dead_letter_raw(message, "property message_id does not match the envelope's event_id")
            self.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)


poison_proof_event_handler = PoisonProofEventHandler.decorator


def timer_interval_s(environ) -> float:
    """The shorter of the due-check and dispatch periods (Settings checks both properly when the
    worker starts; this only has to pick a sane tick at import time, as nameko reads it then)."""
    periods = []
    for name, default in (("OMS_DUE_CHECK_S", 60.0), ("OMS_NOTIFY_DISPATCH_S", 2.0)):
        try:
            value = float(environ.get(name, default))
        except ValueError:
            value = default
        periods.append(max(value, 0.1) if math.isfinite(value) else default)
    return min(periods)


class NotifyWorker:
    # nameko names its queues after the service; a release sharing the broker with others needs
    # its own (read when nameko imports this module, as nameko's own config is).
    name = nameko_service_name(os.environ.get("OMS_RELEASE", ""))
    deliver = Handlers()

    # requeue_on_error: if even the dead-letter publish fails, the message goes back, not away
    @poison_proof_event_handler("production", "work_order_created", requeue_on_error=True)
    def on_work_order_created(self, payload: dict) -> None:
        self.deliver("production", "work_order_created", payload)

    @poison_proof_event_handler("production", "work_order_revised", requeue_on_error=True)
    def on_work_order_revised(self, payload: dict) -> None:
        self.deliver("production", "work_order_revised", payload)

    @poison_proof_event_handler("production", "work_order_cancelled", requeue_on_error=True)
    def on_work_order_cancelled(self, payload: dict) -> None:
        self.deliver("production", "work_order_cancelled", payload)

    @poison_proof_event_handler("production", "work_order_stage_changed", requeue_on_error=True)
    def on_work_order_stage_changed(self, payload: dict) -> None:
        self.deliver("production", "work_order_stage_changed", payload)

    @poison_proof_event_handler("order", "order_created", requeue_on_error=True)
    def on_order_created(self, payload: dict) -> None:
        self.deliver("order", "order_created", payload)

    @poison_proof_event_handler("customer", "customer_created", requeue_on_error=True)
    def on_customer_created(self, payload: dict) -> None:
        self.deliver("customer", "customer_created", payload)

    @poison_proof_event_handler("customer", "customer_updated", requeue_on_error=True)
    def on_customer_updated(self, payload: dict) -> None:
        self.deliver("customer", "customer_updated", payload)

    @poison_proof_event_handler("order", "order_change_requested", requeue_on_error=True)
    def on_order_change_requested(self, payload: dict) -> None:
        self.deliver("order", "order_change_requested", payload)

    @poison_proof_event_handler("order", "order_changed", requeue_on_error=True)
    def on_order_changed(self, payload: dict) -> None:
        self.deliver("order", "order_changed", payload)

    @poison_proof_event_handler("order", "order_change_rejected", requeue_on_error=True)
    def on_order_change_rejected(self, payload: dict) -> None:
        self.deliver("order", "order_change_rejected", payload)

    @poison_proof_event_handler("ingest", "review_item_opened", requeue_on_error=True)
    def on_review_item_opened(self, payload: dict) -> None:
        self.deliver("ingest", "review_item_opened", payload)

    @poison_proof_event_handler("inventory", "materials_reserved", requeue_on_error=True)
    def on_materials_reserved(self, payload: dict) -> None:
        self.deliver("inventory", "materials_reserved", payload)

    @poison_proof_event_handler("inventory", "reservation_adjusted", requeue_on_error=True)
    def on_reservation_adjusted(self, payload: dict) -> None:
        self.deliver("inventory", "reservation_adjusted", payload)

    @poison_proof_event_handler("order", "order_state_changed", requeue_on_error=True)
    def on_order_state_changed(self, payload: dict) -> None:
        self.deliver("order", "order_state_changed", payload)

    @poison_proof_event_handler("order", "order_shipped", requeue_on_error=True)
    def on_order_shipped(self, payload: dict) -> None:
        self.deliver("order", "order_shipped", payload)

    @poison_proof_event_handler("order", "order_cancelled", requeue_on_error=True)
    def on_order_cancelled(self, payload: dict) -> None:
        self.deliver("order", "order_cancelled", payload)

    @poison_proof_event_handler("order", "after_sales_requested", requeue_on_error=True)
    def on_after_sales_requested(self, payload: dict) -> None:
        self.deliver("order", "after_sales_requested", payload)

    # notify's scheduled jobs on nameko's timer — the due-date check and the dispatch of notices
    # to their channels; each job's lease makes it once per its own period across every worker
    # (and notify's own process, which ticks the same jobs), so the timer runs at the shorter one.
    @timer(interval=timer_interval_s(os.environ))
    def run_scheduled_jobs(self) -> None:
        self.deliver.tick_jobs()
