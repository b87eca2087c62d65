"""Intakes of the caller's tenant."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from services.chassis import identity
from services.chassis.scoping import scoped
from services.ingest.adapters.tables import intakes
from services.ingest.domain.model import Intake


class IntakeRepository:
    def __init__(self, db: Connection, track):
        self._db = db

    def find(self, key: str) -> Intake | None:
        r = self._db.execute(scoped(select(intakes).where(intakes.c.idempotency_key == key), intakes)).first()
        return (
            Intake(r.idempotency_key, r.channel, r.order_id, r.order_no, r.received_by, r.received_at)
            if r
            else None
        )

    def add(self, i: Intake) -> None:
        self._db.execute(
            insert(intakes).values(
                tenant_id=identity.current().tenant_id,
                idempotency_key=i.idempotency_key,
                channel=i.channel,
                order_id=i.order_id,
                order_no=i.order_no,
                received_by=i.received_by,
                received_at=i.received_at,
            )
        )
