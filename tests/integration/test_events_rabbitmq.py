"""The event path on the real servers: outbox on PostgreSQL, relay with publisher confirms to
RabbitMQ, consumer with inbox, retries and dead-letter queue."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime

import pika
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, insert, select

from oms.customer.v1 import customer_pb2
from services.chassis.consumer import EventConsumer, Subscription
from services.chassis.db import connector
from services.chassis.events import EventCodec
from services.chassis.identity import Identity, acting_as
from services.chassis.outbox import OutboxRelay
from services.chassis.rabbit import RabbitConsumer, RabbitPublisher, queue_depth
from services.chassis.retry import RetryPolicy, retry_queue
from services.chassis.tables import add_chassis_tables
from services.chassis.uow import UnitOfWork
from services.customer.domain.model import CustomerCreated

pytestmark = pytest.mark.integration
HARDWARE = Identity("hardware", "tester", frozenset({"admin"}))
FAST_RETRY = RetryPolicy(max_attempts=3, first_delay_s=0.05, factor=2)


def make_metadata() -> tuple[MetaData, Table]:
    metadata = MetaData()
    add_chassis_tables(metadata)
    effects = Table(
        "effects",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False),
        Column("code", String(32), nullable=False),
    )
    return metadata, effects


class Side:
    """One side of the wire: a service name, its own PostgreSQL database and unit of work."""

    def __init__(self, url: str, name: str):
        self.name = name
        self.metadata, self.effects = make_metadata()
        self.engine = create_engine(url)
        self.metadata.create_all(self.engine)
        self.codec = EventCodec(name, {"customer_created": customer_pb2.CustomerCreated})
        self.connect = connector(self.engine)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.connect, self.metadata, self.codec)

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(self.metadata.tables[table])).scalar_one()


def emit(side: Side, n: int, prefix: str = "C") -> None:
    with acting_as(HARDWARE), side.uow() as uow:
        for i in range(n):
            uow.record(CustomerCreated(str(uuid.uuid4()), f"{prefix}{i}", "美的", "TIER_A", "陈丽"))
        uow.commit()


def duplicates_seen(service: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "oms_events_consumed_total",
            {
                "consumer": f"{service}.apply_customer_created",
                "event_type": "customer_created",
                "outcome": "duplicate",
            },
        )
        or 0.0
    )


def wait_until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def wire(fresh_database, amqp_url):
    source = Side(fresh_database("src"), f"src{uuid.uuid4().hex[:6]}")
    sink = Side(fresh_database("sink"), f"sink{uuid.uuid4().hex[:6]}")
    made: list = []

    def start_consumer(handler, retry=FAST_RETRY, release="", tenants=("hardware",)):
        consumer = EventConsumer(
            sink.name,
            [Subscription(source.name, "customer_created", handler, handler.__name__)],
            sink.uow,
            list(tenants),
        )
        rc = RabbitConsumer(amqp_url, consumer, retry=retry, release=release)
        rc.start()
        assert rc.ready.wait(10)
        made.append(rc)
        return rc

    publisher = RabbitPublisher(amqp_url)
    relay = OutboxRelay(source.name, source.engine, source.metadata.tables["outbox"], publisher)
    yield source, sink, relay, start_consumer, amqp_url
    for rc in made:
        rc.stop()
    publisher.close()
    source.engine.dispose()
    sink.engine.dispose()


def record_effect(sink: Side):
    def apply_customer_created(event, uow) -> None:
        uow.connection.execute(insert(sink.effects).values(event_id=event.event_id, code=event.data["code"]))

    return apply_customer_created


def test_events_cross_exactly_once(wire):
    source, sink, relay, start_consumer, _ = wire
    start_consumer(record_effect(sink))
    emit(source, 250)
    assert relay.drain() == 250
    assert relay.drain() == 0  # published rows are not sent again
    wait_until(lambda: sink.count("effects") == 250)
    time.sleep(0.3)
    assert sink.count("effects") == 250
    assert sink.count("inbox") == 250


def test_rolled_back_work_leaves_no_event(wire):
    source, *_ = wire
    with pytest.raises(RuntimeError), acting_as(HARDWARE), source.uow() as uow:
        uow.connection.execute(insert(source.effects).values(event_id="-", code="half-written"))
        uow.record(CustomerCreated(str(uuid.uuid4()), "X", "n", "TIER_C", ""))
        raise RuntimeError("crash before commit")
    assert source.count("outbox") == 0
    assert source.count("effects") == 0


def test_a_failed_handler_leaves_nothing_half_written(wire):
    source, sink, relay, start_consumer, _ = wire

    def writes_then_fails(event, uow):
        uow.connection.execute(insert(sink.effects).values(event_id=event.event_id, code="half"))
        raise ValueError("the WMS answered nonsense")

    rc = start_consumer(writes_then_fails)
    emit(source, 1)
    relay.drain()
    wait_until(lambda: queue_depth(rc._url, rc.dead_letter_queue) == 1)
    assert sink.count("effects") == 0 and sink.count("inbox") == 0


def test_redelivered_event_is_handled_once(wire):
    source, sink, relay, start_consumer, amqp_url = wire
    start_consumer(record_effect(sink))
    emit(source, 1)
    with source.engine.connect() as conn:
        row = conn.execute(select(source.metadata.tables["outbox"])).one()
    relay.drain()
    # The broker delivers the same message again (e.g. a relay crash before marking it published).
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    conn.channel().basic_publish(
        row.exchange, row.event_type, row.body.encode(), pika.BasicProperties(headers=json.loads(row.headers))
    )
    conn.close()
    wait_until(lambda: duplicates_seen(sink.name) == 1)
    assert sink.count("effects") == 1 and sink.count("inbox") == 1


def test_failing_handler_is_retried_then_succeeds(wire):
    source, sink, relay, start_consumer, _ = wire
    failures = {"left": 2}
    effect = record_effect(sink)

    def flaky(event, uow):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("WMS did not answer")
        effect(event, uow)

    start_consumer(flaky)
    emit(source, 1)
    relay.drain()
    wait_until(lambda: sink.count("effects") == 1)
    assert failures["left"] == 0


def test_poison_and_hopeless_messages_go_to_dead_letter_queue(wire):
    source, sink, relay, start_consumer, amqp_url = wire

    def always_fails(event, uow):
        raise ValueError("bad data for this handler")

    rc = start_consumer(always_fails)
    emit(source, 1)
    relay.drain()
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    conn.channel().basic_publish(f"{source.name}.events", "customer_created", b"{not json")
    conn.close()
    wait_until(lambda: queue_depth(amqp_url, rc.dead_letter_queue) == 2)
    assert sink.count("effects") == 0


def test_two_relays_share_the_outbox_without_duplicates(wire, amqp_url):
    source, sink, relay, start_consumer, _ = wire
    start_consumer(record_effect(sink))
    emit(source, 2000)
    second = OutboxRelay(
        source.name,
        source.engine,
        source.metadata.tables["outbox"],
        RabbitPublisher(amqp_url),
        batch_size=100,
    )
    relay._batch_size = 100
    counts = []
    threads = [threading.Thread(target=lambda r=r: counts.append(r.drain())) for r in (relay, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 2000
    wait_until(lambda: sink.count("inbox") == 2000, timeout=30)
    assert sink.count("effects") == 2000


def test_message_follows_the_wire_convention(wire, spans):
    """nameko's format: topic exchange <service>.events, routing key = event type, JSON body; ids,
    tenant, time and trace context in properties and headers; persistent."""
    from opentelemetry import trace

    source, _sink, relay, _start, amqp_url = wire
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = conn.channel()
    channel.exchange_declare(f"{source.name}.events", exchange_type="topic", durable=True)
    tap = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(tap, f"{source.name}.events", routing_key="customer_created")
    with trace.get_tracer("test").start_as_current_span("CreateCustomer"):
        emit(source, 1)
    relay.drain()
    method, props, body = None, None, None
    deadline = time.monotonic() + 5
    while method is None and time.monotonic() < deadline:
        method, props, body = channel.basic_get(tap, auto_ack=True)
    conn.close()
    assert method is not None, "nothing arrived"
    doc = json.loads(body)
    assert method.exchange == f"{source.name}.events" and method.routing_key == "customer_created"
    assert props.delivery_mode == 2 and props.content_type == "application/json"
    assert props.message_id == doc["event_id"] and props.type == "customer_created"
    assert props.timestamp and props.headers["tenant_id"] == doc["tenant_id"] == "hardware"
    assert props.headers["source"] == doc["source"] == source.name
    assert doc["data"]["code"] == "C0" and doc["data"]["tier"] == "TIER_A"
    assert props.headers["traceparent"].startswith("00-")


def test_refused_publishes_stay_in_the_outbox_and_are_parked_after_their_attempts(wire):
    """A nack (here: a full queue that rejects publishes) is a refused event, not a sent one: the
    row stays, its attempts counted; at the relay's limit it is parked with the broker's reason."""
    source, _sink, relay, _start, amqp_url = wire
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = conn.channel()
    channel.exchange_declare(f"{source.name}.events", exchange_type="topic", durable=True)
    full = f"{source.name}.full"
    channel.queue_declare(full, arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    channel.queue_bind(full, f"{source.name}.events", routing_key="customer_created")
    emit(source, 5)
    outbox = source.metadata.tables["outbox"]
    assert relay.relay_once() == 5
    with source.engine.connect() as c:
        state = c.execute(select(outbox.c.published_at, outbox.c.attempts, outbox.c.last_error)).all()
    assert [(r.published_at, r.attempts) for r in state] == [(None, 1)] * 5
    assert all("nack" in r.last_error for r in state)
    for _ in range(relay._max_attempts - 1):
        relay.relay_once()
    with source.engine.connect() as c:
        assert c.execute(select(func.count()).where(outbox.c.parked_at.is_not(None))).scalar_one() == 5
    assert relay.relay_once() == 0
    channel.queue_delete(full)
    conn.close()


def add_raw_rows(side: Side, rows: list[tuple[str, str]]) -> None:
    """Outbox rows as a relay finds them: (exchange, event type) each."""
    outbox = side.metadata.tables["outbox"]
    with side.engine.begin() as c:
        c.execute(
            insert(outbox),
            [
                dict(
                    event_id=str(uuid.uuid4()),
                    tenant_id="hardware",
                    exchange=exchange,
                    event_type=event_type,
                    body="{}",
                    headers="{}",
                    created_at=datetime.now(UTC),
                )
                for exchange, event_type in rows
            ],
        )


def test_a_batch_mixing_routed_and_unrouted_events_is_confirmed_at_once(wire):
    """The broker confirms unroutable messages immediately and covers lower tags later with one
    `multiple` ack: counting confirms came out short, the relay waited out its confirm timeout
    and published the batch again. Tracked by tag, every batch settles without a timeout."""
    source, _sink, _relay, _start, amqp_url = wire
    exchange = f"{source.name}.events"
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = conn.channel()
    channel.exchange_declare(exchange, exchange_type="topic", durable=True)
    routed = channel.queue_declare(f"{source.name}.routed").method.queue
    channel.queue_bind(routed, exchange, routing_key="customer_created")
    kinds = ["customer_created" if i % 3 else "nobody_listens" for i in range(3000)]
    add_raw_rows(source, [(exchange, k) for k in kinds])
    publisher = RabbitPublisher(amqp_url, confirm_timeout_s=3)
    relay = OutboxRelay(
        source.name, source.engine, source.metadata.tables["outbox"], publisher, batch_size=250
    )
    started = time.monotonic()
    try:
        assert relay.drain() == 3000  # a PublishFailed (confirm timeout) would raise here
    finally:
        publisher.close()
    assert time.monotonic() - started < 3  # no batch waited out its 3 s confirm timeout
    total = kinds.count("customer_created")
    wait_until(lambda: queue_depth(amqp_url, routed) == total)
    time.sleep(0.3)
    assert queue_depth(amqp_url, routed) == total  # nothing published twice
    channel.queue_delete(routed)
    conn.close()


def test_an_event_the_broker_will_not_take_is_parked_and_does_not_hold_the_rest_hostage(wire):
    """A row the broker refuses by closing the channel (here: an exchange name it forbids) used to
    block the rows behind it for good. The relay retries the batch one by one, parks the culprit
    with the broker's reason, and everything else goes out."""
    source, sink, relay, start_consumer, _amqp_url = wire
    start_consumer(record_effect(sink))
    add_raw_rows(source, [("amq.oms-forbidden", "customer_created")])
    emit(source, 20)
    relay._max_attempts = 2
    relay.start()
    outbox = source.metadata.tables["outbox"]
    try:
        wait_until(lambda: sink.count("effects") == 20, timeout=20)
        with source.engine.connect() as c:
            parked = c.execute(
                select(outbox.c.exchange, outbox.c.last_error).where(outbox.c.parked_at.is_not(None))
            ).all()
        assert [p.exchange for p in parked] == ["amq.oms-forbidden"]
        assert "ACCESS_REFUSED" in parked[0].last_error
    finally:
        relay.stop()


def test_an_idle_relay_keeps_its_connection(wire, amqp_url):
    """The broker drops a connection that misses two heartbeats; an idle relay answers them, so
    the next publish needs no reconnect and counts no error."""
    source, _sink, _relay, _start, _ = wire
    outbox = source.metadata.tables["outbox"]
    publisher = RabbitPublisher(amqp_url, heartbeat_s=1)
    relay = OutboxRelay(source.name, source.engine, outbox, publisher)

    def errors() -> float:
        return REGISTRY.get_sample_value("oms_outbox_relay_errors_total", {"service": source.name}) or 0

    before = errors()
    emit(source, 1)
    assert relay.drain() == 1
    first = publisher._conn
    relay.start()
    try:
        time.sleep(4.5)  # more than two missed heartbeats at 1 s
        with publisher._lock:  # read what the broker said meanwhile: a close would raise here
            first.process_data_events(time_limit=0)
        assert publisher._conn is first and first.is_open
        emit(source, 1)
        relay.wake()
        wait_until(lambda: unpublished(source) == 0)
    finally:
        relay.stop()
        publisher.close()
    assert errors() == before


def unpublished(side: Side) -> int:
    outbox = side.metadata.tables["outbox"]
    with side.engine.connect() as c:
        return c.execute(select(func.count()).where(outbox.c.published_at.is_(None))).scalar_one()


def test_an_event_no_queue_is_bound_for_is_counted_as_unrouted_and_said_once(wire, caplog):
    source, _sink, relay, _start, _url = wire
    before = (
        REGISTRY.get_sample_value(
            "oms_outbox_unrouted_total",
            {"exchange": f"{source.name}.events", "event_type": "customer_created"},
        )
        or 0.0
    )
    with caplog.at_level("WARNING", logger="services.chassis.rabbit"):
        emit(source, 3)
        relay.drain()
    after = REGISTRY.get_sample_value(
        "oms_outbox_unrouted_total", {"exchange": f"{source.name}.events", "event_type": "customer_created"}
    )
    assert after - before == 3
    said = [r for r in caplog.records if "no queue bound" in r.getMessage()]
    assert len(said) == 1  # a line per event type, not per event (order_created has no subscriber)


def test_dead_letters_can_be_read_and_replayed_to_the_failed_consumer_once_fixed(wire):
    from services.chassis.dead_letters import list_dead_letters, replay_dead_letters

    source, sink, relay, start_consumer, amqp_url = wire
    wms_down = {"now": True}
    effect = record_effect(sink)

    def apply_customer_created(event, uow):
        if wms_down["now"]:
            raise ConnectionError("WMS did not answer")
        effect(event, uow)

    rc = start_consumer(apply_customer_created)
    emit(source, 2)
    relay.drain()
    wait_until(lambda: queue_depth(amqp_url, rc.dead_letter_queue) == 2)

    letters = list_dead_letters(amqp_url, sink.name)
    assert len(letters) == 2 and queue_depth(amqp_url, rc.dead_letter_queue) == 2  # reading removes nothing
    assert {(d.exchange, d.routing_key, d.attempts) for d in letters} == {
        (f"{source.name}.events", "customer_created", FAST_RETRY.max_attempts)
    }
    assert "WMS did not answer" in letters[0].reason

    wms_down["now"] = False
    assert replay_dead_letters(amqp_url, sink.name) == 2
    wait_until(lambda: sink.count("effects") == 2)
    assert queue_depth(amqp_url, rc.dead_letter_queue) == 0


POISON = [
    # (what is wrong, body, properties) — each must end in the dead-letter queue with its reason
    ("attempt header not a number", None, {"headers": {"x-oms-attempt": "first"}}),
    ("attempt header negative", None, {"headers": {"x-oms-attempt": -3}}),
    ("attempt header a table", None, {"headers": {"x-oms-attempt": {"n": 1}}}),
    ("origin header not text", None, {"headers": {"x-oms-routing-key": 12}}),
    ("huge origin header", None, {"headers": {"x-oms-exchange": "x" * 5000}}),
    ("attempt header a boolean", None, {"headers": {"x-oms-attempt": True}}),
    ("wrong content type", None, {"content_type": "application/x-python-pickle"}),
    ("body not JSON", b"\x80\x81 not json", {}),
    ("body JSON but no envelope", b'{"hello": "world"}', {}),
    ("event id too long", "long-id", {}),
]


def test_poison_in_body_headers_or_properties_is_dead_lettered_and_the_consumer_goes_on(wire):
    """A message whose `x-oms-attempt` header was not a number killed the consumer thread for good
    (and it died again after every restart). Every part of a message is untrusted input."""
    source, sink, relay, start_consumer, amqp_url = wire
    rc = start_consumer(record_effect(sink))
    exchange = f"{source.name}.events"
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = conn.channel()
    for _name, body, props in POISON:
        if body is None or body == "long-id":
            body = json.dumps(
                {
                    "event_id": "e" * 80 if body == "long-id" else str(uuid.uuid4()),
                    "event_type": "customer_created",
                    "tenant_id": "hardware",
                    "source": source.name,
                    "occurred_at": "2026-11-25T09:30:00+00:00",
                    "data": {"code": "P"},
                }
            ).encode()
        channel.basic_publish(exchange, "customer_created", body, pika.BasicProperties(**props))
    conn.close()
    wait_until(lambda: queue_depth(amqp_url, rc.dead_letter_queue) == len(POISON))
    assert rc.is_alive() and sink.count("effects") == 0

    emit(source, 3)  # the consumer is still there for real events
    relay.drain()
    wait_until(lambda: sink.count("effects") == 3)

    # Headers we do not use may hold anything (nested tables, binary): harmless, not poison.
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    outbox = source.metadata.tables["outbox"]
    emit(source, 1, prefix="N")
    with source.engine.connect() as c:
        row = c.execute(select(outbox).where(outbox.c.published_at.is_(None))).one()
    headers = {**json.loads(row.headers), "deep": {"a": {"b": [1, 2, {"c": b"\x00\xff"}]}}}
    conn.channel().basic_publish(
        exchange, "customer_created", row.body.encode(), pika.BasicProperties(headers=headers)
    )
    conn.close()
    wait_until(lambda: sink.count("effects") == 4)

    from services.chassis.dead_letters import list_dead_letters

    reasons = [d.reason for d in list_dead_letters(amqp_url, sink.name)]
    assert len(reasons) == len(POISON) and all(reasons)
    assert any("x-oms-attempt is not an attempt number: 'first'" in r for r in reasons)
    assert any("application/x-python-pickle" in r for r in reasons)


def test_releases_on_their_own_vhosts_never_see_each_others_events(wire, fresh_vhost, fresh_database):
    """Each tenant release gets its own vhost: exchanges, queues and events are its own, so no
    release receives (and has to drop) another business line's traffic."""
    source, sink, relay, start_consumer, hardware_url = wire
    autoparts_url = fresh_vhost("autoparts")
    autoparts_source = Side(fresh_database("src2"), source.name)  # the same service, other release
    autoparts_sink = Side(fresh_database("sink2"), sink.name)
    autoparts_publisher = RabbitPublisher(autoparts_url)
    autoparts_relay = OutboxRelay(
        source.name, autoparts_source.engine, autoparts_source.metadata.tables["outbox"], autoparts_publisher
    )
    hardware_consumer = start_consumer(record_effect(sink), tenants=("hardware",))
    autoparts_consumer = RabbitConsumer(
        autoparts_url,
        EventConsumer(
            sink.name,
            [
                Subscription(
                    source.name, "customer_created", record_effect(autoparts_sink), "apply_customer_created"
                )
            ],
            autoparts_sink.uow,
            ["autoparts"],
        ),
        retry=FAST_RETRY,
    )
    autoparts_consumer.start()
    try:
        assert autoparts_consumer.ready.wait(10)
        emit(source, 30)
        with acting_as(Identity("autoparts", "tester", frozenset({"admin"}))), autoparts_source.uow() as uow:
            for i in range(20):
                uow.record(CustomerCreated(str(uuid.uuid4()), f"A{i}", "比亚迪", "TIER_B", "王强"))
            uow.commit()
        relay.drain()
        autoparts_relay.drain()
        wait_until(lambda: sink.count("effects") == 30 and autoparts_sink.count("effects") == 20)
        time.sleep(0.3)
        assert sink.count("effects") == 30 and autoparts_sink.count("effects") == 20
        # nothing crossed over, so nothing was dropped or dead-lettered on either side
        assert queue_depth(hardware_url, hardware_consumer.dead_letter_queue) == 0
        assert queue_depth(autoparts_url, autoparts_consumer.dead_letter_queue) == 0
    finally:
        autoparts_consumer.stop()
        autoparts_publisher.close()
        autoparts_source.engine.dispose()
        autoparts_sink.engine.dispose()


def test_a_short_retry_is_not_held_behind_a_long_one(wire):
    """RabbitMQ expires only the head of a queue: with one retry queue and per-message TTLs, a
    0.2 s retry waited behind a 3.2 s one. Each delay now has its own tier queue."""
    source, sink, relay, start_consumer, _ = wire
    calls: dict[str, int] = {}
    done: dict[str, float] = {}
    effect = record_effect(sink)

    def flaky(event, uow):
        code = event.data["code"]
        calls[code] = calls.get(code, 0) + 1
        if (code == "SLOW0" and calls[code] <= 3) or (code == "FAST0" and calls[code] == 1):
            raise ConnectionError("WMS did not answer")
        effect(event, uow)
        done[code] = time.monotonic()

    start_consumer(flaky, retry=RetryPolicy())  # delays 0.2, 0.8, 3.2, 12.8 s
    emit(source, 1, prefix="SLOW")
    relay.drain()
    wait_until(lambda: calls.get("SLOW0", 0) == 3)  # now waiting 3.2 s before its 4th attempt
    time.sleep(0.1)
    fast_sent = time.monotonic()
    emit(source, 1, prefix="FAST")
    relay.drain()
    wait_until(lambda: len(done) == 2, timeout=10)
    assert done["FAST0"] < done["SLOW0"]
    assert done["FAST0"] - fast_sent < 1.5  # its own 0.2 s, not the 3.2 s of the one before it


class CountingSide(Side):
    """A sink that counts its commits (one per batch it handled)."""

    commits = 0

    def uow(self) -> UnitOfWork:
        side = self

        class Counted(UnitOfWork):
            def commit(self) -> None:
                super().commit()
                side.commits += 1

        return Counted(self.connect, self.metadata, self.codec)


def test_a_queue_that_built_up_is_consumed_in_batches_each_event_once(wire, fresh_database):
    """300 events waiting when the consumer starts: handled in far fewer commits than events
    (batches), every effect exactly once, every claim kept."""
    source, _, relay, _, amqp_url = wire
    sink = CountingSide(fresh_database("batched"), f"sink{uuid.uuid4().hex[:6]}")
    consumer = EventConsumer(
        sink.name,
        [Subscription(source.name, "customer_created", record_effect(sink), "apply_customer_created")],
        sink.uow,
        ["hardware"],
    )
    rc = RabbitConsumer(amqp_url, consumer, retry=FAST_RETRY)
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as conn:
        rc.declare(conn.channel())  # the queue exists and collects while nobody consumes
    emit(source, 300)
    assert relay.drain() == 300
    wait_until(lambda: queue_depth(amqp_url, rc.queue) == 300)
    rc.start()
    try:
        wait_until(lambda: sink.count("effects") == 300)
        time.sleep(0.3)
        assert sink.count("effects") == 300 and sink.count("inbox") == 300
        assert sink.commits < 300 / 4, sink.commits  # up to 64 per commit
        wait_until(lambda: queue_depth(amqp_url, rc.queue) == 0)  # all acked after their commits
    finally:
        rc.stop()
        sink.engine.dispose()


def test_one_failing_event_in_a_batch_does_not_hold_back_or_double_the_others(wire, fresh_database):
    source, _, relay, _, amqp_url = wire
    sink = CountingSide(fresh_database("batched"), f"sink{uuid.uuid4().hex[:6]}")
    effect = record_effect(sink)

    def fails_on_c7(event, uow) -> None:
        effect(event, uow)  # written, then rolled back with the batch when C7 fails
        if event.data["code"] == "C7":
            raise ValueError("C7 has no workshop routing")

    consumer = EventConsumer(
        sink.name,
        [Subscription(source.name, "customer_created", fails_on_c7, "apply_customer_created")],
        sink.uow,
        ["hardware"],
    )
    rc = RabbitConsumer(amqp_url, consumer, retry=FAST_RETRY)
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as conn:
        rc.declare(conn.channel())
    emit(source, 40)
    relay.drain()
    wait_until(lambda: queue_depth(amqp_url, rc.queue) == 40)
    rc.start()
    try:
        wait_until(lambda: queue_depth(amqp_url, rc.dead_letter_queue) == 1)  # after its retries
        wait_until(lambda: sink.count("effects") == 39)
        with sink.engine.connect() as conn:
            codes = conn.execute(select(sink.effects.c.code)).scalars().all()
        assert sorted(codes) == sorted(f"C{i}" for i in range(40) if i != 7)  # each once
        assert sink.count("inbox") == 39
    finally:
        rc.stop()
        sink.engine.dispose()


def test_a_batch_whose_ack_is_lost_brings_back_only_what_was_committed(wire, fresh_database, monkeypatch):
    """The connection drops before the batch's ack reaches the broker: the committed events come
    back (and are dropped by the inbox), but the one already forwarded to a retry queue does not
    come back beside its copy (it was acked on its own, right after the forward)."""
    source, _, relay, _, amqp_url = wire
    sink = CountingSide(fresh_database("ackloss"), f"sink{uuid.uuid4().hex[:6]}")
    effect = record_effect(sink)

    def fails_on_c1(event, uow) -> None:
        if event.data["code"] == "C1":
            raise ValueError("C1 waits for its routing")
        effect(event, uow)

    consumer = EventConsumer(
        sink.name,
        [Subscription(source.name, "customer_created", fails_on_c1, "apply_customer_created")],
        sink.uow,
        ["hardware"],
    )
    rc = RabbitConsumer(amqp_url, consumer, retry=RetryPolicy(max_attempts=3, first_delay_s=30, factor=2))
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as conn:
        rc.declare(conn.channel())
    emit(source, 3)
    relay.drain()
    wait_until(lambda: queue_depth(amqp_url, rc.queue) == 3)

    real_consume = RabbitConsumer._consume

    def consume_then_lose_the_batch_ack(self, channel) -> None:
        real_ack = channel.basic_ack

        def ack(tag, multiple=False):
            if multiple:  # the batch's ack: the connection is gone before it reaches the broker
                self._stop.set()
                raise pika.exceptions.AMQPConnectionError("connection dropped")
            return real_ack(tag, multiple)

        channel.basic_ack = ack
        return real_consume(self, channel)

    monkeypatch.setattr(RabbitConsumer, "_consume", consume_then_lose_the_batch_ack)
    rc.start()
    try:
        wait_until(lambda: not rc.is_alive() or rc._stop.is_set())
        rc.stop()
        wait_until(lambda: queue_depth(amqp_url, rc.queue) == 2)  # C0 and C2 back, C1 not
        assert queue_depth(amqp_url, retry_queue(rc.queue, 30)) == 1  # C1's one copy waits there
        assert sink.count("effects") == 2 and sink.count("inbox") == 2  # committed once
    finally:
        rc.stop()
        sink.engine.dispose()
