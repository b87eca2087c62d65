"""Production use cases, including the reaction to an approved order."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

from oms.order.v1 import order_pb2
from services.chassis.events import ReceivedEvent
from services.production.domain.model import (
    ApprovedOrder,
    WorkOrder,
    WorkOrderLine,
    split_by_workshop,
    work_order_number,
)
from services.production.service_layer.unit_of_work import ProductionUnitOfWork

UowFactory = Callable[[], ProductionUnitOfWork]


def approved_order_from(event: ReceivedEvent) -> ApprovedOrder:
    """Translate the order service's event (its contract, not its code) into production's terms."""
    msg = event.as_proto(order_pb2.OrderApproved)
    return ApprovedOrder(
        order_id=msg.order_id,
        order_no=msg.order_no,
        due_date=date.fromisoformat(msg.due_date),
        lines=[
            (x.workshop, WorkOrderLine(x.product_model, x.quantity, x.colour, x.surface_treatment))
            for x in msg.lines
        ],
    )


def create_work_orders(event: ReceivedEvent, uow: ProductionUnitOfWork) -> None:
    """On order_approved: one work order per workshop. Runs inside the consumer's unit of work,
    which also records the event as processed, so a redelivery creates nothing twice."""
    order = approved_order_from(event)
    now = datetime.now(UTC)
    for index, (workshop, lines) in enumerate(split_by_workshop(order).items(), start=1):
        wo = WorkOrder(
            work_order_id=str(uuid.uuid4()),
            work_order_no=work_order_number(order.order_no, index),
            order_id=order.order_id,
            order_no=order.order_no,
            workshop=workshop,
            due_date=order.due_date,
            lines=lines,
            created_at=now,
        )
        wo.announce()
        uow.work_orders.add(wo)


def list_work_orders(order_id: str, limit: int, uow: UowFactory) -> list[WorkOrder]:
    with uow() as tx:
        return tx.work_orders.for_order(order_id) if order_id else tx.work_orders.latest(limit or 100)


def get_work_order(work_order_id: str, uow: UowFactory) -> WorkOrder:
    with uow() as tx:
        return tx.work_orders.get(work_order_id)
