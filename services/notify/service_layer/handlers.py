"""Notify use cases. Plain Python: the embedded stack calls them directly, the distributed
stack through the nameko worker (`services/notify/worker.py`)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from services.chassis.paging import page_size
from services.chassis.text import one_line
from services.chassis.uow import UowFactory as UowFactoryOf
from services.notify.domain.model import (
    CancelledWorkOrder,
    NewWorkOrder,
    Notification,
    RevisedWorkOrder,
    Workshop,
    tell_workshop_lead,
    tell_workshop_lead_of_cancellation,
    tell_workshop_lead_of_revision,
)
from services.notify.service_layer.unit_of_work import NotifyUnitOfWork

log = logging.getLogger(__name__)
UowFactory = UowFactoryOf[NotifyUnitOfWork]  # uow() or uow(read_only=True)


def tell_workshop_lead_of(
    work_order: NewWorkOrder, workshop: Workshop, event_id: str, uow: NotifyUnitOfWork
) -> None:
    """Record (and, once a channel is configured, send) the notice to the workshop's lead. Runs in
    the consumer's unit of work: the inbox mark and this record commit together."""
    note = tell_workshop_lead(
        notification_id=str(uuid.uuid4()),
        workshop=workshop,
        work_order_no=work_order.work_order_no,
        order_no=work_order.order_no,
        due_date=work_order.due_date,
        lines=work_order.lines,
        event_id=event_id,
        now=datetime.now(UTC),
    )
    send(note, uow)


def tell_workshop_lead_of_revised(
    work_order: RevisedWorkOrder, workshop: Workshop, event_id: str, uow: NotifyUnitOfWork
) -> None:
    """The lead of a revised work order is told what changed (in the consumer's unit of work)."""
    note = tell_workshop_lead_of_revision(
        notification_id=str(uuid.uuid4()),
        workshop=workshop,
        work_order=work_order,
        event_id=event_id,
        now=datetime.now(UTC),
    )
    send(note, uow)


def tell_workshop_lead_of_cancelled(
    work_order: CancelledWorkOrder, workshop: Workshop, event_id: str, uow: NotifyUnitOfWork
) -> None:
    note = tell_workshop_lead_of_cancellation(
        notification_id=str(uuid.uuid4()),
        workshop=workshop,
        work_order=work_order,
        event_id=event_id,
        now=datetime.now(UTC),
    )
    send(note, uow)


def send(note: Notification, uow: NotifyUnitOfWork) -> None:
    """Record the notice (in the consumer's unit of work); the dispatcher sends it on the
    recipient's channels (dispatch.py). Text from events is untrusted: no NUL anywhere (PostgreSQL
    refuses it), and one line for the subject, reference and name (an e-mail header with a line
    break is refused on every try)."""
    note.subject = one_line(note.subject)[:200]
    note.reference = one_line(note.reference)[:64]
    note.recipient = one_line(note.recipient)[:64]
    note.body = note.body.replace("\x00", "")
    uow.notifications.add(note)
    log.info("notify %s (%s): %s", note.recipient, note.recipient_role, note.subject)


@dataclass(frozen=True)
class ListNotifications:
    reference: str = ""  # e.g. a work order number
    recipient: str = ""
    page_size: int = 0  # 0 = 100
    page_token: str = ""


def list_notifications(query: ListNotifications, uow: UowFactory) -> tuple[list[Notification], str]:
    with uow(read_only=True) as tx:
        return tx.notifications.list(
            reference=query.reference,
            recipient=query.recipient,
            page_size=page_size(query.page_size, default=100),
            page_token=query.page_token,
        )
