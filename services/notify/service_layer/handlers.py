"""Notify use cases. Plain Python: the embedded stack calls them directly, the distributed
stack through the nameko worker (`services/notify/worker.py`)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from oms.production.v1 import production_pb2
from services.chassis import identity
from services.chassis.events import ReceivedEvent
from services.notify.domain.model import Notification, Workshop, tell_workshop_lead
from services.notify.service_layer.unit_of_work import NotifyUnitOfWork

log = logging.getLogger(__name__)
UowFactory = Callable[[], NotifyUnitOfWork]
WorkshopDirectory = Callable[[str, str], Workshop]  # (tenant id, workshop code) -> Workshop


def on_work_order_created(workshops: WorkshopDirectory):
    def tell_workshop_lead_of_work_order(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
        msg = event.as_proto(production_pb2.WorkOrderCreated)
        workshop = workshops(identity.current().tenant_id, msg.workshop)
        note = tell_workshop_lead(
            notification_id=str(uuid.uuid4()),
            workshop=workshop,
            work_order_no=msg.work_order_no,
            order_no=msg.order_no,
            due_date=msg.due_date,
            lines=[(x.product_model, x.quantity) for x in msg.lines],
            event_id=event.event_id,
            now=datetime.now(UTC),
        )
        uow.notifications.add(note)
        # The delivery channel (WeChat Work, SMS) plugs in here; until then the record is the message.
        log.info("notify %s (%s): %s", note.recipient, note.recipient_role, note.subject)

    return tell_workshop_lead_of_work_order


def list_notifications(reference: str, limit: int, uow: UowFactory) -> list[Notification]:
    with uow() as tx:
        return tx.notifications.list(reference, limit or 100)
