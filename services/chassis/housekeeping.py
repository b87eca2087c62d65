"""Keeps the outbox and inbox from growing without end.

Published events stay in the outbox for a while (to replay or audit what left the service);
processed-event marks stay in the inbox far longer than any redelivery can arrive (retries back
off for minutes, not days), so dropping them cannot let a duplicate through.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, MetaData, delete

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retention:
    outbox_days: float = 7.0
    inbox_days: float = 30.0


def purge_expired(
    engine: Engine, metadata: MetaData, retention: Retention, now: datetime | None = None
) -> tuple[int, int]:
    """Delete published outbox rows and inbox marks past their retention; returns the counts."""
    now = now or datetime.now(UTC)
    outbox, inbox = metadata.tables["outbox"], metadata.tables["inbox"]
    with engine.begin() as conn:
        sent = conn.execute(
            delete(outbox).where(
                outbox.c.published_at.is_not(None),
                outbox.c.published_at < now - timedelta(days=retention.outbox_days),
            )
        ).rowcount
        seen = conn.execute(
            delete(inbox).where(inbox.c.processed_at < now - timedelta(days=retention.inbox_days))
        ).rowcount
    if sent or seen:
        log.info("housekeeping: purged %d published events and %d inbox marks", sent, seen)
    return sent, seen
