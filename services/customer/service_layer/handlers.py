"""Customer use cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from services.chassis.errors import AlreadyExists, Duplicate
from services.chassis.paging import page_size
from services.chassis.uow import UowFactory as UowFactoryOf
from services.customer.domain.model import Customer, TierThresholds
from services.customer.service_layer.unit_of_work import CustomerUnitOfWork

UowFactory = UowFactoryOf[CustomerUnitOfWork]  # uow() or uow(read_only=True)


@dataclass(frozen=True)
class RegisterCustomer:
    code: str
    name: str
    years_of_cooperation: int
    yearly_purchases_cny: int
    sales_owner: str


def register_customer(cmd: RegisterCustomer, uow: UowFactory, thresholds: TierThresholds) -> Customer:
    try:
        with uow() as tx:
            if tx.customers.find_by_code(cmd.code):
                raise AlreadyExists(f"customer code {cmd.code} is taken")
            customer = Customer.register(
                customer_id=str(uuid.uuid4()),
                code=cmd.code,
                name=cmd.name,
                years_of_cooperation=cmd.years_of_cooperation,
                yearly_purchases_cny=cmd.yearly_purchases_cny,
                sales_owner=cmd.sales_owner,
                thresholds=thresholds,
                now=datetime.now(UTC),
            )
            tx.customers.add(customer)
            tx.commit()
            return customer
    except Duplicate:
        raise AlreadyExists(f"customer code {cmd.code} is taken") from None


def get_customer(customer_id: str, uow: UowFactory) -> Customer:
    with uow(read_only=True) as tx:
        return tx.customers.get(customer_id)


@dataclass(frozen=True)
class ListCustomers:
    query: str = ""  # found anywhere in the name or the code, ignoring case
    code: str = ""  # exactly this code
    page_size: int = 0  # 0 = 100
    page_token: str = ""


def list_customers(query: ListCustomers, uow: UowFactory) -> tuple[list[Customer], str]:
    with uow(read_only=True) as tx:
        return tx.customers.list(
            query=query.query,
            code=query.code,
            page_size=page_size(query.page_size, default=100),
            page_token=query.page_token,
        )
