"""Who hears of an order's change and of an incoming order waiting for review (the plant's people
by role, from the tenant file, and the customer's sales owner from notify's own projection).
Runs in the consumer's unit of work: a repeated event is one notice (the inbox)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from services.chassis.tenants import Tenant
from services.notify.domain.model import Notification
from services.notify.service_layer.handlers import send
from services.notify.service_layer.unit_of_work import NotifyUnitOfWork

CHANGE_ROLES = ("planner", "warehouse")  # planning re-plans, the warehouse holds the issue


def people_with(tenant: Tenant, roles: Iterable[str]) -> list[tuple[str, str]]:
    """(name, role) of the tenant file's people with any of these roles, once each."""
    wanted = tuple(roles)
    out: list[tuple[str, str]] = []
    for name, person in tenant.people.items():
        role = next((r for r in wanted if r in person.roles), None)
        if role is not None:
            out.append((name, role))
    return out


def change_audience(tenant: Tenant, tx: NotifyUnitOfWork, customer_id: str) -> list[tuple[str, str]]:
    people = people_with(tenant, CHANGE_ROLES)
    owner = tx.watch.sales_owner_of_customer(customer_id)
    if owner and owner not in {name for name, _ in people}:
        people.append((owner, "sales_owner"))
    return people


def tell(
    tx: NotifyUnitOfWork,
    people: list[tuple[str, str]],
    subject: str,
    body: str,
    event_id: str,
    reference: str,
    *,
    kind: str,
    order_no: str = "",
    urgent: bool = False,
) -> None:
    """One notice per person (in the consumer's unit of work: a repeated event adds none)."""
    now = datetime.now(UTC)
    for name, role in people:
        notice = Notification(
            str(uuid.uuid4()),
            name,
            role,
            subject[:200],
            body,
            event_id,
            reference[:64],
            now,
            kind=kind,
            order_no=order_no[:32],
            urgent=urgent,
        )
        send(notice, tx)
