"""Phone-form intakes and their attachments, of the caller's tenant."""

from __future__ import annotations

import json

from sqlalchemy import Connection, insert, select

from services.chassis import identity
from services.chassis.db import insert_for
from services.chassis.errors import NotFound
from services.chassis.scoping import scoped
from services.ingest.adapters.market_store import dumps
from services.ingest.adapters.tables import attachments, intakes
from services.ingest.domain.model import Attachment, Intake, StoredAttachment


class IntakeRepository:
    def __init__(self, db: Connection, track=None):
        self._db = db

    def find(self, key: str) -> Intake | None:
        r = self._db.execute(scoped(select(intakes).where(intakes.c.idempotency_key == key), intakes)).first()
        if r is None:
            return None
        location = (r.latitude, r.longitude, r.accuracy_m or 0.0) if r.latitude is not None else None
        return Intake(
            r.idempotency_key,
            r.channel,
            r.order_id,
            r.order_no,
            r.received_by,
            r.received_at,
            [StoredAttachment(**x) for x in json.loads(r.attachments)],
            r.signed_at,
            location,
        )

    def add(self, i: Intake) -> None:
        latitude, longitude, accuracy = i.location or (None, None, None)
        self._db.execute(
            insert(intakes).values(
                tenant_id=identity.current().tenant_id,
                idempotency_key=i.idempotency_key,
                channel=i.channel,
                order_id=i.order_id,
                order_no=i.order_no,
                received_by=i.received_by,
                received_at=i.received_at,
                signed_at=i.signed_at,
                latitude=latitude,
                longitude=longitude,
                accuracy_m=accuracy,
                attachments=dumps([vars(x) for x in i.attachments]),
            )
        )

    def store_attachment(self, a: Attachment, now) -> None:
        self._db.execute(
            insert_for(self._db, attachments)
            .values(
                tenant_id=identity.current().tenant_id,
                sha256=a.sha256,
                content_type=a.content_type,
                size=len(a.data),
                data=a.data,
                stored_at=now,
            )
            .on_conflict_do_nothing()
        )

    def attachment(self, sha256: str) -> tuple[str, bytes]:
        t = attachments
        r = self._db.execute(
            scoped(select(t.c.content_type, t.c.data).where(t.c.sha256 == sha256), t)
        ).first()
        if r is None:
            raise NotFound(f"attachment {sha256} not found")
        return r.content_type, bytes(r.data)
