"""Event entry points of the notify service, shared by the embedded stack (in-process bus) and
the nameko worker: the event is read through its proto contract, then the handler runs."""

from __future__ import annotations

from collections.abc import Callable

from oms.production.v1 import production_pb2
from services.chassis import identity
from services.chassis.events import ReceivedEvent
from services.notify.domain.model import NewWorkOrder, Workshop
from services.notify.service_layer import handlers
from services.notify.service_layer.unit_of_work import NotifyUnitOfWork

WorkshopDirectory = Callable[[str, str], Workshop]  # (tenant id, workshop code) -> Workshop


def on_work_order_created(workshops: WorkshopDirectory):
    def tell_workshop_lead_of_work_order(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
        """production.work_order_created -> a notice to the workshop lead."""
        msg = event.as_proto(production_pb2.WorkOrderCreated)
        work_order = NewWorkOrder(
            work_order_no=msg.work_order_no,
            order_no=msg.order_no,
            due_date=msg.due_date,
            lines=[(x.product_model, x.quantity) for x in msg.lines],
        )
        workshop = workshops(identity.current().tenant_id, msg.workshop)
        handlers.tell_workshop_lead_of(work_order, workshop, event.event_id, uow)

    return tell_workshop_lead_of_work_order
