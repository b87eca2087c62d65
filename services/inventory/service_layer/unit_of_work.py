from __future__ import annotations

from services.chassis.uow import UnitOfWork
from services.inventory.adapters.repository import StockRepository


class InventoryUnitOfWork(UnitOfWork):
    stock: StockRepository

    def _open_repositories(self) -> None:
        self.stock = StockRepository(self.connection, self.track)
