"""Notifications of the caller's tenant."""

from __future__ import annotations

from sqlalchemy import Connection, and_, insert, or_, select

from services.chassis import identity
from services.chassis.paging import decode_token, instant_part, keyset_page, uuid_part
from services.chassis.scoping import scoped
from services.notify.adapters.tables import notifications
from services.notify.domain.model import Notification

_INSERT = insert(notifications)


class NotificationRepository:
    def __init__(self, db: Connection, track):
        self._db = db

    def add(self, n: Notification) -> None:
        self._db.execute(
            _INSERT,  # built once: every work order adds one (statement cache hits)
            dict(
                notification_id=n.notification_id,
                tenant_id=identity.current().tenant_id,
                recipient=n.recipient,
                recipient_role=n.recipient_role,
                subject=n.subject,
                body=n.body,
                event_id=n.event_id,
                reference=n.reference,
                created_at=n.created_at,
                kind=n.kind,
                order_no=n.order_no,
                urgent=n.urgent,
                routed=False,
            ),
        )

    # Last in the class: a method named `list` shadows the builtin in annotations below it.
    def list(
        self, *, reference: str = "", recipient: str = "", page_size: int, page_token: str = ""
    ) -> tuple[list[Notification], str]:
        """One keyset page, newest first: (created_at desc, notification_id desc)."""
        query = scoped(select(notifications), notifications)
        if reference:
            query = query.where(notifications.c.reference == reference)
        if recipient:
            query = query.where(notifications.c.recipient == recipient)
        if page_token:
            created, after_id = decode_token(page_token, instant_part, uuid_part)
            query = query.where(
                or_(
                    notifications.c.created_at < created,
                    and_(notifications.c.created_at == created, notifications.c.notification_id < after_id),
                )
            )
        rows = self._db.execute(
            query.order_by(notifications.c.created_at.desc(), notifications.c.notification_id.desc()).limit(
                page_size + 1
            )
        ).all()
        rows, token = keyset_page(rows, page_size, lambda r: (r.created_at.isoformat(), r.notification_id))
        found = [
            Notification(
                r.notification_id,
                r.recipient,
                r.recipient_role,
                r.subject,
                r.body,
                r.event_id,
                r.reference,
                r.created_at,
                r.kind,
                r.order_no,
                r.urgent,
            )
            for r in rows
        ]
        return found, token
