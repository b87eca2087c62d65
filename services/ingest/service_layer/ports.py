"""What ingest needs from the other services: the order desk (the order service) and the
customer book (the customer service). Adapters: services/ingest/adapters/order_desk.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol


@dataclass(frozen=True)
class DraftLine:
    product_model: str
    quantity: int
    unit_price_fen: int = 0
    colour: str = ""
    surface_treatment: str = ""
    packaging: str = ""
    workshop: str = ""


@dataclass(frozen=True)
class OrderDraft:
    """An order as a channel brings it; `request_id` is derived from the source record so that a
    repeated create (a crash between creating and recording) returns the same order."""

    request_id: str
    customer_id: str
    channel: str  # CHANNEL_MARKETPLACE | CHANNEL_AGENT | CHANNEL_DIRECT
    priority: str  # PRIORITY_NORMAL | PRIORITY_HIGH
    due_date: date
    lines: Sequence[DraftLine]
    delivery_address: str = ""
    custom_fields: Mapping[str, str] = field(default_factory=dict)


class OrderDesk(Protocol):
    def create(self, draft: OrderDraft) -> tuple[str, str]:
        """(order id, order number); raises the order service's domain errors."""
        ...

    def find(self, request_id: str) -> tuple[str, str] | None:
        """(order id, order number) of the order a create with this request_id made, if any."""
        ...

    def cancel(self, order_id: str, reason: str) -> str:
        """Cancel, or where production has started ask for a cancelling change. Returns what was
        done: "cancelled", "change_requested" or "already_cancelled"; raises FailedPrecondition
        when neither is possible (shipped, a change already pending)."""
        ...


@dataclass(frozen=True)
class CustomerRef:
    customer_id: str
    code: str
    name: str
    tier: str = ""  # A | B | C
    active: bool = True


class CustomerBook(Protocol):
    def by_code(self, code: str) -> CustomerRef | None: ...

    def by_name(self, name: str) -> list[CustomerRef]:
        """Customers whose name or code is exactly this text (several = ambiguous)."""
        ...

    def by_phone(self, phone: str) -> list[CustomerRef]:
        """Customers with a contact of exactly this phone number (digits compared)."""
        ...
