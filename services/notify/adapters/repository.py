"""Notifications of the caller's tenant."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from services.chassis import identity
from services.chassis.scoping import scoped
from services.notify.adapters.tables import notifications
from services.notify.domain.model import Notification


class NotificationRepository:
    def __init__(self, db: Connection, track):
        self._db = db

    def add(self, n: Notification) -> None:
        self._db.execute(
            insert(notifications).values(
                notification_id=n.notification_id,
                tenant_id=identity.current().tenant_id,
                recipient=n.recipient,
                recipient_role=n.recipient_role,
                subject=n.subject,
                body=n.body,
                event_id=n.event_id,
                reference=n.reference,
                created_at=n.created_at,
            )
        )

    def list(self, reference: str, limit: int) -> list[Notification]:
        query = scoped(select(notifications), notifications)
        if reference:
            query = query.where(notifications.c.reference == reference)
        rows = self._db.execute(query.order_by(notifications.c.created_at.desc()).limit(limit))
        return [
            Notification(
                r.notification_id,
                r.recipient,
                r.recipient_role,
                r.subject,
                r.body,
                r.event_id,
                r.reference,
                r.created_at,
            )
            for r in rows
        ]
