"""Production use cases."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.chassis import identity
from services.chassis.paging import page_size
from services.chassis.uow import UowFactory as UowFactoryOf
from services.production.domain.model import (
    Bom,
    OrderContent,
    ProductionOrder,
    Stage,
    StageReport,
    WorkOrder,
    WorkOrderRevision,
)
from services.production.service_layer.unit_of_work import ProductionUnitOfWork

UowFactory = UowFactoryOf[ProductionUnitOfWork]  # uow() or uow(read_only=True)
BomOf = Callable[[str], Bom]  # tenant id -> its [bom]


def _new_id() -> str:
    return str(uuid.uuid4())


def _apply(
    uow: ProductionUnitOfWork, order_id: str, order_no: str, act: Callable[[ProductionOrder], bool]
) -> ProductionOrder:
    """Every order event: the order's row locked, the domain decides (False = stale, nothing
    to write), written back. Runs in the consumer's unit of work, which also records the event
    as processed, so a redelivery changes nothing."""
    po = uow.work_orders.order_for_update(order_id, order_no)
    if act(po):
        uow.work_orders.save_order(po)
    return po


def plan_work_orders(order: OrderContent, uow: ProductionUnitOfWork, bom: Bom) -> list[WorkOrder]:
    """order_approved: one work order per routed workshop (a later approval of the same order
    revises them)."""
    now = datetime.now(UTC)
    po = _apply(uow, order.order_id, order.order_no, lambda po: po.approved(order, bom, now, _new_id))
    return po.work_orders


def freeze(order_id: str, order_no: str, version: int, change_id: str, uow: ProductionUnitOfWork) -> None:
    """order_change_requested: no stage moves until the change is decided."""
    _apply(uow, order_id, order_no, lambda po: po.change_requested(version, change_id))


def unfreeze(order_id: str, order_no: str, version: int, change_id: str, uow: ProductionUnitOfWork) -> None:
    """order_change_rejected: the work goes on as it was."""
    _apply(uow, order_id, order_no, lambda po: po.change_rejected(version, change_id))


def revise_work_orders(
    content: OrderContent, cancels_order: bool, uow: ProductionUnitOfWork, bom: Bom
) -> list[WorkOrder]:
    """order_changed: work orders revised, cancelled where their workshop no longer applies,
    added where a new one does; requirements recomputed; unfrozen."""
    now = datetime.now(UTC)
    po = _apply(
        uow,
        content.order_id,
        content.order_no,
        lambda po: po.changed(content, cancels_order, bom, now, _new_id),
    )
    return po.work_orders


def reroute_work_orders(
    order_id: str,
    order_no: str,
    version: int,
    line_no: int,
    route: tuple[str, ...],
    uow: ProductionUnitOfWork,
    bom: Bom,
) -> None:
    """order_line_rerouted: the work orders follow the line's new workshops."""
    now = datetime.now(UTC)
    _apply(uow, order_id, order_no, lambda po: po.rerouted(version, line_no, route, bom, now, _new_id))


def cancel_work_orders(
    order_id: str, order_no: str, version: int, reason: str, uow: ProductionUnitOfWork
) -> None:
    """order_cancelled: every work order of the order cancelled."""
    _apply(uow, order_id, order_no, lambda po: po.cancel(version, reason or "订单已取消 order cancelled"))


@dataclass(frozen=True)
class ReportStage:
    work_order_id: str
    stage: Stage
    good_quantity: int = 0
    scrap_quantity: int = 0
    note: str = ""
    expected_revision: int = 0


def report_stage(cmd: ReportStage, uow: UowFactory) -> tuple[WorkOrder, StageReport]:
    """报工. The order's row is locked first, so two reports of one order number their stage
    events one after the other and compute the order's stage from each other's result."""
    with uow() as tx:
        order_id = tx.work_orders.get(cmd.work_order_id).order_id
        po = tx.work_orders.order_for_update(order_id)
        wo = po.report_stage(
            cmd.work_order_id,
            cmd.stage,
            good=cmd.good_quantity,
            scrap=cmd.scrap_quantity,
            note=cmd.note,
            reporter=identity.current().user,
            now=datetime.now(UTC),
            expected_revision=cmd.expected_revision,
        )
        report = wo.new_reports[-1]
        tx.work_orders.save_order(po)
        tx.commit()
        return wo, report


@dataclass(frozen=True)
class ListWorkOrders:
    order_id: str = ""
    order_no: str = ""
    workshop: str = ""
    stage: Stage | None = None
    page_size: int = 0  # 0 = 100
    page_token: str = ""
    work_order_no: str = ""


def list_work_orders(query: ListWorkOrders, uow: UowFactory) -> tuple[list[WorkOrder], str]:
    with uow(read_only=True) as tx:
        return tx.work_orders.list(
            order_id=query.order_id,
            order_no=query.order_no,
            work_order_no=query.work_order_no,
            workshop=query.workshop,
            stage=query.stage,
            page_size=page_size(query.page_size, default=100),
            page_token=query.page_token,
        )


def get_work_order_with_reports(work_order_id: str, uow: UowFactory) -> tuple[WorkOrder, list[StageReport]]:
    with uow(read_only=True) as tx:
        return tx.work_orders.get(work_order_id), tx.work_orders.stage_reports(work_order_id)


def work_order_revisions(work_order_id: str, uow: UowFactory) -> tuple[WorkOrder, list[WorkOrderRevision]]:
    """The current work order and the revisions it superseded, oldest first."""
    with uow(read_only=True) as tx:
        return tx.work_orders.get(work_order_id), tx.work_orders.revisions(work_order_id)
