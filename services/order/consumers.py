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


# Applied versions of the stage reports: the order's (the name the chassis applied them under
# while it guarded this subscription) and each work order's.
ORDER_STAGES = "order.follow_production"
WORK_ORDER_STAGES = "order.follow_production.work_order"


def _message(event: ReceivedEvent) -> production_pb2.WorkOrderStageChanged:
    msg = event.as_proto(production_pb2.WorkOrderStageChanged)
    if not msg.order_id or msg.sequence < 1:
        raise MalformedEvent(f"work_order_stage_changed {event.event_id} has no order id or sequence")
    return msg


def follow_production(event: ReceivedEvent, uow: OrderUnitOfWork) -> None:
    """production.work_order_stage_changed -> the work order's progress (each work order's newest
    report) and the order's state, which follows its least advanced work order (加工中 while any
    of its work is still being made; each order's newest report). `sequence` counts the order's
    reports: a report arriving after a newer one is stale for the order, not always for its work
    order (another work order's report may have overtaken it)."""
    msg = _message(event)
    _work_order(event, msg)
    if uow.apply_version(WORK_ORDER_STAGES, msg.work_order_id, msg.sequence):
        stage = _stage(event, msg.stage)
        uow.progress.moved(msg.work_order_id, msg.order_id, msg.work_order_no, msg.workshop, stage)
    if not uow.apply_version(ORDER_STAGES, msg.order_id, msg.sequence):
        return  # a newer report of the order was applied: the order is past this one
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


# --- each work order's stage, for the progress of each order line (ListOrderProgress) ------------


def _work_order(event: ReceivedEvent, msg) -> None:
    """The identifiers every work order event must carry, checked before anything is stored (the
    columns' sizes: a longer value is no id this system made)."""
    if not msg.work_order_id or not msg.order_id or not msg.work_order_no:
        raise MalformedEvent(f"{event.event_type} {event.event_id} has no work order or order id")
    sizes = ((msg.work_order_id, 36), (msg.order_id, 36), (msg.work_order_no, 64), (msg.workshop, 32))
    if any(len(value) > limit or not value.isprintable() for value, limit in sizes):
        raise MalformedEvent(
            f"{event.event_type} {event.event_id} has an id, number or workshop no system wrote"
        )


def _stage(event: ReceivedEvent, stage: int) -> str:
    name = production_pb2.Stage.Name(stage) if stage in production_pb2.Stage.values() else ""
    if name not in STAGE_TO_STATE:
        raise MalformedEvent(f"{event.event_type} {event.event_id} has stage {stage}")
    return name


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
