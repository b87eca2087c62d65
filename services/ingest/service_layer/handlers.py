"""Phone forms: sales in the field, possibly offline, submitting again when the phone reconnects."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

from services.chassis import identity
from services.chassis.errors import Duplicate
from services.chassis.uow import UowFactory as UowFactoryOf
from services.ingest.adapters import metrics
from services.ingest.domain.model import Intake, PhoneOrder, check_attachments
from services.ingest.domain.report import RunCounts
from services.ingest.service_layer.desk import REFUSALS, priority_facts
from services.ingest.service_layer.ports import DraftLine, OrderDesk, OrderDraft
from services.ingest.service_layer.unit_of_work import IngestUnitOfWork

UowFactory = UowFactoryOf[IngestUnitOfWork]  # uow() or uow(read_only=True)
PHONE_CHANNEL = "CHANNEL_DIRECT"  # sales on the phone = 直销


def submit_phone_order(
    form: PhoneOrder,
    uow: UowFactory,
    orders: OrderDesk,
    plant_day=lambda now: now.date(),
    priority_rule: Callable[[dict], str] = lambda facts: "PRIORITY_NORMAL",
) -> tuple[Intake, bool]:
    """Returns the intake and whether it was a duplicate submission."""
    caller = identity.current()
    with uow(read_only=True) as tx:
        seen = tx.intakes.find(form.idempotency_key)
        if seen:
            return seen, True
    check_attachments(form.attachments)
    now = datetime.now(UTC)
    if form.attachments:
        with uow() as tx:  # stored first: an order never points at a scan that was lost
            for a in form.attachments:
                tx.intakes.store_attachment(a, now)
            tx.commit()
    draft = OrderDraft(
        # The key was the order's request_id before attachments came: kept, so a form sent before
        # an upgrade and again after it still finds its order.
        request_id=form.idempotency_key,
        customer_id=form.customer_id,
        channel=PHONE_CHANNEL,
        priority=form.priority or priority_rule(_facts(form)),  # unset on the form: the tenant's rule
        due_date=form.due_date,
        lines=[
            DraftLine(
                x.product_model,
                x.quantity,
                x.unit_price_fen,
                x.colour,
                x.surface_treatment,
                x.packaging,
                x.workshop,
            )
            for x in form.lines
        ],
        delivery_address=form.delivery_address,
        custom_fields=form.custom_fields,
    )
    try:
        order_id, order_no = orders.create(draft)
    except REFUSALS:  # the salesperson sees why; the day's report counts it
        _count(uow, plant_day(now), now, RunCounts(received=1, rejected=1))
        raise
    intake = Intake(
        form.idempotency_key,
        PHONE_CHANNEL,
        order_id,
        order_no,
        caller.user,
        now,
        [a.stored() for a in form.attachments],
        form.signed_at,
        form.location,
    )
    try:
        with uow() as tx:
            tx.intakes.add(intake)
            tx.market.archive("form", form.idempotency_key, as_received(form), now)
            tx.runs.add(tx.runs.day_run("form", plant_day(now), now), RunCounts(received=1, created=1))
            tx.commit()
    except Duplicate:
        return intake, True  # the same form raced itself; the order service returned the same order
    metrics.count(caller.tenant_id, "form", RunCounts(received=1, created=1))
    return intake, False


def _facts(form: PhoneOrder) -> dict:
    return priority_facts(PHONE_CHANNEL, [(x.quantity, x.unit_price_fen) for x in form.lines])


def as_received(form: PhoneOrder) -> dict:
    """The form for the raw archive: every field as sent, each scan by its hash (stored once)."""
    data = dataclasses.asdict(form)
    data["attachments"] = [vars(a.stored()) for a in form.attachments]
    return data


def _count(uow: UowFactory, day, now: datetime, counts: RunCounts) -> None:
    metrics.count(identity.current().tenant_id, "form", counts)
    with uow() as tx:
        tx.runs.add(tx.runs.day_run("form", day, now), counts)
        tx.commit()


def attachment(sha256: str, uow: UowFactory) -> tuple[str, bytes]:
    with uow(read_only=True) as tx:
        return tx.intakes.attachment(sha256)
