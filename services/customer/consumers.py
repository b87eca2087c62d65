"""Event entry points of the customer service: the order service's `order_shipped`, read through
its proto contract (never the order service's code), becomes a purchase of the customer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from oms.order.v1 import order_pb2
from services.chassis.errors import NotFound
from services.chassis.events import MalformedEvent, ReceivedEvent
from services.customer.service_layer.handlers import TenantRules
from services.customer.service_layer.tiers import RecordShipment, record_shipment
from services.customer.service_layer.unit_of_work import CustomerUnitOfWork

_LONGEST_TIME = 64


def shipment_from(event: ReceivedEvent) -> RecordShipment:
    """order_shipped in the customer service's terms; MalformedEvent for what no retry fixes."""
    msg = event.as_proto(order_pb2.OrderShipped)
    if not msg.order_id or not msg.customer_id:
        raise MalformedEvent(f"order_shipped {event.event_id} has no order id or no customer id")
    if msg.amount_fen < 0:
        raise MalformedEvent(f"order_shipped {event.event_id} has a negative amount {msg.amount_fen}")
    try:
        if len(msg.shipped_at) > _LONGEST_TIME:
            raise ValueError("too long")
        shipped_at = datetime.fromisoformat(msg.shipped_at)
        if shipped_at.tzinfo is None:
            raise ValueError("no offset")
    except ValueError:
        raise MalformedEvent(
            f"order_shipped {event.event_id} has shipped_at {msg.shipped_at[:40]!r}, not an RFC 3339 time"
        ) from None
    return RecordShipment(msg.order_id, msg.order_no, msg.customer_id, msg.amount_fen, shipped_at)


def order_version(event: ReceivedEvent) -> tuple[str, int]:
    """The order and version an order_shipped carries: an older version arriving after a newer
    one changes nothing (the purchase is counted once per order anyway)."""
    msg = event.as_proto(order_pb2.OrderShipped)
    if not msg.order_id or msg.version < 1:
        raise MalformedEvent(f"order_shipped {event.event_id} has no order id or version")
    return msg.order_id, msg.version


def count_purchase(
    rules_for: Callable[[str], TenantRules],
) -> Callable[[ReceivedEvent, CustomerUnitOfWork], None]:
    """order.order_shipped -> a purchase of the customer, and its tier reassessed."""

    def handle(event: ReceivedEvent, uow: CustomerUnitOfWork) -> None:
        shipment = shipment_from(event)
        try:
            record_shipment(shipment, uow, rules_for(event.tenant_id))
        except NotFound:
            # The order service names a customer this tenant does not have: no retry changes that.
            raise MalformedEvent(
                f"order_shipped {event.event_id} names customer {shipment.customer_id}, unknown here"
            ) from None

    return handle
