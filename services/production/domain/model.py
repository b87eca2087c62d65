"""Work orders (生产工单): one per workshop for each approved order. Pure Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from services.chassis.events import DomainEvent


class Stage(StrEnum):
    TO_SCHEDULE = "STAGE_TO_SCHEDULE"  # 待排产
    IN_PROCESS = "STAGE_IN_PROCESS"  # 加工中
    QC_PASSED = "STAGE_QC_PASSED"  # 质检完成
    READY_TO_SHIP = "STAGE_READY_TO_SHIP"  # 待发货
    SHIPPED = "STAGE_SHIPPED"


@dataclass(frozen=True)
class WorkOrderLine:
    product_model: str
    quantity: int
    colour: str = ""
    surface_treatment: str = ""


@dataclass(frozen=True)
class ApprovedOrder:
    """What production needs to know of an approved order."""

    order_id: str
    order_no: str
    due_date: date
    lines: list[tuple[str, WorkOrderLine]]  # (workshop, line)
    version: int = 1  # the order's version this approval is of


@dataclass(frozen=True)
class WorkOrderCreated(DomainEvent):
    event_type = "work_order_created"
    work_order_id: str
    work_order_no: str
    order_id: str
    order_no: str
    workshop: str
    due_date: str
    lines: list[dict]


@dataclass
class WorkOrder:
    work_order_id: str
    work_order_no: str
    order_id: str
    order_no: str
    workshop: str
    due_date: date
    lines: list[WorkOrderLine]
    created_at: datetime
    stage: Stage = Stage.TO_SCHEDULE
    order_version: int = 1  # the order version this work order was last planned from
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    def revise(self, lines: list[WorkOrderLine], due_date: date, order_version: int) -> None:
        """A newer version of the order was approved: the same work order, amended (its number,
        stage and history stay; the shop floor keeps one job, not a cancelled one and a new one)."""
        self.lines = list(lines)
        self.due_date = due_date
        self.order_version = order_version

    def announce(self) -> None:
        self.events.append(
            WorkOrderCreated(
                self.work_order_id,
                self.work_order_no,
                self.order_id,
                self.order_no,
                self.workshop,
                self.due_date.isoformat(),
                [
                    {
                        "product_model": x.product_model,
                        "quantity": x.quantity,
                        "colour": x.colour,
                        "surface_treatment": x.surface_treatment,
                    }
                    for x in self.lines
                ],
            )
        )


def split_by_workshop(order: ApprovedOrder) -> dict[str, list[WorkOrderLine]]:
    """拆单: the lines of one order grouped by the workshop that makes them, in first-seen order."""
    groups: dict[str, list[WorkOrderLine]] = {}
    for workshop, line in order.lines:
        groups.setdefault(workshop, []).append(line)
    return groups


def next_index(existing: list[WorkOrder]) -> int:
    """The next free <nn> of an order's work-order numbers."""
    used = [int(wo.work_order_no.rsplit("-", 1)[1]) for wo in existing if wo.work_order_no[-2:].isdigit()]
    return max(used, default=0) + 1


def work_order_number(order_no: str, index: int) -> str:
    """WO-<order number>-<nn>: unique because order numbers are, and readable on the floor."""
    return f"WO-{order_no}-{index:02d}"
