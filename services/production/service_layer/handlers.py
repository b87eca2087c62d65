"""Production use cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from services.chassis.paging import page_size
from services.chassis.uow import UowFactory as UowFactoryOf
from services.production.domain.model import (
    ApprovedOrder,
    Stage,
    WorkOrder,
    next_index,
    split_by_workshop,
    work_order_number,
)
from services.production.service_layer.unit_of_work import ProductionUnitOfWork

UowFactory = UowFactoryOf[ProductionUnitOfWork]  # uow() or uow(read_only=True)


def plan_work_orders(order: ApprovedOrder, uow: ProductionUnitOfWork) -> list[WorkOrder]:
    """One work order per workshop for an approved order. Runs inside the consumer's unit of work,
    which also records the event as processed, so a redelivery creates nothing twice; the
    consumer applies each order's newest version once, so an older approval arriving late
    changes nothing.

    A later version of the same order (an approved change) revises the work orders it already
    has, workshop by workshop, and adds one for a workshop it did not need before. A workshop the
    new version no longer needs keeps its work order for now: cancelling work on the shop floor
    is the production issue's change freeze, not a side effect here."""
    now = datetime.now(UTC)
    existing = uow.work_orders.for_order(order.order_id)
    by_workshop = {wo.workshop: wo for wo in existing}
    index = next_index(existing)
    planned = []
    for workshop, lines in split_by_workshop(order).items():
        wo = by_workshop.get(workshop)
        if wo is not None:
            wo.revise(lines, order.due_date, order.version)
            uow.work_orders.save(wo)
        else:
            wo = WorkOrder(
                work_order_id=str(uuid.uuid4()),
                work_order_no=work_order_number(order.order_no, index),
                order_id=order.order_id,
                order_no=order.order_no,
                workshop=workshop,
                due_date=order.due_date,
                lines=lines,
                created_at=now,
                order_version=order.version,
            )
            index += 1
            wo.announce()
            uow.work_orders.add(wo)
        planned.append(wo)
    return planned


@dataclass(frozen=True)
class ListWorkOrders:
    order_id: str = ""
    order_no: str = ""
    workshop: str = ""
    stage: Stage | None = None
    page_size: int = 0  # 0 = 100
    page_token: str = ""


def list_work_orders(query: ListWorkOrders, uow: UowFactory) -> tuple[list[WorkOrder], str]:
    with uow(read_only=True) as tx:
        return tx.work_orders.list(
            order_id=query.order_id,
            order_no=query.order_no,
            workshop=query.workshop,
            stage=query.stage,
            page_size=page_size(query.page_size, default=100),
            page_token=query.page_token,
        )


def get_work_order(work_order_id: str, uow: UowFactory) -> WorkOrder:
    with uow(read_only=True) as tx:
        return tx.work_orders.get(work_order_id)
