"""Order intake from the channels. Pure Python.

A phone form may be sent twice (the salesperson was offline and the app retried); the key the
phone generated makes the second submission return the first order instead of a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from services.chassis.events import DomainEvent


@dataclass
class Intake:
    idempotency_key: str
    channel: str
    order_id: str
    order_no: str
    received_by: str
    received_at: datetime
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)


@dataclass(frozen=True)
class PhoneOrderLine:
    product_model: str
    quantity: int
    workshop: str
    colour: str = ""
    surface_treatment: str = ""
    unit_price_fen: int = 0


@dataclass(frozen=True)
class PhoneOrder:
    idempotency_key: str
    customer_id: str
    due_date: date
    priority: str
    lines: list[PhoneOrderLine]
