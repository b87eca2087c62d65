"""A trace that starts at an RPC continues in the consumer of the event it caused: the trace
context is stored with the outbox row and picked up on the other side of the bus."""

from __future__ import annotations

import json
import threading
import uuid

from opentelemetry import trace
from opentelemetry.propagate import inject
from sqlalchemy import MetaData, create_engine, select

from oms.production.v1 import production_pb2
from services.chassis.consumer import EventConsumer, Subscription
from services.chassis.db import connector
from services.chassis.events import EventCodec
from services.chassis.identity import Identity, acting_as
from services.chassis.inprocess_bus import InProcessBus
from services.chassis.outbox import OutboxRelay
from services.chassis.tables import add_chassis_tables
from services.chassis.uow import UnitOfWork
from services.production.domain.model import WorkOrderCreated


def database(path) -> tuple[MetaData, object]:
    metadata = MetaData()
    add_chassis_tables(metadata)
    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    return metadata, engine


def test_consumer_span_continues_the_producers_trace(tmp_path, spans):
    src_meta, src_engine = database(tmp_path / "production.db")
    dst_meta, dst_engine = database(tmp_path / "notify.db")
    codec = EventCodec("production", {"work_order_created": production_pb2.WorkOrderCreated})
    seen: dict[str, object] = {}
    handled = threading.Event()

    def tell_workshop_lead(event, uow) -> None:
        seen["context"] = trace.get_current_span().get_span_context()
        handled.set()

    bus = InProcessBus()
    bus.subscribe(
        EventConsumer(
            "notify",
            [Subscription("production", "work_order_created", tell_workshop_lead, "tell_workshop_lead")],
            lambda: UnitOfWork(connector(dst_engine), dst_meta, EventCodec("notify", {})),
            ["hardware"],
        )
    )
    relay = OutboxRelay("production", src_engine, src_meta.tables["outbox"], bus)

    tracer = trace.get_tracer("test")
    caller = Identity("hardware", "svc:production", frozenset({"service"}))
    with (
        acting_as(caller),
        tracer.start_as_current_span("ApproveOrder") as rpc_span,
        UnitOfWork(connector(src_engine), src_meta, codec) as uow,
    ):
        uow.record(
            WorkOrderCreated(
                str(uuid.uuid4()),
                "WO-HW-20261125-00001-01",
                str(uuid.uuid4()),
                "HW-20261125-00001",
                "stamping-1",
                "2026-12-20",
                [],
            )
        )
        uow.commit()
    relay.drain()
    assert handled.wait(5)
    bus.stop()

    producer = rpc_span.get_span_context()
    consumer = seen["context"]
    assert consumer.trace_id == producer.trace_id
    assert consumer.span_id != producer.span_id
    consume_spans = [
        s for s in spans.get_finished_spans() if s.name == "consume production.work_order_created"
    ]
    assert consume_spans and consume_spans[-1].parent.span_id == producer.span_id
    assert consume_spans[-1].kind is trace.SpanKind.CONSUMER


def test_each_event_a_consumer_causes_carries_its_own_causes_trace_through_a_batch(tmp_path, spans):
    """approve → work order → notify is one trace: the event a consumer writes (second hop) is
    stamped with the trace of the event that caused it, also when several are handled in one
    transaction (a batch) and the commit happens after their spans have ended."""
    meta, engine = database(tmp_path / "production.db")
    codec = EventCodec("production", {"work_order_created": production_pb2.WorkOrderCreated})

    def plan(event, uow) -> None:
        uow.record(
            WorkOrderCreated(
                str(uuid.uuid4()),
                f"WO-{event.event_id}",
                event.data["order_id"],
                "HW-1",
                "stamping-1",
                "2026-12-20",
                [],
            )
        )

    consumer = EventConsumer(
        "production",
        [Subscription("order", "order_approved", plan, "create_work_orders")],
        lambda: UnitOfWork(connector(engine), meta, codec),
        ["hardware"],
    )
    tracer = trace.get_tracer("test")
    causes = {}
    prepared = []
    for i in range(3):
        with tracer.start_as_current_span(f"ApproveOrder {i}") as span:
            carrier: dict[str, str] = {}
            inject(carrier)
            causes[f"o-{i}"] = span.get_span_context().trace_id
        body = {
            "event_id": f"e-{i}",
            "event_type": "order_approved",
            "tenant_id": "hardware",
            "source": "order",
            "occurred_at": "2026-11-25T09:30:00+00:00",
            "data": {"order_id": f"o-{i}"},
        }
        prepared.append(consumer.prepare("order.events", "order_approved", body, carrier))
    consumer.handle_batch(prepared)

    with engine.connect() as conn:
        rows = conn.execute(select(meta.tables["outbox"].c.body, meta.tables["outbox"].c.headers)).all()
    stamped = {json.loads(b)["data"]["order_id"]: json.loads(h).get("traceparent", "") for b, h in rows}
    assert len(stamped) == 3
    for order_id, traceparent in stamped.items():
        assert traceparent.split("-")[1] == f"{causes[order_id]:032x}", (order_id, traceparent)
