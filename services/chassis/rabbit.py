"""RabbitMQ transport with pika: a confirming publisher for the outbox relay and a consumer
with manual acks, delayed retries and a dead-letter queue.

Topology for a consuming service S (all durable):
  exchange `<source>.events` (topic)  --event_type-->  queue `S.events`
  queue `S.events.retry`  (messages wait there for their per-message TTL, then dead-letter back to `S.events`)
  queue `S.events.dead-letter`  (poison messages and those out of retries; inspect and replay by hand)
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import AMQPError

from services.chassis.consumer import EventConsumer, RetryPolicy
from services.chassis.events import MalformedEvent, Message
from services.chassis.metrics import OUTBOX_UNROUTED

log = logging.getLogger(__name__)

ORIGIN_EXCHANGE = "x-oms-exchange"
ORIGIN_ROUTING_KEY = "x-oms-routing-key"
ATTEMPT = "x-oms-attempt"


class PublishFailed(RuntimeError):
    pass


def connect(url: str, name: str) -> BlockingConnection:
    params = pika.URLParameters(url)
    params.client_properties = {"connection_name": name}
    params.heartbeat = 30
    params.blocked_connection_timeout = 30
    return BlockingConnection(params)


def queue_depth(url: str, queue: str) -> int | None:
    """Messages waiting in a queue, or None when there is no such queue (a passive declare)."""
    conn = connect(url, "oms-queue-check")
    try:
        return conn.channel().queue_declare(queue, passive=True).method.message_count
    except pika.exceptions.ChannelClosedByBroker:  # 404 NOT_FOUND
        return None
    finally:
        if conn.is_open:
            conn.close()


def declare_exchange(channel: BlockingChannel, exchange: str) -> None:
    channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)


def properties_for(message: Message, extra_headers: dict | None = None) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=message.message_id,
        timestamp=int(time.time()),
        type=message.routing_key,
        headers={**message.headers, **(extra_headers or {})},
    )


class RabbitPublisher:
    """Publishes a batch with pipelined publisher confirms: send all, then wait for the acks.

    pika's BlockingChannel only offers confirm-per-message, which costs a round trip each; the
    pipelined form uses the underlying channel's confirm callback (the same calls BlockingChannel
    itself makes) and waits once per batch.
    """

    def __init__(self, url: str, name: str = "oms-relay", confirm_timeout_s: float = 30):
        self._url = url
        self._name = name
        self._timeout = confirm_timeout_s
        self._conn: BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._declared: set[str] = set()
        self._published = self._settled = self._nacked = 0
        self._lock = threading.RLock()  # close() may run from another thread (shutdown)
        self._closing = False

    def _open(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self._close()
        self._conn = connect(self._url, self._name)
        channel = self._conn.channel()
        ready = []
        channel._impl.confirm_delivery(
            ack_nack_callback=self._on_confirm, callback=lambda _f: ready.append(1)
        )
        channel._flush_output(lambda: bool(ready))
        channel._impl.add_on_return_callback(self._on_return)
        self._channel = channel
        self._declared.clear()
        self._published = self._settled = self._nacked = 0
        return channel

    def _on_confirm(self, frame) -> None:
        method = frame.method
        # With `multiple`, one confirm settles every tag up to delivery_tag.
        count = method.delivery_tag - self._settled if method.multiple else 1
        self._settled += count
        if not isinstance(method, pika.spec.Basic.Ack):
            self._nacked += count

    def _on_return(self, _channel, method, _props, _body) -> None:
        # No queue is bound for this event (yet): RabbitMQ confirms it all the same, so it is
        # gone. Consumers declare their queues in `migrate`, before anything is published; a
        # return here means a subscriber is missing, and the platform engineer sees it counted.
        OUTBOX_UNROUTED.labels(method.exchange, method.routing_key).inc()
        log.warning("no queue bound for %s/%s: event not routed", method.exchange, method.routing_key)

    def publish_batch(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        with self._lock:
            try:
                self._publish(messages)
            except AMQPError as exc:
                self._close()
                raise PublishFailed(f"RabbitMQ publish failed: {exc!r}") from exc

    def _publish(self, messages: Sequence[Message]) -> None:
        channel = self._open()
        for exchange in {m.exchange for m in messages} - self._declared:
            declare_exchange(channel, exchange)
            self._declared.add(exchange)
        nacked_before = self._nacked
        for m in messages:
            channel._impl.basic_publish(m.exchange, m.routing_key, m.body, properties_for(m), mandatory=True)
            self._published += 1
        target = self._published
        deadline = time.monotonic() + self._timeout
        while self._settled < target:
            if self._closing:
                raise PublishFailed("publisher closing; unconfirmed messages stay in the outbox")
            if time.monotonic() > deadline:
                self._close()
                raise PublishFailed(
                    f"no confirm for {target - self._settled} message(s) within {self._timeout}s"
                )
            self._conn.process_data_events(time_limit=0.05)
        if self._nacked != nacked_before:
            raise PublishFailed(f"broker refused {self._nacked - nacked_before} message(s)")

    def close(self) -> None:
        self._closing = True  # an in-flight publish stops waiting for confirms within 50 ms
        with self._lock:
            self._close()

    def _close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None and conn.is_open:
            with contextlib.suppress(AMQPError):
                conn.close()


def consumer_queue(service: str, release: str = "") -> str:
    """`<service>.events`, or `<release>.<service>.events` when several releases (tenants deployed
    on their own) share one broker: each release needs its own copy of every event, not a share."""
    return f"{release}.{service}.events" if release else f"{service}.events"


def declare_consumer_topology(url: str, consumer: EventConsumer, release: str = "") -> list[str]:
    """Create a service's queues and bindings ahead of its first start (the `migrate` step), so
    events published before the consumer runs wait in its queue instead of going nowhere."""
    rabbit = RabbitConsumer(url, consumer, release=release)
    conn = connect(url, f"oms-{consumer.service}-topology")
    try:
        rabbit.declare(conn.channel())
    finally:
        conn.close()
    return [rabbit.queue]


def declare_external_queues(url: str, service: str, bindings: list[tuple[str, str, str]]) -> list[str]:
    """The same for a consumer the chassis does not run (nameko): (queue, exchange, routing key),
    declared exactly as that consumer declares them (durable, not auto-deleted, no arguments)."""
    conn = connect(url, f"oms-{service}-topology")
    try:
        channel = conn.channel()
        for queue, exchange, routing_key in bindings:
            declare_exchange(channel, exchange)
            channel.queue_declare(queue, durable=True)
            channel.queue_bind(queue, exchange, routing_key=routing_key)
    finally:
        conn.close()
    return [queue for queue, _, _ in bindings]


class RabbitConsumer:
    """Consumes a service's queue on its own thread; acks only after the handler committed."""

    def __init__(
        self,
        url: str,
        consumer: EventConsumer,
        retry: RetryPolicy | None = None,
        prefetch: int = 32,
        release: str = "",
    ):
        self._url = url
        self.consumer = consumer
        self.retry = retry or RetryPolicy()
        self.prefetch = prefetch
        self.queue = consumer_queue(consumer.service, release)
        self.retry_queue = f"{self.queue}.retry"
        self.dead_letter_queue = f"{self.queue}.dead-letter"  # = dead_letters.dead_letter_queue()
        self._stop = threading.Event()
        self._conn: BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()

    def declare(self, channel: BlockingChannel) -> None:
        channel.queue_declare(self.queue, durable=True)
        channel.queue_declare(
            self.retry_queue,
            durable=True,
            arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.queue},
        )
        channel.queue_declare(self.dead_letter_queue, durable=True)
        for sub in self.consumer.subscriptions:
            declare_exchange(channel, sub.exchange)
            channel.queue_bind(self.queue, sub.exchange, routing_key=sub.event_type)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"{self.consumer.service}-rabbit-consumer", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        conn, channel = self._conn, self._channel
        if conn is not None and channel is not None:
            with contextlib.suppress(Exception):
                conn.add_callback_threadsafe(channel.stop_consuming)
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._conn = connect(self._url, f"oms-{self.consumer.service}-consumer")
                channel = self._channel = self._conn.channel()
                channel.confirm_delivery()  # retry/dead-letter republishes are confirmed before the ack
                self.declare(channel)
                channel.basic_qos(prefetch_count=self.prefetch)
                channel.basic_consume(self.queue, self._on_message)
                self.ready.set()
                backoff = 0.5
                channel.start_consuming()
            except AMQPError as exc:
                if self._stop.is_set():
                    break
                log.warning("%s consumer: %r; reconnecting in %.1fs", self.consumer.service, exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 15)
            finally:
                conn, self._conn = self._conn, None
                if conn is not None and conn.is_open:
                    with contextlib.suppress(AMQPError):
                        conn.close()

    def _on_message(self, channel: BlockingChannel, method, props: pika.BasicProperties, body: bytes) -> None:
        headers = dict(props.headers or {})
        exchange = headers.get(ORIGIN_EXCHANGE, method.exchange)
        routing_key = headers.get(ORIGIN_ROUTING_KEY, method.routing_key)
        attempt = int(headers.get(ATTEMPT, 1))
        try:
            self.consumer.handle(exchange, routing_key, body, headers)
        except MalformedEvent as exc:
            self._forward(
                channel, self.dead_letter_queue, body, props, exchange, routing_key, attempt, reason=str(exc)
            )
        except Exception as exc:
            if attempt >= self.retry.max_attempts:
                log.error(
                    "%s: giving up on %s after %d attempts: %r",
                    self.consumer.service,
                    props.message_id,
                    attempt,
                    exc,
                )
                self._forward(
                    channel,
                    self.dead_letter_queue,
                    body,
                    props,
                    exchange,
                    routing_key,
                    attempt,
                    reason=repr(exc),
                )
            else:
                log.warning(
                    "%s: attempt %d of %s failed: %r", self.consumer.service, attempt, props.message_id, exc
                )
                self.consumer.record_retry(exchange, routing_key)
                delay_ms = int(self.retry.delay_s(attempt) * 1000)
                self._forward(
                    channel,
                    self.retry_queue,
                    body,
                    props,
                    exchange,
                    routing_key,
                    attempt + 1,
                    expiration=str(delay_ms),
                )
                channel.basic_ack(method.delivery_tag)
                return
            self.consumer.record_dead_letter(exchange, routing_key)
        channel.basic_ack(method.delivery_tag)

    def _forward(
        self,
        channel: BlockingChannel,
        queue_name: str,
        body: bytes,
        props: pika.BasicProperties,
        exchange: str,
        routing_key: str,
        attempt: int,
        *,
        expiration: str | None = None,
        reason: str = "",
    ) -> None:
        headers = dict(props.headers or {})
        headers.update({ORIGIN_EXCHANGE: exchange, ORIGIN_ROUTING_KEY: routing_key, ATTEMPT: attempt})
        if reason:
            headers["x-oms-dead-letter-reason"] = reason[:500]
        channel.basic_publish(
            "",
            queue_name,
            body,
            pika.BasicProperties(
                content_type=props.content_type,
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=props.message_id,
                type=props.type,
                headers=headers,
                expiration=expiration,
            ),
        )
