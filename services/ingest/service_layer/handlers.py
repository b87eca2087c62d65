"""Ingest use cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from services.chassis import identity
from services.chassis.errors import Duplicate
from services.chassis.uow import UowFactory as UowFactoryOf
from services.ingest.domain.model import Intake, PhoneOrder
from services.ingest.service_layer.unit_of_work import IngestUnitOfWork

UowFactory = UowFactoryOf[IngestUnitOfWork]  # uow() or uow(read_only=True)
PHONE_CHANNEL = "CHANNEL_DIRECT"  # sales on the phone = 直销


class OrderDesk(Protocol):
    def create(self, form: PhoneOrder, channel: str) -> tuple[str, str]: ...


def submit_phone_order(form: PhoneOrder, uow: UowFactory, orders: OrderDesk) -> tuple[Intake, bool]:
    """Returns the intake and whether it was a duplicate submission."""
    caller = identity.current()
    with uow(read_only=True) as tx:
        seen = tx.intakes.find(form.idempotency_key)
        if seen:
            return seen, True
    order_id, order_no = orders.create(form, PHONE_CHANNEL)
    intake = Intake(form.idempotency_key, PHONE_CHANNEL, order_id, order_no, caller.user, datetime.now(UTC))
    try:
        with uow() as tx:
            tx.intakes.add(intake)
            tx.commit()
    except Duplicate:
        return intake, True  # the same form raced itself; the order service returned the same order
    return intake, False
