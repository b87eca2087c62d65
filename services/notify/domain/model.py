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
    )
