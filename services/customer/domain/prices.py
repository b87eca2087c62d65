"""Contract prices (合同价): per customer or per tier, product model → unit price in fen, valid
over a window of days (inclusive; open-ended when valid_to is None). Pure Python.

Within one scope and model the windows never overlap, so on any day at most one entry applies;
resolving a customer's price takes its own entry first and its tier's otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from services.chassis.errors import FieldViolation, InvalidArgument
from services.chassis.events import DomainEvent
from services.customer.domain.tiers import Tier


class PriceSource(StrEnum):
    CUSTOMER = "PRICE_SOURCE_CUSTOMER"
    TIER = "PRICE_SOURCE_TIER"


@dataclass(frozen=True)
class PriceScope:
    """Whose entry: one customer's (customer_id) or one tier's."""

    customer_id: str = ""
    tier: Tier | None = None

    def __post_init__(self) -> None:
        if bool(self.customer_id) == (self.tier is not None):
            raise ValueError("a contract price belongs to one customer or to one tier")

    @property
    def key(self) -> str:
        """One column to keep entries of a scope together: the customer id or "TIER_A"."""
        return self.customer_id or self.tier.value  # type: ignore[union-attr]

    def describe(self) -> str:
        if self.tier is None:
            return f"customer {self.customer_id}"
        return f"{self.tier.letter}级 tier {self.tier.letter}"


@dataclass(frozen=True)
class ContractPrice:
    contract_price_id: str
    scope: PriceScope
    product_model: str
    unit_price_fen: int
    valid_from: date
    valid_to: date | None
    updated_by: str
    updated_at: datetime

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def overlaps(self, valid_from: date, valid_to: date | None) -> bool:
        return (valid_to is None or self.valid_from <= valid_to) and (
            self.valid_to is None or valid_from <= self.valid_to
        )

    def window(self) -> str:
        return f"{self.valid_from} – {self.valid_to or '长期 open'}"


def check_entry(entry: ContractPrice, others: Iterable[ContractPrice]) -> None:
    """`entry` may be stored beside `others` (the same scope and model): its window is a window,
    and it overlaps none of them but the one it replaces (same valid_from). All violations at once."""
    found = []
    if entry.valid_to is not None and entry.valid_to < entry.valid_from:
        found.append(FieldViolation("valid_to", f"{entry.valid_to} is before valid_from {entry.valid_from}"))
    for other in others:
        if other.valid_from != entry.valid_from and other.overlaps(entry.valid_from, entry.valid_to):
            found.append(
                FieldViolation(
                    "valid_from",
                    f"overlaps the contract price of {other.product_model!r} for {other.scope.describe()} "
                    f"valid {other.window()} (与已有合同价有效期重叠)",
                )
            )
    if found:
        raise InvalidArgument("contract price cannot be stored as asked", found)


@dataclass(frozen=True)
class ResolvedPrice:
    product_model: str
    entry: ContractPrice | None  # None: no contract price that day
    source: PriceSource | None


def resolve(
    models: Iterable[str], own: Iterable[ContractPrice], of_tier: Iterable[ContractPrice], day: date
) -> list[ResolvedPrice]:
    """Each model's price on `day`, in the order asked: the customer's own entry wins."""
    own_by_model = {p.product_model: p for p in own if p.covers(day)}
    tier_by_model = {p.product_model: p for p in of_tier if p.covers(day)}
    out = []
    for model in models:
        if model in own_by_model:
            out.append(ResolvedPrice(model, own_by_model[model], PriceSource.CUSTOMER))
        elif model in tier_by_model:
            out.append(ResolvedPrice(model, tier_by_model[model], PriceSource.TIER))
        else:
            out.append(ResolvedPrice(model, None, None))
    return out


@dataclass(frozen=True)
class ContractPriceSet(DomainEvent):
    """A contract price was set: whoever remembers resolved prices (the order service) forgets
    them for this customer, or for the whole tenant when a tier's list changed."""

    event_type = "contract_price_set"
    contract_price_id: str
    customer_id: str  # "" for a tier's list
    tier: str  # "" for a customer's own list
    product_model: str
    valid_from: str
    valid_to: str  # "" = open-ended
