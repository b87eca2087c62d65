"""Event entry points of the order service: production's and the customer service's facts, read
through their proto contracts (never their code), become the order's own terms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from oms.customer.v1 import customer_pb2
from oms.production.v1 import production_pb2
from services.chassis import identity
from services.chassis.errors import NotFound
from services.chassis.events import MalformedEvent, ReceivedEvent
from services.order.domain.lifecycle import OrderState
from services.order.service_layer.unit_of_work import OrderUnitOfWork

# The order is as far as its least advanced work order: production's stage -> the order's state.
STAGE_TO_STATE = {
    "STAGE_TO_SCHEDULE": OrderState.APPROVED,
    "STAGE_IN_PROCESS": OrderState.IN_PRODUCTION,
    "STAGE_QC_PASSED": OrderState.QC_PASSED,
    "STAGE_READY_TO_SHIP": OrderState.READY_TO_SHIP,
    # Every work order shipped: the goods are with the warehouse, which ships the order itself.
    "STAGE_SHIPPED": OrderState.READY_TO_SHIP,
}


def _message(event: ReceivedEvent) -> production_pb2.WorkOrderStageChanged:
    msg = event.as_proto(production_pb2.WorkOrderStageChanged)
    if not msg.order_id or msg.sequence < 1:
        raise MalformedEvent(f"work_order_stage_changed {event.event_id} has no order id or sequence")
    return msg


def stage_sequence(event: ReceivedEvent) -> tuple[str, int]:
    """Apply each order's newest stage report once: an older one arriving late is stale."""
    msg = _message(event)
    return msg.order_id, msg.sequence


def follow_production(event: ReceivedEvent, uow: OrderUnitOfWork) -> None:
    """production.work_order_stage_changed -> the order's state follows its least advanced work
    order (加工中 while any of its work is still being made)."""
    msg = _message(event)
    stage = production_pb2.Stage.Name(msg.order_stage) if msg.order_stage else ""
    if stage not in STAGE_TO_STATE:
        raise MalformedEvent(f"work_order_stage_changed {event.event_id} has order_stage {msg.order_stage}")
    try:
        at = datetime.fromisoformat(msg.changed_at)
    except ValueError:
        raise MalformedEvent(
            f"work_order_stage_changed {event.event_id} has changed_at {msg.changed_at!r}"
        ) from None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    try:
        order = uow.orders.get(msg.order_id)
    except NotFound:  # work orders exist only for approved orders: no retry will find this one
        raise MalformedEvent(f"work_order_stage_changed {event.event_id}: no order {msg.order_id}") from None
    if order.report_production(STAGE_TO_STATE[stage], actor=identity.current().user, now=at):
        uow.orders.save(order)


# Customer events after which what the order service remembers of a customer is stale: a
# deactivated customer takes no new orders, a new tier changes what its portal accounts see.
CUSTOMER_EVENTS = {
    "customer_updated": customer_pb2.CustomerUpdated,
    "customer_deactivated": customer_pb2.CustomerDeactivated,
    "customer_reactivated": customer_pb2.CustomerReactivated,
    "customer_tier_changed": customer_pb2.CustomerTierChanged,
}


def forget_customer(directory) -> Callable[[ReceivedEvent, OrderUnitOfWork], None]:
    """customer.<any change> -> forget the remembered answer (GrpcCustomerDirectory)."""

    def handle(event: ReceivedEvent, uow: OrderUnitOfWork) -> None:
        msg = event.as_proto(CUSTOMER_EVENTS[event.event_type])
        if not msg.customer_id:
            raise MalformedEvent(f"{event.event_type} {event.event_id} has no customer id")
        directory.forget(event.tenant_id, msg.customer_id)

    return handle


def forget_prices(prices) -> Callable[[ReceivedEvent, OrderUnitOfWork], None]:
    """customer.contract_price_set -> forget remembered contract prices (RememberedContractPrices)."""

    def handle(event: ReceivedEvent, uow: OrderUnitOfWork) -> None:
        msg = event.as_proto(customer_pb2.ContractPriceSet)
        if not (msg.customer_id or msg.tier):
            raise MalformedEvent(f"contract_price_set {event.event_id} names neither a customer nor a tier")
        prices.forget(event.tenant_id, msg.customer_id)

    return handle
