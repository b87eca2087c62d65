"""The delivery log of the caller's tenant: notices waiting to be routed, deliveries due, their
attempts, and the log as people query it (by order, work order, recipient, channel, state)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, or_, select, update

from services.chassis import identity
from services.chassis.db import insert_for
from services.chassis.paging import decode_token, instant_part, keyset_page, uuid_part
from services.chassis.scoping import scoped
from services.chassis.text import one_line
from services.notify.adapters.tables import deliveries, delivery_attempts, notifications

STATES = ("pending", "sent", "rejected", "failed", "undeliverable")
INT32 = 2**31 - 1


def clean_text(text: str, limit: int = 300) -> str:
    """A platform's answer as the log keeps it: no NUL or other control characters (PostgreSQL
    refuses NUL in text; a line break in a log cell misleads), at most `limit` characters."""
    return one_line(text)[:limit]


def int32_or_none(value: object) -> int | None:
    """A status or answer code the log can hold (a platform may answer any number)."""
    return value if isinstance(value, int) and -INT32 - 1 <= value <= INT32 else None


@dataclass(frozen=True)
class Unrouted:
    notification_id: str
    recipient: str
    kind: str
    reference: str
    order_no: str
    subject: str
    urgent: bool


@dataclass(frozen=True)
class Due:
    """A delivery claimed for one try, with what its message says."""

    delivery_id: str
    notification_id: str
    recipient: str
    channel: str
    kind: str
    reference: str
    subject: str
    body: str
    urgent: bool
    attempts: int  # tries before this one


@dataclass(frozen=True)
class AttemptRow:
    attempt: int
    outcome: str
    detail: str
    status: int | None
    code: int | None
    at: datetime
    duration_ms: int


@dataclass(frozen=True)
class DeliveryRecord:
    delivery_id: str
    notification_id: str
    recipient: str
    channel: str
    kind: str
    reference: str
    order_no: str
    subject: str
    urgent: bool
    state: str
    attempts: int
    next_attempt_at: datetime
    held_reason: str
    detail: str
    created_at: datetime
    finished_at: datetime | None
    tries: tuple[AttemptRow, ...] = ()


class DeliveryStore:
    def __init__(self, db: Connection):
        self._db = db

    # Routing: notices become deliveries.

    def unrouted(self, limit: int) -> list[Unrouted]:
        n = notifications
        rows = self._db.execute(
            scoped(select(n), n)
            .where(n.c.routed.is_(False))
            .order_by(n.c.created_at, n.c.notification_id)
            .limit(limit)
        ).all()
        return [
            Unrouted(r.notification_id, r.recipient, r.kind, r.reference, r.order_no, r.subject, r.urgent)
            for r in rows
        ]

    def route(
        self,
        notice: Unrouted,
        channels: dict[str, tuple[str, str]],  # channel -> (state, detail)
        not_before: datetime,
        held_reason: str,
        now: datetime,
    ) -> int:
        """The notice's deliveries (once per channel: a repeated routing adds none), and the
        notice marked routed. Returns how many deliveries went in."""
        tenant = identity.current().tenant_id
        added = 0
        for channel, (state, detail) in channels.items():
            row = self._db.execute(
                insert_for(self._db, deliveries)
                .values(
                    delivery_id=str(uuid.uuid5(uuid.UUID(notice.notification_id), channel)),
                    tenant_id=tenant,
                    notification_id=notice.notification_id,
                    recipient=notice.recipient,
                    channel=channel,
                    kind=notice.kind,
                    reference=notice.reference,
                    order_no=notice.order_no,
                    subject=notice.subject,
                    urgent=notice.urgent,
                    state=state,
                    next_attempt_at=not_before,
                    held_reason=held_reason if state == "pending" else "",
                    detail=clean_text(detail),
                    created_at=now,
                    finished_at=None if state == "pending" else now,
                )
                .on_conflict_do_nothing()
                .returning(deliveries.c.delivery_id)
            ).first()
            added += row is not None
        self._db.execute(
            update(notifications)
            .where(
                notifications.c.tenant_id == tenant, notifications.c.notification_id == notice.notification_id
            )
            .values(routed=True)
        )
        return added

    # Sending: claim what is due, then record each try.

    def claim_due(
        self, now: datetime, lease_s: float, claim_id: str, limit: int, per_channel: int
    ) -> list[Due]:
        """Take up to `limit` due deliveries, at most `per_channel` of any one channel (a channel
        that is down never crowds out the others), for `lease_s` seconds under `claim_id`: another
        dispatcher skips them meanwhile (one guarded UPDATE per row: of two claimers exactly one
        wins a row, on PostgreSQL as on SQLite)."""
        d, n = deliveries, notifications
        tenant = identity.current().tenant_id
        free = or_(d.c.claimed_until.is_(None), d.c.claimed_until <= now)
        rows = self._db.execute(
            select(d.c.delivery_id, d.c.channel)
            .where(d.c.tenant_id == tenant, d.c.state == "pending", d.c.next_attempt_at <= now, free)
            .order_by(d.c.next_attempt_at, d.c.delivery_id)  # one order for every claimer
            .limit(limit * 10)
        ).all()
        taken: dict[str, int] = {}
        candidates: list[str] = []
        for row in rows:
            if taken.get(row.channel, 0) < per_channel and len(candidates) < limit:
                taken[row.channel] = taken.get(row.channel, 0) + 1
                candidates.append(row.delivery_id)
        until = now + timedelta(seconds=lease_s)
        won = []
        for delivery_id in candidates:
            claimed = self._db.execute(
                update(d)
                .where(d.c.tenant_id == tenant, d.c.delivery_id == delivery_id, d.c.state == "pending", free)
                .values(claimed_until=until, claim_id=claim_id)
            )
            if claimed.rowcount == 1:
                won.append(delivery_id)
        if not won:
            return []
        found = self._db.execute(
            select(d, n.c.body)
            .join(n, and_(n.c.notification_id == d.c.notification_id, n.c.tenant_id == d.c.tenant_id))
            .where(d.c.tenant_id == tenant, d.c.claim_id == claim_id, d.c.delivery_id.in_(won))
            .order_by(d.c.next_attempt_at, d.c.delivery_id)
        ).all()
        return [
            Due(
                r.delivery_id,
                r.notification_id,
                r.recipient,
                r.channel,
                r.kind,
                r.reference,
                r.subject,
                r.body,
                r.urgent,
                r.attempts,
            )
            for r in found
        ]

    def record(
        self,
        delivery_id: str,
        claim_id: str,
        attempt: AttemptRow,
        state: str,
        next_attempt_at: datetime | None,
        held_reason: str = "",
    ) -> bool:
        """One try and the delivery's state after it (pending with its next try, or final), if
        this round still holds the delivery; False when it does not (nothing is written)."""
        tenant = identity.current().tenant_id
        d = deliveries
        values: dict = dict(
            attempts=attempt.attempt,
            detail=clean_text(attempt.detail),
            claimed_until=None,
            claim_id=None,
            state=state,
            held_reason=held_reason,
        )
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        if state != "pending":
            values["finished_at"] = attempt.at
        held = self._db.execute(
            update(d)
            .where(d.c.tenant_id == tenant, d.c.delivery_id == delivery_id, d.c.claim_id == claim_id)
            .values(**values)
            .returning(d.c.delivery_id)
        ).first()
        if held is None:
            return False
        self._db.execute(
            insert_for(self._db, delivery_attempts)
            .values(
                delivery_id=delivery_id,
                attempt=attempt.attempt,
                tenant_id=tenant,
                outcome=attempt.outcome,
                detail=clean_text(attempt.detail),
                status=int32_or_none(attempt.status),
                code=int32_or_none(attempt.code),
                at=attempt.at,
                duration_ms=max(0, min(attempt.duration_ms, 2**31 - 1)),
            )
            .on_conflict_do_nothing()
        )
        return True

    def release(
        self,
        delivery_ids: list[str],
        claim_id: str,
        next_attempt_at: datetime | None = None,
        held_reason: str = "",
    ) -> None:
        """Claimed but not tried this round: free at once, or from `next_attempt_at` (a channel
        found down, quiet hours)."""
        if not delivery_ids:
            return
        d = deliveries
        values: dict = dict(claimed_until=None, claim_id=None)
        if next_attempt_at is not None:
            values.update(next_attempt_at=next_attempt_at, held_reason=held_reason)
        self._db.execute(
            update(d)
            .where(
                d.c.tenant_id == identity.current().tenant_id,
                d.c.delivery_id.in_(delivery_ids),
                d.c.claim_id == claim_id,
            )
            .values(**values)
        )

    # The log as people read it.

    def page(
        self,
        *,
        order_no: str = "",
        reference: str = "",
        recipient: str = "",
        channel: str = "",
        state: str = "",
        page_size: int,
        page_token: str = "",
    ) -> tuple[list[DeliveryRecord], str]:
        """Newest first (created_at desc, delivery_id desc), each with its tries."""
        d = deliveries
        query = scoped(select(d), d)
        for column, value in (
            (d.c.order_no, order_no),
            (d.c.reference, reference),
            (d.c.recipient, recipient),
            (d.c.channel, channel),
            (d.c.state, state),
        ):
            if value:
                query = query.where(column == value)
        if page_token:
            created, after_id = decode_token(page_token, instant_part, uuid_part)
            query = query.where(
                or_(d.c.created_at < created, and_(d.c.created_at == created, d.c.delivery_id < after_id))
            )
        rows = self._db.execute(
            query.order_by(d.c.created_at.desc(), d.c.delivery_id.desc()).limit(page_size + 1)
        ).all()
        rows, token = keyset_page(rows, page_size, lambda r: (r.created_at.isoformat(), r.delivery_id))
        tries: dict[str, list[AttemptRow]] = {}
        if rows:
            a = delivery_attempts
            for t in self._db.execute(
                select(a)
                .where(
                    a.c.tenant_id == identity.current().tenant_id,
                    a.c.delivery_id.in_([r.delivery_id for r in rows]),
                )
                .order_by(a.c.attempt)
            ):
                tries.setdefault(t.delivery_id, []).append(
                    AttemptRow(t.attempt, t.outcome, t.detail, t.status, t.code, t.at, t.duration_ms)
                )
        found = [
            DeliveryRecord(
                r.delivery_id,
                r.notification_id,
                r.recipient,
                r.channel,
                r.kind,
                r.reference,
                r.order_no,
                r.subject,
                r.urgent,
                r.state,
                r.attempts,
                r.next_attempt_at,
                r.held_reason,
                r.detail,
                r.created_at,
                r.finished_at,
                tuple(tries.get(r.delivery_id, ())),
            )
            for r in rows
        ]
        return found, token
