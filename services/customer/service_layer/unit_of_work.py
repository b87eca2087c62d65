from __future__ import annotations

from services.chassis.uow import UnitOfWork
from services.customer.adapters.repository import CustomerRepository


class CustomerUnitOfWork(UnitOfWork):
    customers: CustomerRepository

    def _open_repositories(self) -> None:
        self.customers = CustomerRepository(self.connection, self.track)
