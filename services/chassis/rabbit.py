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
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import AMQPChannelError, AMQPConnectionError, AMQPError

from services.chassis.consumer import EventConsumer, Prepared
from services.chassis.events import (
    ATTEMPT,
    ORIGIN_EXCHANGE,
    ORIGIN_ROUTING_KEY,
    MalformedEvent,
    Message,
    check_headers,
)
from services.chassis.metrics import OUTBOX_UNROUTED
from services.chassis.retry import DeadLetter, RetryPolicy, forwarded_headers, retry_queue, tier_queues

log = logging.getLogger(__name__)


class PublishFailed(RuntimeError):
    """Nothing in the batch can be taken as sent (the broker is unreachable, a confirm never came).
    `isolate` says the broker refused the batch as a whole (it closed the channel): some message
    in it may be the cause, so the relay should retry the rows one at a time to find it."""

    def __init__(self, message: str, *, isolate: bool = False):
        super().__init__(message)
        self.isolate = isolate


def connect(url: str, name: str, heartbeat_s: int = 30) -> BlockingConnection:
    params = pika.URLParameters(url)
    params.client_properties = {"connection_name": name}
    params.heartbeat = heartbeat_s
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

    Confirms are tracked per delivery tag, never by counting: the broker confirms an unroutable
    message at once and may cover lower tags later with one `multiple` ack, so confirms arrive out
    of tag order. A nack refuses exactly the messages it covers; `publish_batch` reports those
    (by index) and the relay keeps them in the outbox.
    """

    def __init__(
        self, url: str, name: str = "oms-relay", confirm_timeout_s: float = 30, heartbeat_s: int = 30
    ):
        self._url = url
        self._name = name
        self._heartbeat_s = heartbeat_s
        self._timeout = confirm_timeout_s
        self._conn: BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._declared: set[str] = set()
        self._next_tag = 1
        self._outstanding: set[int] = set()  # published, not yet confirmed either way
        self._nacked: set[int] = set()
        self._unrouted: dict[tuple[str, str], tuple[int, float]] = {}  # -> (not yet said, said at)
        self._lock = threading.RLock()  # close() may run from another thread (shutdown)
        self._closing = False

    def _open(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open and self._conn is not None:
            return self._channel
        self._close()
        self._conn = connect(self._url, self._name, self._heartbeat_s)
        channel = self._conn.channel()
        ready = []
        channel._impl.confirm_delivery(
            ack_nack_callback=self._on_confirm, callback=lambda _f: ready.append(1)
        )
        channel._flush_output(lambda: bool(ready))
        channel._impl.add_on_return_callback(self._on_return)
        self._channel = channel
        self._declared.clear()
        self._next_tag = 1  # delivery tags restart on every channel
        self._outstanding.clear()
        self._nacked.clear()
        return channel

    def _on_confirm(self, frame) -> None:
        method = frame.method
        tag = method.delivery_tag
        settled = {t for t in self._outstanding if t <= tag} if method.multiple else {tag}
        self._outstanding -= settled
        if not isinstance(method, pika.spec.Basic.Ack):
            self._nacked |= settled

    def _on_return(self, _channel, method, _props, _body) -> None:
        # No queue is bound for this event (yet): RabbitMQ confirms it all the same, so it is
        # gone. Consumers declare their queues in `migrate`, before anything is published; a
        # return here means a subscriber is missing, and the platform engineer sees it counted.
        OUTBOX_UNROUTED.labels(method.exchange, method.routing_key).inc()
        # Said once per event type and UNROUTED_LOG_S, not per event: an event type nobody
        # subscribes to yet (order_created today) would otherwise log a line per order.
        key = (method.exchange, method.routing_key)
        count, said_at = self._unrouted.get(key, (0, -UNROUTED_LOG_S))
        now = time.monotonic()
        if now - said_at >= UNROUTED_LOG_S:
            log.warning(
                "no queue bound for %s/%s: event not routed (%d more since last said; counted in "
                "oms_outbox_unrouted_total)",
                *key,
                count,
            )
            self._unrouted[key] = (0, now)
        else:
            self._unrouted[key] = (count + 1, said_at)

    def publish_batch(self, messages: Sequence[Message]) -> dict[int, str]:
        """Publish and wait for every confirm. Returns {index: reason} for the messages the broker
        refused (the rest are safely with it); raises PublishFailed when nothing can be said."""
        if not messages:
            return {}
        with self._lock:
            reused = self._channel is not None and self._channel.is_open
            try:
                return self._publish(messages)
            except AMQPConnectionError as exc:
                self._close()
                if not reused or self._closing:
                    raise PublishFailed(f"RabbitMQ publish failed: {exc!r}") from exc
                # An idle connection the broker dropped (missed heartbeats, a broker restart):
                # reconnect once, quietly; consumers dedupe whatever the old one delivered.
                log.info("%s: reconnecting to RabbitMQ after %r", self._name, exc)
            except AMQPChannelError as exc:
                self._close()
                reason = f"RabbitMQ closed the channel: {exc!r}"
                if len(messages) == 1:
                    return {0: reason[:500]}  # the broker refused this very message
                raise PublishFailed(reason, isolate=True) from exc
            except AMQPError as exc:
                self._close()
                raise PublishFailed(f"RabbitMQ publish failed: {exc!r}") from exc
            try:
                return self._publish(messages)
            except AMQPError as exc:
                self._close()
                raise PublishFailed(f"RabbitMQ publish failed: {exc!r}") from exc

    def _publish(self, messages: Sequence[Message]) -> dict[int, str]:
        channel = self._open()
        for exchange in {m.exchange for m in messages} - self._declared:
            declare_exchange(channel, exchange)
            self._declared.add(exchange)
        refused: dict[int, str] = {}
        tags: dict[int, int] = {}  # delivery tag -> index in the batch
        for i, m in enumerate(messages):
            try:
                props = properties_for(m)
                channel._impl.basic_publish(m.exchange, m.routing_key, m.body, props, mandatory=True)
            except (TypeError, ValueError, pika.exceptions.UnsupportedAMQPFieldException) as exc:
                refused[i] = f"cannot be encoded as an AMQP message: {exc!r}"[:500]
                continue  # nothing reached the wire, no tag was used
            tags[self._next_tag] = i
            self._outstanding.add(self._next_tag)
            self._next_tag += 1
        deadline = time.monotonic() + self._timeout
        while not self._outstanding.isdisjoint(tags):
            if self._closing:
                raise PublishFailed("publisher closing; unconfirmed messages stay in the outbox")
            if time.monotonic() > deadline:
                self._close()
                unconfirmed = len(self._outstanding.intersection(tags))
                raise PublishFailed(f"no confirm for {unconfirmed} message(s) within {self._timeout}s")
            assert self._conn is not None
            self._conn.process_data_events(time_limit=0.05)
            if not channel.is_open:  # closed by the broker (e.g. a message it will not take)
                raise pika.exceptions.ChannelClosed(0, "channel closed while waiting for confirms")
        for tag in self._nacked.intersection(tags):
            refused[tags[tag]] = "refused by the broker (nack)"
        self._nacked.difference_update(tags)
        return refused

    def keepalive(self) -> None:
        """Let pika answer heartbeats while the relay is idle, so the broker keeps the connection;
        a connection found dead is dropped quietly and reopened by the next publish."""
        with self._lock:
            if self._conn is None:
                return
            try:
                self._conn.process_data_events(time_limit=0)
            except AMQPError as exc:
                log.info("%s: idle RabbitMQ connection lost (%r); reopening on next publish", self._name, exc)
                self._close()

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


def declare_external_queues(
    url: str,
    service: str,
    bindings: list[tuple[str, str, str]],
    release: str = "",
    retry: RetryPolicy | None = None,
) -> list[str]:
    """The same for a consumer the chassis does not run (nameko): (queue, exchange, routing key),
    declared exactly as that consumer declares them (durable, not auto-deleted, no arguments),
    with the chassis retry tiers that feed each queue and the service's dead-letter queue."""
    conn = connect(url, f"oms-{service}-topology")
    try:
        channel = conn.channel()
        for queue, exchange, routing_key in bindings:
            declare_exchange(channel, exchange)
            channel.queue_declare(queue, durable=True)
            channel.queue_bind(queue, exchange, routing_key=routing_key)
            for name, arguments in tier_queues(queue, retry or RetryPolicy()).items():
                channel.queue_declare(name, durable=True, arguments=arguments)
        channel.queue_declare(f"{consumer_queue(service, release)}.dead-letter", durable=True)
    finally:
        conn.close()
    return [queue for queue, _, _ in bindings]


UNROUTED_LOG_S = 600.0  # how often an unrouted event type is logged again
IDLE_S = 0.2  # an idle consumer looks up this often (to stop, to flush a batch)


class Delivery(NamedTuple):
    method: Any
    props: pika.BasicProperties
    body: bytes


class RabbitConsumer:
    """Consumes a service's queue on its own thread; acks only after the handler committed.

    Every part of a delivery (body, headers, properties) is untrusted: whatever cannot be read is
    dead-lettered with its reason, and nothing a message carries can end the consuming thread.
    Should that thread end anyway, `on_fatal` is told (the service then stops serving).
    """

    def __init__(
        self,
        url: str,
        consumer: EventConsumer,
        retry: RetryPolicy | None = None,
        prefetch: int = 128,
        max_batch: int = 64,
        release: str = "",
        on_fatal: Callable[[BaseException], None] | None = None,
        max_reconnect_delay_s: float = 2.0,
    ):
        self._url = url
        self.consumer = consumer
        self.retry = retry or RetryPolicy()
        self.prefetch = prefetch
        self.max_batch = max_batch
        self.queue = consumer_queue(consumer.service, release)
        self.dead_letter_queue = f"{self.queue}.dead-letter"  # = dead_letters.dead_letter_queue()
        self._on_fatal = on_fatal
        self._max_reconnect_delay_s = max_reconnect_delay_s
        self._stop = threading.Event()
        self._conn: BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._thread: threading.Thread | None = None
        self._settled: set[int] = set()
        self.ready = threading.Event()
        self.connected = threading.Event()

    def declare(self, channel: BlockingChannel) -> None:
        channel.queue_declare(self.queue, durable=True)
        for name, arguments in tier_queues(self.queue, self.retry).items():
            channel.queue_declare(name, durable=True, arguments=arguments)
        channel.queue_declare(self.dead_letter_queue, durable=True)
        for sub in self.consumer.subscriptions:
            declare_exchange(channel, sub.exchange)
            channel.queue_bind(self.queue, sub.exchange, routing_key=sub.event_type)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"{self.consumer.service}-rabbit-consumer", daemon=True
        )
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()  # seen by the consuming loop within IDLE_S
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._consume_until_stopped()
        except BaseException as exc:  # nothing should get here; if it does, the service must know
            log.critical("%s consumer stopped: %r", self.consumer.service, exc, exc_info=True)
            if self._on_fatal is not None:
                self._on_fatal(exc)
            raise

    def _consume_until_stopped(self) -> None:
        delay = 0.25
        while not self._stop.is_set():
            try:
                self._conn = connect(self._url, f"oms-{self.consumer.service}-consumer")
                channel = self._channel = self._conn.channel()
                channel.confirm_delivery()  # retry/dead-letter republishes are confirmed before the ack
                self.declare(channel)
                channel.basic_qos(prefetch_count=self.prefetch)
                self.ready.set()
                self.connected.set()
                if delay > 0.25:
                    log.info("%s consumer: reattached to %s", self.consumer.service, self.queue)
                delay = 0.25
                self._consume(channel)
            except Exception as exc:
                self.connected.clear()
                if self._stop.is_set():
                    break
                level = logging.WARNING if isinstance(exc, AMQPError) else logging.ERROR
                log.log(
                    level,
                    "%s consumer: %r; reconnecting in %.2fs",
                    self.consumer.service,
                    exc,
                    delay,
                    exc_info=level == logging.ERROR,
                )
                # A broker back after an outage is found within a couple of seconds.
                self._stop.wait(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self._max_reconnect_delay_s)
            finally:
                self.connected.clear()
                conn, self._conn = self._conn, None
                if conn is not None and conn.is_open:
                    with contextlib.suppress(Exception):
                        conn.close()

    def _consume(self, channel: BlockingChannel) -> None:
        """Deliveries in batches: what has arrived by the time the previous batch is done, up to
        `max_batch`, is handled in one transaction (services/chassis/consumer.py) and acked after
        its commit. A lone delivery is handled at once: batching adds no wait, only saves commits
        when a queue builds up."""
        batch: list[Delivery] = []
        for method, props, body in channel.consume(self.queue, inactivity_timeout=IDLE_S):
            if method is not None:
                batch.append(Delivery(method, props, body))
            if batch and (
                method is None or len(batch) >= self.max_batch or not channel.get_waiting_message_count()
            ):
                self._handle(channel, batch)
                batch = []
            if self._stop.is_set():
                break
        channel.cancel()  # what was delivered and not handled goes back to the queue

    def _handle(self, channel: BlockingChannel, batch: list[Delivery]) -> None:
        self._settled = set()  # tags acked on their own (forwarded to retry or dead letter)
        ready: dict[str, list[tuple[Delivery, Prepared, int]]] = {}  # tenant -> its events, in order
        for d in batch:
            try:
                exchange, routing_key, attempt, headers = read_delivery(d.method, d.props)
            except MalformedEvent as exc:
                headers = safe_headers(d.props.headers)
                exchange = str(headers.get(ORIGIN_EXCHANGE, d.method.exchange))
                routing_key = str(headers.get(ORIGIN_ROUTING_KEY, d.method.routing_key))
                self._dead_letter(channel, d, headers, exchange, routing_key, 1, str(exc))
                continue
            try:
                prepared = self.consumer.prepare(exchange, routing_key, d.body, headers, d.props.message_id)
            except Exception as exc:
                self._failed(channel, d, headers, exchange, routing_key, attempt, exc)
                continue
            ready.setdefault(prepared.event.tenant_id, []).append((d, prepared, attempt))
        for items in ready.values():
            try:
                self.consumer.handle_batch([p for _, p, _ in items])
                continue
            except Exception as exc:
                if len(items) == 1:
                    d, p, attempt = items[0]
                    self._failed(
                        channel, d, dict(p.headers), p.subscription.exchange, p.event.event_type, attempt, exc
                    )
                    continue
                log.info(
                    "%s: a batch of %d failed (%r); handling them one by one",
                    self.consumer.service,
                    len(items),
                    exc,
                )
            for d, p, attempt in items:  # the batch rolled back as a whole: find the one that fails
                try:
                    self.consumer.handle_batch([p])
                except Exception as exc:
                    self._failed(
                        channel, d, dict(p.headers), p.subscription.exchange, p.event.event_type, attempt, exc
                    )
        # The rest are committed: one ack covers them (and skips those acked on their own).
        rest = [d.method.delivery_tag for d in batch if d.method.delivery_tag not in self._settled]
        if rest:
            channel.basic_ack(max(rest), multiple=True)

    def _settle(self, channel: BlockingChannel, d: Delivery) -> None:
        """Ack a delivery whose copy now waits in a retry or dead-letter queue (the forward was
        confirmed): at once, so a batch that is requeued later (a dropped connection) does not
        bring it back beside its copy."""
        channel.basic_ack(d.method.delivery_tag)
        self._settled.add(d.method.delivery_tag)

    def _failed(
        self,
        channel: BlockingChannel,
        d: Delivery,
        headers: dict[str, Any],
        exchange: str,
        routing_key: str,
        attempt: int,
        exc: Exception,
    ) -> None:
        decision = self.retry.decide(attempt, exc)
        if isinstance(decision, DeadLetter):
            self._dead_letter(channel, d, headers, exchange, routing_key, attempt, decision.reason)
            return
        log.warning(
            "%s: attempt %d of %s failed: %r", self.consumer.service, attempt, d.props.message_id, exc
        )
        self.consumer.record_retry(exchange, routing_key)
        self._forward(
            channel,
            retry_queue(self.queue, decision.delay_s),
            d.body,
            d.props,
            forwarded_headers(headers, exchange, routing_key, decision.attempt),
        )
        self._settle(channel, d)

    def _dead_letter(
        self,
        channel: BlockingChannel,
        d: Delivery,
        headers: dict[str, Any],
        exchange: str,
        routing_key: str,
        attempt: int,
        reason: str,
    ) -> None:
        log.error(
            "%s: dead-lettered %s (attempt %d): %s",
            self.consumer.service,
            d.props.message_id,
            attempt,
            reason,
        )
        self._forward(
            channel,
            self.dead_letter_queue,
            d.body,
            d.props,
            forwarded_headers(headers, exchange, routing_key, attempt, reason),
        )
        self._settle(channel, d)
        self.consumer.record_dead_letter(exchange, routing_key)

    def _forward(
        self,
        channel: BlockingChannel,
        queue: str,
        body: bytes,
        props: pika.BasicProperties,
        headers: dict,
    ) -> None:
        channel.basic_publish(
            "",
            queue,
            body,
            pika.BasicProperties(
                content_type=_short_text(props.content_type),
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=_short_text(props.message_id),
                type=_short_text(props.type),
                headers=headers,
            ),
        )


def _short_text(value: object) -> str | None:
    """A property copied onto a forwarded message: a short string, or dropped."""
    return value if isinstance(value, str) and len(value) <= 255 else None


def safe_headers(raw: object) -> dict[str, Any]:
    """Headers as they may be copied onto a dead-lettered copy of a message that failed its
    checks: text keys, values that are plain text or numbers (anything else as bounded text)."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in list(raw.items())[:64]:
        if not isinstance(key, str) or len(key) > 128:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            value = repr(value)
        if isinstance(value, str):
            value = value[:1000]
        out[key] = value
    return out


def read_delivery(method, props: pika.BasicProperties) -> tuple[str, str, int, dict[str, Any]]:
    """(exchange, routing key, attempt, headers) of a delivery, or MalformedEvent saying which part
    of it cannot be trusted."""
    headers = check_headers(props.headers)
    exchange = headers.get(ORIGIN_EXCHANGE, method.exchange)
    routing_key = headers.get(ORIGIN_ROUTING_KEY, method.routing_key)
    attempt = headers.get(ATTEMPT, 1)
    for name, value in (("content_type", props.content_type), ("message_id", props.message_id)):
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise MalformedEvent(f"property {name} is not short text")
    if props.content_type and props.content_type.split(";")[0].strip().lower() != "application/json":
        raise MalformedEvent(f"content type {props.content_type[:64]!r} is not application/json")
    return exchange, routing_key, attempt, headers
