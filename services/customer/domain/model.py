"""Customers and their tier (客户分级 A/B/C). Pure Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.chassis.events import DomainEvent


class Tier(StrEnum):
    A = "TIER_A"
    B = "TIER_B"
    C = "TIER_C"


@dataclass(frozen=True)
class TierThresholds:
    """A tenant's rule: tier A needs both the years and the yearly purchases, likewise B."""

    a_min_years: int
    a_min_yearly_cny: int
    b_min_years: int
    b_min_yearly_cny: int

    def tier_for(self, years_of_cooperation: int, yearly_purchases_cny: int) -> Tier:
        if years_of_cooperation >= self.a_min_years and yearly_purchases_cny >= self.a_min_yearly_cny:
            return Tier.A
        if years_of_cooperation >= self.b_min_years and yearly_purchases_cny >= self.b_min_yearly_cny:
            return Tier.B
        return Tier.C


@dataclass(frozen=True)
class CustomerCreated(DomainEvent):
    event_type = "customer_created"
    customer_id: str
    code: str
    name: str
    tier: str
    sales_owner: str


@dataclass
class Customer:
    customer_id: str
    code: str
    name: str
    tier: Tier
    years_of_cooperation: int
    yearly_purchases_cny: int
    sales_owner: str
    created_at: datetime
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def register(
        cls,
        *,
        customer_id: str,
        code: str,
        name: str,
        years_of_cooperation: int,
        yearly_purchases_cny: int,
        sales_owner: str,
        thresholds: TierThresholds,
        now: datetime,
    ) -> Customer:
        tier = thresholds.tier_for(years_of_cooperation, yearly_purchases_cny)
        customer = cls(
            customer_id, code, name, tier, years_of_cooperation, yearly_purchases_cny, sales_owner, now
        )
        customer.events.append(CustomerCreated(customer_id, code, name, tier.value, sales_owner))
        return customer
