"""Housekeeping removes only what has served its time: published events past the outbox
retention, inbox marks past the inbox retention. Unpublished events are never touched."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, create_engine, insert, select

from services.chassis.housekeeping import Retention, purge_expired
from services.chassis.tables import add_chassis_tables

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def test_purges_only_expired_published_events_and_old_inbox_marks(fresh_database):
    metadata = MetaData()
    add_chassis_tables(metadata)
    engine = create_engine(fresh_database("housekeeping"))
    metadata.create_all(engine)
    outbox, inbox = metadata.tables["outbox"], metadata.tables["inbox"]

    def event(label: str, published_days_ago: float | None, created_days_ago: float = 40) -> dict:
        published = None if published_days_ago is None else NOW - timedelta(days=published_days_ago)
        return dict(
            event_id=str(uuid.uuid4()),
            tenant_id="hardware",
            exchange="order.events",
            event_type=label,
            body="{}",
            headers="{}",
            created_at=NOW - timedelta(days=created_days_ago),
            published_at=published,
        )

    with engine.begin() as conn:
        conn.execute(
            insert(outbox),
            [
                event("sent_long_ago", 8),
                event("sent_yesterday", 1),
                event("never_sent", None, created_days_ago=90),
            ],
        )
        conn.execute(insert(outbox), [event("sent_long_ago", 9 + i) for i in range(11)])
        conn.execute(
            insert(inbox),
            [
                dict(
                    consumer="production.create_work_orders",
                    event_id=str(uuid.uuid4()),
                    processed_at=NOW - timedelta(days=d),
                )
                for d in (31, 29)
            ],
        )

    # small batches: the purge goes on until nothing expired is left
    assert purge_expired(engine, metadata, Retention(outbox_days=7, inbox_days=30), now=NOW, batch=5) == (
        12,
        1,
    )
    assert purge_expired(engine, metadata, Retention(outbox_days=7, inbox_days=30), now=NOW) == (0, 0)
    with engine.connect() as conn:
        left = sorted(conn.execute(select(outbox.c.event_type)).scalars())
        marks = conn.execute(select(inbox.c.processed_at)).scalars().all()
    assert left == ["never_sent", "sent_yesterday"]
    assert len(marks) == 1 and marks[0] > NOW - timedelta(days=30)
    engine.dispose()
