"""Keeps the outbox and inbox from growing without end.

Published events stay in the outbox for a while (to replay or audit what left the service);
processed-event marks stay in the inbox far longer than any redelivery can arrive (retries back
off for minutes, not days), so dropping them cannot let a duplicate through.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, MetaData, Table, delete, select, tuple_

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retention:
    outbox_days: float = 7.0
    inbox_days: float = 30.0


def purge_expired(
    engine: Engine,
    metadata: MetaData,
    retention: Retention,
    now: datetime | None = None,
    *,
    batch: int = 5000,
) -> tuple[int, int]:
    """Delete published outbox rows and inbox marks past their retention, a batch per short
    transaction (on SQLite each holds the write lock), oldest first; returns the counts."""
    now = now or datetime.now(UTC)
    outbox, inbox = metadata.tables["outbox"], metadata.tables["inbox"]
    sent = _purge(
        engine,
        outbox,
        [outbox.c.id],
        outbox.c.published_at.is_not(None),
        outbox.c.published_at < now - timedelta(days=retention.outbox_days),
        batch=batch,
    )
    seen = _purge(
        engine,
        inbox,
        [inbox.c.consumer, inbox.c.event_id],
        inbox.c.processed_at < now - timedelta(days=retention.inbox_days),
        batch=batch,
    )
    if sent or seen:
        log.info("housekeeping: purged %d published events and %d inbox marks", sent, seen)
    return sent, seen


def _purge(engine: Engine, table: Table, key: list, *conditions, batch: int) -> int:
    total = 0
    while True:
        with engine.begin() as conn:
            keys = conn.execute(select(*key).where(*conditions).limit(batch)).all()
            if not keys:
                return total
            conn.execute(
                delete(table).where(tuple_(*key).in_(keys))
                if len(key) > 1
                else delete(table).where(key[0].in_([k[0] for k in keys]))
            )
        total += len(keys)
        if len(keys) < batch:
            return total
