"""Poison: messages malformed in their body, their headers or their properties, published where
real events travel (`order.events`/order_approved for production's consumer, and
`production.events`/work_order_created for notify's nameko worker).

Each carries a marker (in the body, so it survives a consumer's re-publish) and, where its body
is a well-formed event, names a synthetic order `PSN-<marker>`: if a consumer processes it instead
of dead-lettering it, a work order or notification for that synthetic order shows it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pika
from google.protobuf import json_format

from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from tests.e2e import scenario


@dataclass(frozen=True)
class Target:
    exchange: str
    routing_key: str
    consumer: str  # who reads it
    dead_letter_queue: str


ORDER_APPROVED = Target("order.events", "order_approved", "production", "production.events.dead-letter")
WORK_ORDER_CREATED = Target(
    "production.events", "work_order_created", "notify (nameko)", "notify.events.dead-letter"
)
TARGETS = (ORDER_APPROVED, WORK_ORDER_CREATED)
DUE = (date.today() + timedelta(days=20)).isoformat()  # events carry the ISO date as text
HUGE = 64 * 1024  # one AMQP content-header frame must hold every header (frame_max is 128 KiB)


@dataclass
class Poison:
    name: str
    part: str  # body | headers | properties
    target: Target
    marker: str
    body: bytes
    properties: pika.BasicProperties
    outcome: str = "pending"  # dead-lettered | processed | not seen
    reason: str = ""  # the dead-letter reason header, if any

    @property
    def synthetic_order_no(self) -> str:
        return f"PSN-{self.marker}"

    @property
    def synthetic_work_order_no(self) -> str:
        return f"WO-PSN-{self.marker}-01"


def _data(target: Target, marker: str) -> dict:
    line = scenario.line(qty=1)
    if target is ORDER_APPROVED:
        msg = order_pb2.OrderApproved(
            order_id=str(uuid.uuid4()),
            order_no=f"PSN-{marker}",
            customer_id=str(uuid.uuid4()),
            priority=order_pb2.PRIORITY_NORMAL,
            due_date=DUE,
            version=2,
            lines=[line],
            approved_by="poison",
        )
    else:
        msg = production_pb2.WorkOrderCreated(
            work_order_id=str(uuid.uuid4()),
            work_order_no=f"WO-PSN-{marker}-01",
            order_id=str(uuid.uuid4()),
            order_no=f"PSN-{marker}",
            workshop="stamping-1",
            due_date=DUE,
            lines=[
                production_pb2.WorkOrderLine(
                    product_model=line.product_model,
                    quantity=line.quantity,
                    colour=line.colour,
                    surface_treatment=line.surface_treatment,
                )
            ],
        )
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


def envelope(target: Target, marker: str, **override) -> dict:
    doc = {
        "event_id": str(uuid.uuid4()),
        "event_type": target.routing_key,
        "tenant_id": "hardware",
        "source": target.exchange.split(".")[0],
        "occurred_at": datetime.now(UTC).isoformat(),
        "poison_id": marker,  # unknown fields are ignored by a tolerant reader
        "data": _data(target, marker),
    }
    doc.update(override)
    return doc


def _props(target: Target, marker: str, *, headers=None, **kw) -> pika.BasicProperties:
    base = {
        "content_type": "application/json",
        "content_encoding": "utf-8",
        "delivery_mode": pika.DeliveryMode.Persistent,
        "message_id": marker,
        "type": target.routing_key,
        "headers": {"tenant_id": "hardware", "x-poison-id": marker, **(headers or {})},
    }
    base.update(kw)
    return pika.BasicProperties(**base)


def _json(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


def build() -> list[Poison]:
    out = []
    for target in TARGETS:
        cases = []
        m = f"{uuid.uuid4().hex[:8]}"
        cases.append(("body: not JSON", "body", m, b"\xff\xfe not json {" + m.encode(), _props(target, m)))
        m = f"{uuid.uuid4().hex[:8]}"
        cases.append(
            (
                "body: JSON without event_id/tenant_id/source",
                "body",
                m,
                _json({"event_type": target.routing_key, "poison_id": m}),
                _props(target, m),
            )
        )
        m = f"{uuid.uuid4().hex[:8]}"
        cases.append(
            (
                "body: data breaks its contract",
                "body",
                m,
                _json(envelope(target, m, data={"lines": "not a list", "version": "two"})),
                _props(target, m),
            )
        )
        m = f"{uuid.uuid4().hex[:8]}"
        cases.append(
            (
                'header: x-oms-attempt "first"',
                "headers",
                m,
                _json(envelope(target, m)),
                _props(target, m, headers={"x-oms-attempt": "first"}),
            )
        )
        m = f"{uuid.uuid4().hex[:8]}"
        cases.append(
            (
                "header: x-oms-exchange is a nested table",
                "headers",
                m,
                _json(envelope(target, m)),
                _props(target, m, headers={"x-oms-exchange": {"nested": {"deeper": [1, 2]}}}),
            )
        )
        m = f"{uuid.uuid4().hex[:8]}"
        cases.append(
            (
                f"header: traceparent of {HUGE // 1024} KiB",
                "headers",
                m,
                _json(envelope(target, m)),
                _props(target, m, headers={"traceparent": "00-" + "f" * HUGE}),
            )
        )
        m = f"{uuid.uuid4().hex[:8]}"
        cases.append(
            (
                "property: content_type application/x-python-serialize",
                "properties",
                m,
                _json(envelope(target, m)),
                _props(target, m, content_type="application/x-python-serialize"),
            )
        )
        m = f"{uuid.uuid4().hex[:8]}"
        cases.append(
            (
                # (no message_id at all is nameko's own format, and legitimate)
                "property: message_id names another event",
                "properties",
                m,
                _json(envelope(target, m)),
                _props(target, m, message_id=str(uuid.uuid4())),
            )
        )
        out += [Poison(name, part, target, marker, body, props) for name, part, marker, body, props in cases]
    return out


def publish(amqp_url: str, poisons: list[Poison]) -> None:
    """Publish each with publisher confirms, mandatory (an unrouted one fails the test here)."""
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        for p in poisons:
            channel.basic_publish(
                p.target.exchange, p.target.routing_key, p.body, p.properties, mandatory=True
            )
    finally:
        conn.close()


def dead_letter_reason(props: pika.BasicProperties) -> str:
    headers = props.headers or {}
    reason = headers.get("x-oms-dead-letter-reason", "")
    return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
