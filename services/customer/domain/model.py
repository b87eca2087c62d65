"""Customers: master data (客户主数据), active flag, optimistic version and tier. Pure Python.

The aggregate records what happened as events (every change raises the version, and each event
carries it, so the order service's cache of customers can tell a newer state from an older one)
and the tier changes to keep beside it (their history, with reasons).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from services.chassis.errors import FailedPrecondition, FieldViolation, InvalidArgument, VersionConflict
from services.chassis.events import DomainEvent
from services.customer.domain.tiers import Assessment, Tier, TierThresholds, assess, explain

__all__ = ["Tier", "TierThresholds"]  # re-exported: the customer's own terms live here too

TAX_ID = re.compile(r"[0-9A-Z]{18}")  # 统一社会信用代码


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str
    role: str = ""  # e.g. "采购 buyer"


@dataclass(frozen=True)
class DeliveryAddress:
    label: str
    address: str
    receiver: str = ""
    phone: str = ""
    is_default: bool = False


@dataclass(frozen=True)
class MasterData:
    """The editable fields: what UpdateCustomer replaces as a whole (the code stays)."""

    name: str
    sales_owner: str
    cooperation_since: date
    tax_id: str = ""
    contacts: tuple[Contact, ...] = ()
    addresses: tuple[DeliveryAddress, ...] = ()

    def violations(self, today: date) -> list[FieldViolation]:
        """Every rule the contract's field rules cannot state, all at once."""
        found = []
        if not self.name.strip():
            found.append(FieldViolation("name", "must not be blank"))
        if self.tax_id and not TAX_ID.fullmatch(self.tax_id):
            found.append(FieldViolation("tax_id", "统一社会信用代码 is 18 upper-case letters and digits"))
        if self.cooperation_since > today:
            found.append(
                FieldViolation("cooperation_since", f"{self.cooperation_since} is after today {today}")
            )
        for i, c in enumerate(self.contacts):
            if not c.name.strip():
                found.append(FieldViolation(f"contacts[{i}].name", "must not be blank"))
        defaults = [i for i, a in enumerate(self.addresses) if a.is_default]
        for i in defaults[1:]:
            found.append(
                FieldViolation(
                    f"addresses[{i}].is_default",
                    f"only one delivery address may be the default (addresses[{defaults[0]}] is)",
                )
            )
        for i, a in enumerate(self.addresses):
            if not a.address.strip():
                found.append(FieldViolation(f"addresses[{i}].address", "must not be blank"))
        return found

    def check(self, today: date) -> None:
        found = self.violations(today)
        if found:
            raise InvalidArgument("customer has invalid fields", found)


@dataclass(frozen=True)
class CustomerCreated(DomainEvent):
    event_type = "customer_created"
    customer_id: str
    code: str
    name: str
    tier: str
    sales_owner: str
    active: bool = True
    version: int = 1


@dataclass(frozen=True)
class CustomerUpdated(DomainEvent):
    event_type = "customer_updated"
    customer_id: str
    code: str
    name: str
    tier: str
    sales_owner: str
    active: bool
    version: int


@dataclass(frozen=True)
class CustomerDeactivated(DomainEvent):
    event_type = "customer_deactivated"
    customer_id: str
    code: str
    version: int
    reason: str
    deactivated_by: str


@dataclass(frozen=True)
class CustomerReactivated(DomainEvent):
    event_type = "customer_reactivated"
    customer_id: str
    code: str
    version: int
    reactivated_by: str


@dataclass(frozen=True)
class CustomerTierChanged(DomainEvent):
    event_type = "customer_tier_changed"
    customer_id: str
    code: str
    from_tier: str
    to_tier: str
    reason: str
    purchases_12m_fen: int
    years_of_cooperation: int
    version: int


@dataclass(frozen=True)
class TierChange:
    """One assessment that set or changed the tier (from_tier None: at registration)."""

    from_tier: Tier | None
    to_tier: Tier
    reason: str
    reason_without_amounts: str
    purchases_12m_fen: int
    years_of_cooperation: int
    at: datetime
    version: int


@dataclass
class Customer:
    customer_id: str
    code: str
    data: MasterData
    tier: Tier
    years_of_cooperation: int
    purchases_12m_fen: int
    created_at: datetime
    updated_at: datetime
    active: bool = True
    version: int = 1
    deactivation_reason: str = ""
    events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)
    # Tier changes made in this unit of work, stored beside the customer (its tier history).
    tier_changes: list[TierChange] = field(default_factory=list, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.data.name

    @property
    def sales_owner(self) -> str:
        return self.data.sales_owner

    @classmethod
    def register(
        cls,
        *,
        customer_id: str,
        code: str,
        data: MasterData,
        purchases_12m_fen: int,
        rule: TierThresholds,
        today: date,
        now: datetime,
    ) -> Customer:
        data.check(today)
        a = assess(rule, data.cooperation_since, today, purchases_12m_fen)
        customer = cls(customer_id, code, data, a.tier, a.years_of_cooperation, a.purchases_12m_fen, now, now)
        customer._record_tier(None, a, rule, now)
        customer.events.append(
            CustomerCreated(customer_id, code, data.name, a.tier.value, data.sales_owner, True, 1)
        )
        return customer

    def ensure_version(self, expected_version: int) -> None:
        if expected_version != self.version:
            raise VersionConflict(
                f"customer {self.code} is at version {self.version}, not {expected_version}; reload it"
            )

    def update(
        self,
        data: MasterData,
        *,
        expected_version: int,
        purchases_12m_fen: int,
        rule: TierThresholds,
        today: date,
        now: datetime,
    ) -> None:
        """Replace the editable fields; the tier is reassessed (cooperation_since may move)."""
        self.ensure_version(expected_version)
        data.check(today)
        self.data = data
        self._bump(now)
        a = assess(rule, data.cooperation_since, today, purchases_12m_fen)
        self.events.append(
            CustomerUpdated(
                self.customer_id,
                self.code,
                data.name,
                a.tier.value,
                data.sales_owner,
                self.active,
                self.version,
            )
        )
        self._apply(a, rule, now)  # its tier change, if any, follows the update

    def deactivate(self, *, reason: str, expected_version: int, actor: str, now: datetime) -> None:
        self.ensure_version(expected_version)
        if not self.active:
            raise FailedPrecondition(f"customer {self.code} is already inactive (停用)")
        self.active = False
        self.deactivation_reason = reason
        self._bump(now)
        self.events.append(CustomerDeactivated(self.customer_id, self.code, self.version, reason, actor))

    def reactivate(self, *, expected_version: int, actor: str, now: datetime) -> None:
        self.ensure_version(expected_version)
        if self.active:
            raise FailedPrecondition(f"customer {self.code} is already active (启用)")
        self.active = True
        self.deactivation_reason = ""
        self._bump(now)
        self.events.append(CustomerReactivated(self.customer_id, self.code, self.version, actor))

    def reassess(self, *, purchases_12m_fen: int, rule: TierThresholds, today: date, now: datetime) -> bool:
        """After a shipment or in the daily pass: True if anything stored changed (a new tier
        raises the version and is recorded; years and purchases alone do not)."""
        a = assess(rule, self.data.cooperation_since, today, purchases_12m_fen)
        if a == Assessment(self.tier, self.years_of_cooperation, self.purchases_12m_fen):
            return False
        if a.tier is not self.tier:
            self._bump(now)
        self._apply(a, rule, now)
        return True

    def _bump(self, now: datetime) -> None:
        self.version += 1
        self.updated_at = now

    def _apply(self, a: Assessment, rule: TierThresholds, now: datetime) -> None:
        before = self.tier
        self.tier, self.years_of_cooperation, self.purchases_12m_fen = (
            a.tier,
            a.years_of_cooperation,
            a.purchases_12m_fen,
        )
        if a.tier is not before:
            self._record_tier(before, a, rule, now)

    def _record_tier(self, before: Tier | None, a: Assessment, rule: TierThresholds, now: datetime) -> None:
        reason = explain(before, a, rule)
        self.tier_changes.append(
            TierChange(
                before,
                a.tier,
                reason.text,
                reason.without_amounts,
                a.purchases_12m_fen,
                a.years_of_cooperation,
                now,
                self.version,
            )
        )
        if before is not None:  # at registration, customer_created carries the tier
            self.events.append(
                CustomerTierChanged(
                    self.customer_id,
                    self.code,
                    before.value,
                    a.tier.value,
                    reason.text,
                    a.purchases_12m_fen,
                    a.years_of_cooperation,
                    self.version,
                )
            )


@dataclass(frozen=True)
class Standing:
    """What an order needs to know of its customer on every order: its tier (prices) and whether
    it takes orders at all."""

    customer_id: str
    tier: Tier
    active: bool
