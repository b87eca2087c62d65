from __future__ import annotations

from services.chassis.uow import UnitOfWork
from services.order.adapters.after_sales import AfterSalesRepository
from services.order.adapters.changes import ChangeRepository
from services.order.adapters.progress import ProgressRepository
from services.order.adapters.repository import OrderRepository


class OrderUnitOfWork(UnitOfWork):
    orders: OrderRepository
    changes: ChangeRepository
    after_sales: AfterSalesRepository
    progress: ProgressRepository

    def _open_repositories(self) -> None:
        self.orders = OrderRepository(self.connection, self.track)
        self.changes = ChangeRepository(self.connection)
        self.after_sales = AfterSalesRepository(self.connection, self.track)
        self.progress = ProgressRepository(self.connection)
