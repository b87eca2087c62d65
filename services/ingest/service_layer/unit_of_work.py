from __future__ import annotations

from services.chassis.uow import UnitOfWork
from services.ingest.adapters.market_store import MarketStore
from services.ingest.adapters.repository import IntakeRepository
from services.ingest.adapters.review_store import ReviewStore, RunStore
from services.ingest.adapters.upload_store import UploadStore


class IngestUnitOfWork(UnitOfWork):
    intakes: IntakeRepository
    market: MarketStore
    review: ReviewStore
    runs: RunStore
    uploads: UploadStore

    def _open_repositories(self) -> None:
        self.intakes = IntakeRepository(self.connection, self.track)
        self.market = MarketStore(self.connection)
        self.review = ReviewStore(self.connection, self.record)
        self.runs = RunStore(self.connection)
        self.uploads = UploadStore(self.connection)
