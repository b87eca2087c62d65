"""What the order service needs from outside, as interfaces (fakes in unit tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from services.order.domain.materials import ReservationResult
from services.order.domain.model import Order


@dataclass(frozen=True)
class KnownCustomer:
    tier: str  # "TIER_A", "TIER_B", "TIER_C"
    active: bool  # only an active customer takes new orders


class CustomerDirectory(Protocol):
    def look_up(self, customer_id: str) -> KnownCustomer | None:
        """None for a customer the caller's tenant does not have."""
        ...

    def exists(self, customer_id: str) -> bool: ...

    def matching(self, text: str) -> list[str]:
        """Ids of the customers whose name, code or phone the customer service finds for `text`
        (at most 100)."""
        ...

    def tier(self, customer_id: str) -> str:
        """The customer's tier ("TIER_A"…), "" for an unknown customer."""
        ...


@dataclass(frozen=True)
class ShortageOverride:
    """Accept the order although materials are short (缺料接单), for this reason."""

    reason: str


class MaterialReservations(Protocol):
    """Inventory's reservation of what an order's lines need by the tenant's BOM."""

    def reserve(self, order: Order, override: ShortageOverride | None) -> ReservationResult:
        """Reserve what the order's current revision needs, all or nothing. Idempotent per
        (order, revision): asking again answers the same reservation. FailedPrecondition naming
        every short material (unless `override`), or a model without a BOM; Unavailable when the
        WMS cannot be read (nothing reserved)."""
        ...


class NumberSource(Protocol):
    """Running numbers per tenant, name and period (services/chassis/numbering.py)."""

    def next(self, name: str, period: str) -> int: ...

    def give_back(self, name: str, period: str, number: int) -> None: ...


class ContractPrices(Protocol):
    def resolve(self, customer_id: str, product_models: list[str], on: date) -> dict[str, int]:
        """The customer's contract unit price (fen) per model valid on that day; models without
        one are left out."""
        ...
