from __future__ import annotations

from services.chassis.uow import UnitOfWork
from services.customer.adapters.prices import ContractPriceRepository
from services.customer.adapters.purchases import PurchaseRepository
from services.customer.adapters.repository import CustomerRepository


class CustomerUnitOfWork(UnitOfWork):
    customers: CustomerRepository
    purchases: PurchaseRepository
    prices: ContractPriceRepository

    def _open_repositories(self) -> None:
        self.customers = CustomerRepository(self.connection, self.track)
        self.purchases = PurchaseRepository(self.connection)
        self.prices = ContractPriceRepository(self.connection)
