from __future__ import annotations

from services.chassis.uow import UnitOfWork
from services.production.adapters.repository import WorkOrderRepository


class ProductionUnitOfWork(UnitOfWork):
    work_orders: WorkOrderRepository

    def _open_repositories(self) -> None:
        self.work_orders = WorkOrderRepository(self.connection, self.track)
