from __future__ import annotations

from services.chassis.uow import UnitOfWork
from services.production.adapters.batches import BatchRepository
from services.production.adapters.board import BoardQueries
from services.production.adapters.repository import WorkOrderRepository


class ProductionUnitOfWork(UnitOfWork):
    work_orders: WorkOrderRepository
    batches: BatchRepository
    board: BoardQueries

    def _open_repositories(self) -> None:
        self.work_orders = WorkOrderRepository(self.connection, self.track)
        self.batches = BatchRepository(self.connection, self.track)
        self.board = BoardQueries(self.connection)
