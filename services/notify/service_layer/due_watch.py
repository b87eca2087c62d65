"""Due-date risk (交期前48小时未完工自动触发预警): the check that warns the production supervisor and
the order's sales owner of unfinished work near its due date, and withdraws the warning when the
work finishes, is cancelled or its due date moves. It reads notify's own projection of work orders
(kept from production's, order's and customer's events by services/notify/consumers.py). It runs
on a timer — a chassis job in the embedded stack, nameko's timer in the worker — and each warning
is once across restarts and workers: the job's lease, and the warnings' unique key."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from services.chassis.tenants import Tenant
from services.notify.domain import due_risk
from services.notify.domain.due_risk import WatchedWorkOrder
from services.notify.domain.model import Notification
from services.notify.service_layer import alerts
from services.notify.service_layer.handlers import UowFactory, send
from services.notify.service_layer.unit_of_work import NotifyUnitOfWork

SUPERVISOR = "production_supervisor"
SALES_OWNER = "sales_owner"
WITHDRAWN = {
    "finished": "已完工 finished",
    "cancelled": "已取消 cancelled",
    "due_moved": "交期已变更 due date moved",
}


def thresholds_of(tenant: Tenant) -> list[float]:
    return [*tenant.alerts.due_warning_hours, *([due_risk.OVERDUE] if tenant.alerts.overdue else [])]


def check_due(
    tenant: Tenant, uow: UowFactory, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> int:
    """Raise and withdraw what is due now; returns how many notices went out."""
    now = clock()
    thresholds = thresholds_of(tenant)
    zone = tenant.line.tz
    horizon = (now + timedelta(hours=max(thresholds, default=0.0))).astimezone(zone).date()
    told = raised = withdrawn = 0
    with uow() as tx:
        plan = due_risk.plan(tx.watch.at_risk(horizon), tx.watch.raised(), thresholds, now, zone)
        for wo, threshold in plan.warn:
            people = recipients(tenant, tx, wo)
            warning_id = tx.watch.raise_warning(wo, threshold, people, now)
            if warning_id:  # "" = raised already (another worker got there first)
                raised += 1
                what = due_risk.describe_threshold(threshold)
                subject = f"交期预警 due-date warning: {wo.work_order_no} {what}"
                body = (
                    f"订单 order {wo.order_no}, 工单 work order {wo.work_order_no} ({wo.workshop}), "
                    f"交期 due {wo.due_date.isoformat()}, 阶段 stage {wo.stage}: {what}"
                )
                said = (subject, body, wo.work_order_no, wo.order_no)
                # urgent: a warning goes even in quiet hours (48 h leaves no night to lose)
                told += _tell(tx, people, warning_id, said, now, kind="due_warning", urgent=True)
        for warning, why in plan.withdraw:
            gone = tx.watch.withdraw(warning, why, now)
            if gone is not None:
                withdrawn += 1
                reason = WITHDRAWN.get(why, why)
                subject = f"预警解除 warning withdrawn: {gone.work_order_no} {reason}"
                body = f"订单 order {gone.order_no}, 交期 due {warning.due_date.isoformat()}: {reason}"
                said = (subject, body, gone.work_order_no, gone.order_no)
                told += _tell(tx, gone.recipients, gone.warning_id, said, now, kind="due_warning_withdrawn")
        tx.commit()
    alerts.counted("raised", raised)
    alerts.counted("withdrawn", withdrawn)
    return told


def recipients(tenant: Tenant, tx: NotifyUnitOfWork, wo: WatchedWorkOrder) -> list[tuple[str, str]]:
    """The tenant file's production supervisors and the order's sales owner, once each."""
    people = [(name, SUPERVISOR) for name, p in tenant.people.items() if SUPERVISOR in p.roles]
    owner, _customer = tx.watch.sales_owner_of(wo.order_id)
    if owner and owner not in {name for name, _ in people}:
        people.append((owner, SALES_OWNER))
    return people


def _tell(
    tx: NotifyUnitOfWork,
    people: list[tuple[str, str]],
    warning_id: str,
    said: tuple[str, str, str, str],  # subject, body, work order number, order number
    now: datetime,
    *,
    kind: str,
    urgent: bool = False,
) -> int:
    subject, body, reference, order_no = said
    for name, role in people:
        # one notice per person and message: an id derived from both (a retried check adds none)
        notice_id = str(uuid.uuid5(uuid.UUID(warning_id), f"{subject}/{name}"))
        notice = Notification(
            notice_id,
            name,
            role,
            subject[:200],
            body,
            warning_id,
            reference[:64],
            now,
            kind,
            order_no,
            urgent,
        )
        send(notice, tx)
    return len(people)
