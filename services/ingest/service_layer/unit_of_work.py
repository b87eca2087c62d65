from __future__ import annotations

from services.chassis.uow import UnitOfWork
from services.ingest.adapters.repository import IntakeRepository


class IngestUnitOfWork(UnitOfWork):
    intakes: IntakeRepository

    def _open_repositories(self) -> None:
        self.intakes = IntakeRepository(self.connection, self.track)
