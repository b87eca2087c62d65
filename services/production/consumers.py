"""Event entry points of the production service: another service's event, read through its
proto contract (never its code), becomes production's own terms, then the handler runs.

Every order event is applied per order in version order by the order's own row (ProductionOrder),
not only per consumer: a change request and its approval arrive through different consumers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from oms.order.v1 import order_pb2
from services.chassis.events import MalformedEvent, ReceivedEvent
from services.order_lines import checked_lines
from services.production.domain.model import OrderContent, RoutedLine, WorkOrderLine
from services.production.service_layer import handlers
from services.production.service_layer.handlers import BomOf
from services.production.service_layer.unit_of_work import ProductionUnitOfWork

Handler = Callable[[ReceivedEvent, ProductionUnitOfWork], None]


def _due(event: ReceivedEvent, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise MalformedEvent(f"{event.event_type} {event.event_id} has due_date {text!r}") from None


def routed_lines(event: ReceivedEvent, lines: Iterable[order_pb2.OrderLine]) -> list[RoutedLine]:
    """Each line with its route (the tenant's routing as the order service stored it); a line
    without one is made where it says (its workshop)."""
    out = []
    for x in checked_lines(event, lines):
        route = tuple(x.route) or ((x.workshop,) if x.workshop else ())
        if not route:
            raise MalformedEvent(
                f"{event.event_type} {event.event_id}: line {x.product_model!r} has no workshop"
            )
        out.append(
            RoutedLine(
                WorkOrderLine(
                    x.product_model, x.quantity, x.colour, x.surface_treatment, x.packaging, x.line_no
                ),
                route,
            )
        )
    return out


_parsed: tuple[ReceivedEvent, order_pb2.OrderApproved] | None = None


def approved_message(event: ReceivedEvent) -> order_pb2.OrderApproved:
    """The approval read through its contract once: its version, its work orders and batching all
    read the same event (one after the other, in one unit of work). Read-only for every caller."""
    global _parsed
    last = _parsed  # read once: another consumer thread may replace it meanwhile
    if last is not None and last[0] is event:
        return last[1]
    msg = event.as_proto(order_pb2.OrderApproved)
    _parsed = (event, msg)
    return msg


def approved_order_from(event: ReceivedEvent) -> OrderContent:
    msg = approved_message(event)
    due = _due(event, msg.due_date)
    if not msg.order_id or not msg.lines:
        raise MalformedEvent(f"order_approved {event.event_id} has no order id or no lines")
    return OrderContent(
        order_id=msg.order_id,
        order_no=msg.order_no,
        version=msg.version or 1,
        due_date=due,
        lines=routed_lines(event, msg.lines),
    )


def changed_order_from(event: ReceivedEvent) -> tuple[OrderContent, bool]:
    msg = event.as_proto(order_pb2.OrderChanged)
    if not msg.order_id or msg.version < 1 or msg.revision < 1:
        raise MalformedEvent(f"order_changed {event.event_id} has no order id, version or revision")
    if not msg.cancels_order and not msg.lines:
        raise MalformedEvent(f"order_changed {event.event_id} has no lines")
    content = OrderContent(
        order_id=msg.order_id,
        order_no=msg.order_no,
        version=msg.version,
        revision=msg.revision,
        change_id=msg.change_id,
        due_date=_due(event, msg.due_date) if not msg.cancels_order or msg.due_date else date.min,
        lines=routed_lines(event, msg.lines),
    )
    return content, msg.cancels_order


def order_version(event: ReceivedEvent) -> tuple[str, int]:
    """The order and version an order_approved carries: the consumer applies each order's newest
    version once (a second approval after a change is applied; an older one arriving late is not)."""
    msg = approved_message(event)
    if not msg.order_id or msg.version < 1:
        raise MalformedEvent(f"order_approved {event.event_id} has no order id or version")
    return msg.order_id, msg.version


def create_work_orders(bom_of: BomOf) -> Handler:
    """order.order_approved -> work orders, one per routed workshop."""

    def handle(event: ReceivedEvent, uow: ProductionUnitOfWork) -> None:
        handlers.plan_work_orders(approved_order_from(event), uow, bom_of(event.tenant_id))

    return handle


def freeze_work_orders(event: ReceivedEvent, uow: ProductionUnitOfWork) -> None:
    """order.order_change_requested -> the order's work orders frozen."""
    msg = event.as_proto(order_pb2.OrderChangeRequested)
    if not msg.order_id or msg.version < 1:
        raise MalformedEvent(f"order_change_requested {event.event_id} has no order id or version")
    handlers.freeze(msg.order_id, msg.order_no, msg.version, msg.change_id, uow)


def unfreeze_work_orders(event: ReceivedEvent, uow: ProductionUnitOfWork) -> None:
    """order.order_change_rejected -> unfrozen, unchanged."""
    msg = event.as_proto(order_pb2.OrderChangeRejected)
    if not msg.order_id or msg.version < 1:
        raise MalformedEvent(f"order_change_rejected {event.event_id} has no order id or version")
    handlers.unfreeze(msg.order_id, msg.order_no, msg.version, msg.change_id, uow)


def revise_work_orders(bom_of: BomOf) -> Handler:
    """order.order_changed -> work orders revised (or cancelled / added where the route changed)."""

    def handle(event: ReceivedEvent, uow: ProductionUnitOfWork) -> None:
        content, cancels = changed_order_from(event)
        handlers.revise_work_orders(content, cancels, uow, bom_of(event.tenant_id))

    return handle


def cancel_work_orders(event: ReceivedEvent, uow: ProductionUnitOfWork) -> None:
    """order.order_cancelled -> every work order of the order cancelled."""
    msg = event.as_proto(order_pb2.OrderCancelled)
    if not msg.order_id or msg.version < 1:
        raise MalformedEvent(f"order_cancelled {event.event_id} has no order id or version")
    handlers.cancel_work_orders(msg.order_id, msg.order_no, msg.version, msg.reason, uow)


def reroute_work_orders(bom_of: BomOf) -> Handler:
    """order.order_line_rerouted -> the work orders follow the line's new workshops."""

    def handle(event: ReceivedEvent, uow: ProductionUnitOfWork) -> None:
        msg = event.as_proto(order_pb2.OrderLineRerouted)
        if not msg.order_id or msg.version < 1 or msg.line_no < 1 or not msg.after:
            raise MalformedEvent(f"order_line_rerouted {event.event_id} has no order, version, line or route")
        handlers.reroute_work_orders(
            msg.order_id,
            msg.order_no,
            msg.version,
            msg.line_no,
            tuple(msg.after),
            uow,
            bom_of(event.tenant_id),
        )

    return handle
