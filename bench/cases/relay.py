"""Case 3: the event relay drains N outbox rows from PostgreSQL to RabbitMQ with publisher confirms,
against two plain-pika baselines publishing the same bodies in the same run: confirm-per-message
(the naive pattern) and pipelined confirms (the ceiling). A consumer counts every delivery."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pika
from sqlalchemy import MetaData, create_engine, func, insert, select

from bench.config import Config
from bench.measure import Sample
from bench.report import Report, Row, compare
from bench.stacks import Environment, fresh_database, fresh_vhost
from bench.worker import run_job
from oms.order.v1 import order_pb2
from services.chassis.events import EventCodec, Message
from services.chassis.identity import Identity, acting_as
from services.chassis.rabbit import properties_for, queue_depth
from services.chassis.tables import add_chassis_tables
from services.order.domain.model import OrderCreated

SOURCE = "order"  # the relay publishes each row to the exchange stored with it: order.events
NAIVE_EXCHANGE = "bench.naive.events"
PIPELINED_EXCHANGE = "bench.pipelined.events"
UNROUTED_EXCHANGE = "bench.unrouted.events"  # declared by the relay, no queue bound
MAX_NAIVE = 5_000  # confirm-per-message costs a round trip each; its rate settles long before 20k


def outbox_metadata() -> MetaData:
    metadata = MetaData()
    add_chassis_tables(metadata)
    return metadata


def fill_outbox(url: str, count: int, unrouted_every: int = 0) -> int:
    """Write `count` real order_created events (encoded and checked by the chassis codec) in bulk;
    with `unrouted_every=k`, every k-th goes to an exchange no queue is bound to (the broker
    confirms those at once, out of tag order). Returns how many rows a consumer will see."""
    engine = create_engine(url)
    metadata = outbox_metadata()
    metadata.create_all(engine)
    codec = EventCodec(SOURCE, {"order_created": order_pb2.OrderCreated})
    now = datetime.now(UTC)
    rows = []
    with acting_as(Identity("hardware", "bench")):
        for i in range(count):
            event = OrderCreated(
                str(uuid.uuid4()), f"HW-20261125-{i:05d}", str(uuid.uuid4()), "CHANNEL_DIRECT",
                "PRIORITY_NORMAL", "2026-12-20",
            )  # fmt: skip
            msg = codec.encode(event, "hardware", {"traceparent": f"00-{uuid.uuid4().hex}-{'0' * 15}1-01"})
            unrouted = unrouted_every and i % unrouted_every == 0
            rows.append(
                dict(
                    event_id=msg.message_id,
                    tenant_id="hardware",
                    exchange=UNROUTED_EXCHANGE if unrouted else msg.exchange,
                    event_type=msg.routing_key,
                    body=msg.body.decode(),
                    headers=json.dumps(msg.headers),
                    created_at=now,
                )
            )
    with engine.begin() as conn:
        conn.execute(insert(metadata.tables["outbox"]), rows)
    engine.dispose()
    return sum(r["exchange"] != UNROUTED_EXCHANGE for r in rows)


def declare_counting_queues(amqp_url: str) -> dict[str, str]:
    """exchange -> durable queue bound to all its routing keys (what a real consumer would have)."""
    queues = {
        f"{SOURCE}.events": "bench.relay",
        NAIVE_EXCHANGE: "bench.naive",
        PIPELINED_EXCHANGE: "bench.pipelined",
    }
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    ch = conn.channel()
    for exchange, queue in queues.items():
        ch.exchange_declare(exchange, exchange_type="topic", durable=True)
        ch.queue_declare(queue, durable=True)
        ch.queue_bind(queue, exchange, routing_key="#")
    conn.close()
    return queues


def drain_and_count(amqp_url: str, queue: str, expected: int) -> tuple[int, int]:
    """Consume the queue empty; returns (deliveries, distinct message ids)."""
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=1000)
    seen: list[str] = []
    for method, props, _body in ch.consume(queue, auto_ack=True, inactivity_timeout=3):
        if method is None:
            break
        seen.append(props.message_id)
    ch.cancel()
    conn.close()
    return len(seen), len(set(seen))


def run(env: Environment, cfg: Config, report: Report) -> None:
    n = cfg.relay_events
    with fresh_database("relay") as url, fresh_vhost() as amqp_url:
        fill_outbox(url, n)
        queues = declare_counting_queues(amqp_url)
        args = {"url": url, "amqp_url": amqp_url, "batch": cfg.relay_batch}
        naive_n = min(n, MAX_NAIVE)
        naive = Row.of(
            "relay.pika-confirm-each",
            Sample.from_json(run_job("pika-naive", {**args, "limit": naive_n, "exchange": NAIVE_EXCHANGE})),
        )
        ceiling = Row.of(
            "relay.pika-pipelined",
            Sample.from_json(run_job("pika-pipelined", {**args, "limit": n, "exchange": PIPELINED_EXCHANGE})),
        )
        relay = Row.of("relay.OutboxRelay", Sample.from_json(run_job("relay", args)))
        delivered, distinct = drain_and_count(amqp_url, queues[f"{SOURCE}.events"], n)
        baseline_counts = (queue_depth(amqp_url, "bench.naive"), queue_depth(amqp_url, "bench.pipelined"))
        engine = create_engine(url)
        outbox = outbox_metadata().tables["outbox"]
        with engine.connect() as conn:
            left = conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            ).scalar_one()
        engine.dispose()
    mixed, mixed_counts = run_mixed(cfg)
    report.add(
        ceiling,
        compare(naive, ceiling),
        compare(relay, ceiling, aim=">= 0.7"),
        compare(mixed, ceiling, aim=">= 0.7"),
    )
    exactly_once = delivered == n and distinct == n and left == 0
    relay.note = f"{delivered} delivered, {distinct} distinct ids, {left} left in outbox"
    routed, m_delivered, m_distinct, m_left = mixed_counts
    mixed.note = f"{routed} routed: {m_delivered} delivered, {m_distinct} distinct, {m_left} left"
    report.notes.append(
        f"relay, mixed: every third event unroutable (confirmed at once, out of tag order); "
        f"{m_delivered} of {routed} routed events delivered, {m_distinct} distinct, {m_left} left in outbox"
    )
    if (m_delivered, m_distinct, m_left) != (routed, routed, 0):
        raise AssertionError(f"mixed relay delivered {m_delivered} ({m_distinct} distinct) of {routed}")
    report.notes.append(
        f"relay: {relay.ops_s:,.0f} confirmed events/s (aim >= 5,000: "
        f"{'met' if relay.ops_s >= 5000 else 'MISSED'}); consumer counted {delivered} deliveries, "
        f"{distinct} distinct event ids of {n} ({'exactly once' if exactly_once else 'NOT exactly once'}); "
        f"baseline queues hold {baseline_counts[0]} / {baseline_counts[1]}; p50/p99 are per batch of "
        f"{cfg.relay_batch} (per message for confirm-each)"
    )
    if not exactly_once:
        raise AssertionError(f"relay delivered {delivered} ({distinct} distinct) of {n}; {left} unpublished")


def run_mixed(cfg: Config) -> tuple[Row, tuple[int, int, int, int]]:
    """The relay on a mix of routed and unroutable events (what stalled it for good before its
    confirms were tracked per delivery tag)."""
    n = cfg.relay_events
    with fresh_database("relaymix") as url, fresh_vhost() as amqp_url:
        routed = fill_outbox(url, n, unrouted_every=3)
        queues = declare_counting_queues(amqp_url)
        sample = Sample.from_json(
            run_job("relay", {"url": url, "amqp_url": amqp_url, "batch": cfg.relay_batch})
        )
        delivered, distinct = drain_and_count(amqp_url, queues[f"{SOURCE}.events"], routed)
        engine = create_engine(url)
        outbox = outbox_metadata().tables["outbox"]
        with engine.connect() as conn:
            left = conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            ).scalar_one()
        engine.dispose()
    return Row.of("relay.OutboxRelay.mixed", sample), (routed, delivered, distinct, left)


# --- worker jobs (each in its own process) ---------------------------------------------------------


def _messages(url: str, limit: int, exchange: str) -> list[Message]:
    """The outbox rows as the relay would publish them, re-addressed to a baseline's exchange."""
    engine = create_engine(url)
    outbox = outbox_metadata().tables["outbox"]
    with engine.connect() as conn:
        rows = conn.execute(select(outbox).order_by(outbox.c.id).limit(limit)).all()
    engine.dispose()
    return [
        Message(exchange, r.event_type, r.body.encode(), r.event_id, r.tenant_id, json.loads(r.headers))
        for r in rows
    ]


def pika_naive_job(args: dict) -> dict:
    messages = _messages(args["url"], args["limit"], args["exchange"])
    # Connecting is left out of every timing (the relay's first call connects before its clock starts).
    conn = pika.BlockingConnection(pika.URLParameters(args["amqp_url"]))
    ch = conn.channel()
    ch.confirm_delivery()
    latencies = []
    started = time.perf_counter()
    for m in messages:
        t0 = time.perf_counter()
        ch.basic_publish(m.exchange, m.routing_key, m.body, properties_for(m), mandatory=False)
        latencies.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - started
    conn.close()
    return Sample(len(messages), seconds, latencies).to_json()


def pika_pipelined_job(args: dict) -> dict:
    """Send a batch, then wait once for its confirms: the relay's pattern with no database."""
    messages = _messages(args["url"], args["limit"], args["exchange"])
    batch = args["batch"]
    acked = 0

    def on_confirm(frame) -> None:
        nonlocal acked
        m = frame.method
        if not isinstance(m, pika.spec.Basic.Ack):
            raise RuntimeError("broker nacked a message")
        acked = m.delivery_tag if m.multiple else acked + 1

    conn = pika.BlockingConnection(pika.URLParameters(args["amqp_url"]))
    ch = conn.channel()
    ready: list[int] = []
    # BlockingChannel only confirms one message at a time; its underlying channel can pipeline.
    ch._impl.confirm_delivery(ack_nack_callback=on_confirm, callback=lambda _f: ready.append(1))
    while not ready:
        conn.process_data_events(time_limit=0.01)
    latencies = []
    started = time.perf_counter()
    for i in range(0, len(messages), batch):
        t0 = time.perf_counter()
        for m in messages[i : i + batch]:
            ch._impl.basic_publish(m.exchange, m.routing_key, m.body, properties_for(m))
        target = min(i + batch, len(messages))
        while acked < target:
            conn.process_data_events(time_limit=0.05)
        latencies.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - started
    conn.close()
    return Sample(len(messages), seconds, latencies).to_json()


def relay_job(args: dict) -> dict:
    from services.chassis.outbox import OutboxRelay
    from services.chassis.rabbit import RabbitPublisher

    engine = create_engine(args["url"])
    publisher = RabbitPublisher(args["amqp_url"], "oms-bench-relay")
    relay = OutboxRelay(
        SOURCE, engine, outbox_metadata().tables["outbox"], publisher, batch_size=args["batch"]
    )
    # One unroutable message connects the publisher and declares its exchange before the clock starts.
    publisher.publish_batch([Message("bench.warmup.events", "warmup", b"{}", str(uuid.uuid4()), "hardware")])
    latencies, total = [], 0
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        moved = relay.relay_once()
        if not moved:
            break
        total += moved
        latencies.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - started
    publisher.close()
    engine.dispose()
    return Sample(total, seconds, latencies).to_json()
