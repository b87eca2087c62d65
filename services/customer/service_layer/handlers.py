"""Customer use cases."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.chassis.errors import AlreadyExists, Duplicate
from services.customer.domain.model import Customer, TierThresholds
from services.customer.service_layer.unit_of_work import CustomerUnitOfWork

UowFactory = Callable[[], CustomerUnitOfWork]


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


def list_customers(limit: int, uow: UowFactory) -> list[Customer]:
    with uow(read_only=True) as tx:
        return tx.customers.list(limit or 100)
