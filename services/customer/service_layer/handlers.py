"""Customer use cases: open a unit of work, load, ask the domain, commit. Events go out via the
outbox in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from services.chassis import identity
from services.chassis.errors import AlreadyExists, Duplicate
from services.chassis.paging import page_size
from services.chassis.uow import UowFactory as UowFactoryOf
from services.customer.domain.model import Contact, Customer, DeliveryAddress, MasterData, TierChange
from services.customer.domain.tiers import FEN_PER_CNY, TierThresholds, shift_years, window_start
from services.customer.service_layer.unit_of_work import CustomerUnitOfWork

UowFactory = UowFactoryOf[CustomerUnitOfWork]  # uow() or uow(read_only=True)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TenantRules:
    """What the use cases need from a tenant file: the tier thresholds and the calendar in
    which "today", years of cooperation and the last 12 months are counted."""

    tiers: TierThresholds
    tz: tzinfo

    def today(self, now: datetime) -> date:
        return now.astimezone(self.tz).date()


@dataclass(frozen=True)
class EditableFields:
    name: str
    sales_owner: str = ""
    tax_id: str = ""
    contacts: tuple[Contact, ...] = ()
    addresses: tuple[DeliveryAddress, ...] = ()
    cooperation_since: date | None = None  # None: from the years (create) or unchanged (update)

    def data(self, cooperation_since: date) -> MasterData:
        return MasterData(
            name=self.name,
            sales_owner=self.sales_owner,
            cooperation_since=self.cooperation_since or cooperation_since,
            tax_id=self.tax_id,
            contacts=self.contacts,
            addresses=self.addresses,
        )


@dataclass(frozen=True)
class RegisterCustomer:
    code: str
    fields: EditableFields
    years_of_cooperation: int = 0  # sets cooperation_since when fields.cooperation_since is None
    yearly_purchases_cny: int = 0  # opening balance (期初), dated at registration


def register_customer(
    cmd: RegisterCustomer, uow: UowFactory, rules: TenantRules, clock: Clock = utc_now
) -> Customer:
    now = clock()
    today = rules.today(now)
    data = cmd.fields.data(shift_years(today, -cmd.years_of_cooperation))
    data.check(today)  # before any database work: a refused request writes nothing
    opening_fen = cmd.yearly_purchases_cny * FEN_PER_CNY
    try:
        with uow() as tx:
            if tx.customers.find_by_code(cmd.code):
                raise AlreadyExists(f"customer code {cmd.code} is taken")
            customer = Customer.register(
                customer_id=str(uuid.uuid4()),
                code=cmd.code,
                data=data,
                purchases_12m_fen=opening_fen,
                rule=rules.tiers,
                today=today,
                now=now,
            )
            tx.customers.add(customer)
            if opening_fen:
                tx.purchases.record(
                    customer.customer_id,
                    order_id=None,
                    order_no="",
                    amount_fen=opening_fen,
                    occurred_at=now,
                    occurred_on=today,
                )
            tx.commit()
            return customer
    except Duplicate:
        raise AlreadyExists(f"customer code {cmd.code} is taken") from None


@dataclass(frozen=True)
class UpdateCustomer:
    customer_id: str
    expected_version: int
    fields: EditableFields


def update_customer(
    cmd: UpdateCustomer, uow: UowFactory, rules: TenantRules, clock: Clock = utc_now
) -> Customer:
    now = clock()
    today = rules.today(now)
    with uow() as tx:
        customer = tx.customers.get(cmd.customer_id, for_update=True)
        customer.update(
            cmd.fields.data(customer.data.cooperation_since),
            expected_version=cmd.expected_version,
            purchases_12m_fen=tx.purchases.total_after(customer.customer_id, window_start(today)),
            rule=rules.tiers,
            today=today,
            now=now,
        )
        tx.customers.save(customer)
        tx.commit()
        return customer


@dataclass(frozen=True)
class DeactivateCustomer:
    customer_id: str
    expected_version: int
    reason: str


def deactivate_customer(cmd: DeactivateCustomer, uow: UowFactory, clock: Clock = utc_now) -> Customer:
    with uow() as tx:
        customer = tx.customers.get(cmd.customer_id, for_update=True)
        customer.deactivate(
            reason=cmd.reason,
            expected_version=cmd.expected_version,
            actor=identity.current().user,
            now=clock(),
        )
        tx.customers.save(customer)
        tx.commit()
        return customer


@dataclass(frozen=True)
class ReactivateCustomer:
    customer_id: str
    expected_version: int


def reactivate_customer(cmd: ReactivateCustomer, uow: UowFactory, clock: Clock = utc_now) -> Customer:
    with uow() as tx:
        customer = tx.customers.get(cmd.customer_id, for_update=True)
        customer.reactivate(expected_version=cmd.expected_version, actor=identity.current().user, now=clock())
        tx.customers.save(customer)
        tx.commit()
        return customer


def get_customer(customer_id: str, uow: UowFactory) -> Customer:
    with uow(read_only=True) as tx:
        return tx.customers.get(customer_id)


def tier_history(customer_id: str, uow: UowFactory) -> list[TierChange]:
    with uow(read_only=True) as tx:
        return tx.customers.tier_history(customer_id)


@dataclass(frozen=True)
class ListCustomers:
    query: str = ""  # found in the name, the code or a contact's phone, ignoring case
    code: str = ""  # exactly this code
    active: bool | None = None  # None: active and inactive
    page_size: int = 0  # 0 = 100
    page_token: str = ""


def list_customers(query: ListCustomers, uow: UowFactory) -> tuple[list[Customer], str]:
    with uow(read_only=True) as tx:
        return tx.customers.list(
            query=query.query,
            code=query.code,
            active=query.active,
            page_size=page_size(query.page_size, default=100),
            page_token=query.page_token,
        )
