"""Event entry points of the notify service, shared by the embedded stack (in-process bus) and
the nameko worker: the event is read through its proto contract, then the handler runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from oms.customer.v1 import customer_pb2
from oms.order.v1 import order_pb2
from oms.production.v1 import production_pb2
from services.chassis import identity
from services.chassis.events import MalformedEvent, ReceivedEvent
from services.notify.domain.due_risk import WatchedWorkOrder
from services.notify.domain.model import (
    CancelledWorkOrder,
    LineChange,
    NewWorkOrder,
    RevisedWorkOrder,
    Workshop,
)
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
        uow.watch.watch(
            WatchedWorkOrder(
                msg.work_order_id,
                msg.work_order_no,
                msg.order_id,
                msg.order_no,
                msg.workshop,
                _day(event, msg.due_date),
                "STAGE_TO_SCHEDULE",
            ),
            max(msg.revision, 1),
            datetime.now(UTC),
        )

    return tell_workshop_lead_of_work_order


def on_work_order_revised(workshops: WorkshopDirectory):
    def tell_workshop_lead_of_revision(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
        """production.work_order_revised -> what changed, to the workshop lead. Every revision is
        told (no stale filter): revision 3's changes are relative to 2, so a lead who missed 2
        would miss what it changed."""
        msg = event.as_proto(production_pb2.WorkOrderRevised)
        _check_work_order(event, msg.work_order_no, msg.workshop)
        if msg.revision < 2 or msg.revision <= msg.previous_revision:
            raise MalformedEvent(
                f"work_order_revised {event.event_id} goes from revision {msg.previous_revision}"
                f" to {msg.revision}"
            )
        work_order = RevisedWorkOrder(
            work_order_no=msg.work_order_no,
            order_no=msg.order_no,
            revision=msg.revision,
            stage=_stage_name(msg.stage),
            previous_due_date=msg.previous_due_date,
            due_date=msg.due_date,
            changes=[LineChange(c.line_no, c.product_model, c.field, c.before, c.after) for c in msg.changes],
        )
        workshop = workshops(identity.current().tenant_id, msg.workshop)
        handlers.tell_workshop_lead_of_revised(work_order, workshop, event.event_id, uow)
        uow.watch.revise(msg.work_order_id, _day(event, msg.due_date), msg.revision, datetime.now(UTC))

    return tell_workshop_lead_of_revision


def on_work_order_cancelled(workshops: WorkshopDirectory):
    def tell_workshop_lead_of_cancellation(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
        """production.work_order_cancelled -> stop work, to the workshop lead."""
        msg = event.as_proto(production_pb2.WorkOrderCancelled)
        _check_work_order(event, msg.work_order_no, msg.workshop)
        if msg.good_quantity < 0 or msg.scrap_quantity < 0:
            raise MalformedEvent(
                f"work_order_cancelled {event.event_id} has good {msg.good_quantity},"
                f" scrap {msg.scrap_quantity}"
            )
        work_order = CancelledWorkOrder(
            work_order_no=msg.work_order_no,
            order_no=msg.order_no,
            stage=_stage_name(msg.stage),
            good_quantity=msg.good_quantity,
            scrap_quantity=msg.scrap_quantity,
            reason=msg.reason,
        )
        workshop = workshops(identity.current().tenant_id, msg.workshop)
        handlers.tell_workshop_lead_of_cancelled(work_order, workshop, event.event_id, uow)
        uow.watch.cancel(msg.work_order_id, datetime.now(UTC))

    return tell_workshop_lead_of_cancellation


def watch_stage(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
    """production.work_order_stage_changed -> the projection's stage (a later sequence only)."""
    msg = event.as_proto(production_pb2.WorkOrderStageChanged)
    if not msg.work_order_id or msg.sequence < 1:
        raise MalformedEvent(f"work_order_stage_changed {event.event_id} has no work order or sequence")
    uow.watch.move_stage(msg.work_order_id, _stage_name(msg.stage), msg.sequence, datetime.now(UTC))


def watch_order_customer(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
    """order.order_created -> whose order it is (its customer's sales owner hears of its risks)
    and its channel (a marketplace order's cancellation stops work)."""
    msg = event.as_proto(order_pb2.OrderCreated)
    if not msg.order_id or not msg.customer_id:
        raise MalformedEvent(f"order_created {event.event_id} has no order or customer")
    # A channel this build does not know is kept as "" (tolerant reader): only "is it a
    # marketplace order" is ever asked of it.
    channel = order_pb2.Channel.DESCRIPTOR.values_by_number.get(msg.channel)
    uow.watch.order_of_customer(msg.order_id, msg.customer_id, channel.name if channel else "")


def watch_customer(event: ReceivedEvent, uow: NotifyUnitOfWork) -> None:
    """customer.customer_created / customer_updated -> the customer's name and sales owner."""
    contract = (
        customer_pb2.CustomerCreated
        if event.event_type == "customer_created"
        else customer_pb2.CustomerUpdated
    )
    msg = event.as_proto(contract)
    if not msg.customer_id:
        raise MalformedEvent(f"{event.event_type} {event.event_id} has no customer")
    uow.watch.customer(msg.customer_id, msg.name, msg.sales_owner, msg.version)


def _day(event: ReceivedEvent, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise MalformedEvent(
            f"{event.event_type} {event.event_id}: due date {text[:20]!r} is not a day"
        ) from None


def _check_work_order(event: ReceivedEvent, work_order_no: str, workshop: str) -> None:
    if not work_order_no or not workshop:
        raise MalformedEvent(f"{event.event_type} {event.event_id} has no work order number or no workshop")


def _stage_name(number: int) -> str:
    known = production_pb2.Stage.DESCRIPTOR.values_by_number.get(number)
    return known.name if known is not None else str(number)
