from __future__ import annotations

from services.chassis.uow import UnitOfWork
from services.order.adapters.repository import OrderRepository


class OrderUnitOfWork(UnitOfWork):
    orders: OrderRepository

    def _open_repositories(self) -> None:
        self.orders = OrderRepository(self.connection, self.track)
