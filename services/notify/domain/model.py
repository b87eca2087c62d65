"""Notifications: who is told what, and the record that they were. Pure Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.chassis.events import DomainEvent


@dataclass(frozen=True)
class Workshop:
    code: str
    name: str
    lead: str


@dataclass(frozen=True)
class NewWorkOrder:
    """What notify needs to know of a work order production just created."""

    work_order_no: str
    order_no: str
    due_date: str
    lines: list[tuple[str, int]]  # (product model, quantity)


@dataclass(frozen=True)
class LineChange:
    """One field of one line of a work order, before and after (values as text)."""

    line_no: int
    product_model: str
    field: str  # product_model, quantity, colour, surface_treatment, packaging
    before: str
    after: str


@dataclass(frozen=True)
class RevisedWorkOrder:
    """What notify needs to know of a work order an approved order change amended."""

    work_order_no: str
    order_no: str
    revision: int
    stage: str  # the proto Stage name, e.g. STAGE_IN_PROCESS
    previous_due_date: str
    due_date: str
    changes: list[LineChange]


@dataclass(frozen=True)
class CancelledWorkOrder:
    """What notify needs to know of a work order that will not be made (any further)."""

    work_order_no: str
    order_no: str
    stage: str
    good_quantity: int
    scrap_quantity: int
    reason: str


@dataclass
class Notification:
    notification_id: str
    recipient: str
    recipient_role: str
    subject: str
    body: str
    event_id: str
    reference: str
    created_at: datetime
    # What it is about, for the delivery log and the channels: e.g. "work_order_created",
    # "due_warning" (README lists them); `order_no` lets the log be searched by order.
    kind: str = ""
    order_no: str = ""
    # Sent even in the recipient's quiet hours (stop work, a due date at risk).
    urgent: bool = False
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)


def tell_workshop_lead(
    *,
    notification_id: str,
    workshop: Workshop,
    work_order_no: str,
    order_no: str,
    due_date: str,
    lines: list[tuple[str, int]],
    event_id: str,
    now: datetime,
) -> Notification:
    items = "; ".join(f"{model} × {qty}" for model, qty in lines)
    return Notification(
        notification_id=notification_id,
        recipient=workshop.lead,
        recipient_role="workshop_lead",
        subject=f"新工单 New work order {work_order_no}",
        body=f"{workshop.name}: 订单 {order_no} 交期 {due_date} / due {due_date}: {items}",
        event_id=event_id,
        reference=work_order_no,
        created_at=now,
        kind="work_order_created",
        order_no=order_no,
    )


FIELD_LABELS = {
    "product_model": "型号 model",
    "quantity": "数量 quantity",
    "colour": "颜色 colour",
    "surface_treatment": "表面处理 surface treatment",
    "packaging": "包装 packaging",
}
STAGE_LABELS = {
    "STAGE_TO_SCHEDULE": "待排产 to schedule",
    "STAGE_IN_PROCESS": "加工中 in process",
    "STAGE_QC_PASSED": "质检完成 QC passed",
    "STAGE_READY_TO_SHIP": "待发货 ready to ship",
    "STAGE_SHIPPED": "已发货 shipped",
}
_SPEC = ("colour", "surface_treatment", "packaging")
_FIELD_ORDER = {name: i for i, name in enumerate(("product_model", *_SPEC, "quantity"))}


def tell_workshop_lead_of_revision(
    *,
    notification_id: str,
    workshop: Workshop,
    work_order: RevisedWorkOrder,
    event_id: str,
    now: datetime,
) -> Notification:
    """The lead must stop making the old specification at once (parts plated silver after the
    order changed to gold are scrap): the notice names every field that changed, before → after."""
    wo = work_order
    said = describe_changes(wo.changes)
    if wo.previous_due_date != wo.due_date:
        said.append(f"交期 due {wo.previous_due_date} → {wo.due_date}")
    if not said:  # the order changed elsewhere; only this work order's materials were recomputed
        said.append("物料需求已重算 material requirements recomputed")
    return Notification(
        notification_id=notification_id,
        recipient=workshop.lead,
        recipient_role="workshop_lead",
        subject=f"工单变更 work order revised: {wo.work_order_no} rev {wo.revision}",
        body=f"{workshop.name}: 订单 {wo.order_no}, {_stage(wo.stage)}: " + "; ".join(said),
        event_id=event_id,
        reference=wo.work_order_no,
        created_at=now,
        kind="work_order_revised",
        order_no=wo.order_no,
        urgent=True,  # the old specification must stop at once (plated parts are scrap)
    )


def tell_workshop_lead_of_cancellation(
    *,
    notification_id: str,
    workshop: Workshop,
    work_order: CancelledWorkOrder,
    event_id: str,
    now: datetime,
) -> Notification:
    wo = work_order
    done = f"已完成 good {wo.good_quantity} / 报废 scrap {wo.scrap_quantity}"
    reason = f": {wo.reason}" if wo.reason else ""
    return Notification(
        notification_id=notification_id,
        recipient=workshop.lead,
        recipient_role="workshop_lead",
        subject=f"工单取消 work order cancelled: {wo.work_order_no}, {done}",
        body=f"{workshop.name}: 订单 {wo.order_no}, {_stage(wo.stage)}, 停止生产 stop work{reason}",
        event_id=event_id,
        reference=wo.work_order_no,
        created_at=now,
        kind="work_order_cancelled",
        order_no=wo.order_no,
        urgent=True,  # stop work
    )


def describe_changes(changes: list[LineChange]) -> list[str]:
    """Line by line, in the order given: "HB-2040: 颜色 colour 银色 silver → 金色 gold, 数量 …";
    a line that appears or disappears is said as such, not field by field from nothing."""
    by_line: dict[tuple[int, str], list[LineChange]] = {}
    for c in changes:
        by_line.setdefault((c.line_no, c.product_model), []).append(c)
    said = []
    for (_, model), fields in by_line.items():
        named = {c.field: c for c in fields}
        model_change = named.get("product_model")
        if model_change is not None and not model_change.before:
            spec = " ".join(named[f].after for f in _SPEC if f in named and named[f].after)
            qty = named["quantity"].after if "quantity" in named else "?"
            said.append(f"新增 added {model} × {qty}" + (f" {spec}" if spec else ""))
        elif model_change is not None and not model_change.after:
            qty = named["quantity"].before if "quantity" in named else "?"
            said.append(f"删除 removed {model_change.before} × {qty}")
        else:
            # The specification before the quantity: a wrong colour makes scrap, a wrong count not.
            ordered = sorted(fields, key=lambda c: _FIELD_ORDER.get(c.field, len(_FIELD_ORDER)))
            each = ", ".join(
                f"{FIELD_LABELS.get(c.field, c.field)} {c.before or '—'} → {c.after or '—'}" for c in ordered
            )
            said.append(f"{model}: {each}")
    return said


def _stage(stage: str) -> str:
    return f"阶段 stage {STAGE_LABELS.get(stage, stage)}"
