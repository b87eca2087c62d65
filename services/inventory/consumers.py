"""Event entry points of the inventory service: the order's change and cancel events, read
through the order contract (never the order service's code), move its reservation.

All four share one name, so the order's newest version is applied once across them: a
change_requested arriving after the order_changed it led to is stale, not a second freeze."""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.message import Message

from oms.order.v1 import order_pb2
from services.bom import MaterialLine
from services.chassis.events import MalformedEvent, ReceivedEvent
from services.chassis.tenant_config import TenantConfig
from services.inventory.service_layer import handlers
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from services.order_lines import checked_lines

NAME = "follow_order"
CONTRACTS: dict[str, type[Message]] = {
    "order_change_requested": order_pb2.OrderChangeRequested,
    "order_changed": order_pb2.OrderChanged,
    "order_change_rejected": order_pb2.OrderChangeRejected,
    "order_cancelled": order_pb2.OrderCancelled,
}


def _message(event: ReceivedEvent):
    msg = event.as_proto(CONTRACTS[event.event_type])
    if not msg.order_id or msg.version < 1:
        raise MalformedEvent(f"{event.event_type} {event.event_id} has no order id or version")
    return msg


def order_version(event: ReceivedEvent) -> tuple[str, int]:
    msg = _message(event)
    return msg.order_id, msg.version


def change_requested(event: ReceivedEvent, uow: InventoryUnitOfWork) -> None:
    """order_change_requested -> freeze: no issue until the change is decided."""
    handlers.freeze(_message(event).order_id, uow)


def change_rejected(event: ReceivedEvent, uow: InventoryUnitOfWork) -> None:
    """order_change_rejected -> unfreeze."""
    handlers.unfreeze(_message(event).order_id, uow)


def cancelled(event: ReceivedEvent, uow: InventoryUnitOfWork) -> None:
    """order_cancelled -> release everything held."""
    handlers.release(_message(event).order_id, "order_cancelled", uow)


def changed(config_of: Callable[[str], TenantConfig]) -> Callable[[ReceivedEvent, InventoryUnitOfWork], None]:
    """order_changed -> hold what the new revision needs (or release all if it cancels), unfreeze."""

    def handle(event: ReceivedEvent, uow: InventoryUnitOfWork) -> None:
        msg = _message(event)
        if msg.revision < 1 or (not msg.lines and not msg.cancels_order):
            raise MalformedEvent(f"order_changed {event.event_id} has no revision or no lines")
        lines = [
            MaterialLine(x.product_model, x.quantity, x.colour, x.surface_treatment)
            for x in checked_lines(event, msg.lines)
        ]
        handlers.follow_change(
            msg.order_id, msg.revision, lines, msg.cancels_order, uow, config_of(event.tenant_id)
        )

    return handle
