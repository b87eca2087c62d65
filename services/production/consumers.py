"""Event entry points of the production service: another service's event, read through its
proto contract (never its code), becomes production's own terms, then the handler runs."""

from __future__ import annotations

from datetime import date

from oms.order.v1 import order_pb2
from services.chassis.events import MalformedEvent, ReceivedEvent
from services.production.domain.model import ApprovedOrder, WorkOrderLine
from services.production.service_layer import handlers
from services.production.service_layer.unit_of_work import ProductionUnitOfWork


def approved_order_from(event: ReceivedEvent) -> ApprovedOrder:
    msg = event.as_proto(order_pb2.OrderApproved)
    try:
        due = date.fromisoformat(msg.due_date)
    except ValueError:
        raise MalformedEvent(f"order_approved {event.event_id} has due_date {msg.due_date!r}") from None
    if not msg.order_id or not msg.lines:
        raise MalformedEvent(f"order_approved {event.event_id} has no order id or no lines")
    return ApprovedOrder(
        order_id=msg.order_id,
        order_no=msg.order_no,
        version=msg.version or 1,
        due_date=due,
        lines=[
            (x.workshop, WorkOrderLine(x.product_model, x.quantity, x.colour, x.surface_treatment))
            for x in msg.lines
        ],
    )


def order_version(event: ReceivedEvent) -> tuple[str, int]:
    """The order and version an order_approved carries: the consumer applies each order's newest
    version once (a second approval after a change is applied; an older one arriving late is not)."""
    msg = event.as_proto(order_pb2.OrderApproved)
    if not msg.order_id or msg.version < 1:
        raise MalformedEvent(f"order_approved {event.event_id} has no order id or version")
    return msg.order_id, msg.version


def create_work_orders(event: ReceivedEvent, uow: ProductionUnitOfWork) -> None:
    """order.order_approved -> work orders."""
    handlers.plan_work_orders(approved_order_from(event), uow)
