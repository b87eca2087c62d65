from __future__ import annotations

from services.chassis.uow import UnitOfWork
from services.inventory.adapters.ledger import BalanceRepository, ReservationRepository
from services.inventory.adapters.repository import StockRepository


class InventoryUnitOfWork(UnitOfWork):
    stock: StockRepository
    balances: BalanceRepository
    reservations: ReservationRepository

    def _open_repositories(self) -> None:
        self.stock = StockRepository(self.connection, self.track)
        self.balances = BalanceRepository(self.connection)
        self.reservations = ReservationRepository(self.connection, self.track)
