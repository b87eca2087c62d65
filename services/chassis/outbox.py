"""The outbox relay: moves committed events from a service's own database to the bus.

Rows are read in id order, published with confirms, and only then marked published, in one
transaction. On PostgreSQL, `FOR UPDATE SKIP LOCKED` lets several replicas relay side by side.
A crash after publishing and before marking republishes the batch: consumers are idempotent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine, Table, select, update

from services.chassis.events import Message
from services.chassis.metrics import OUTBOX_LAG, OUTBOX_PUBLISHED, OUTBOX_RELAY_ERRORS

log = logging.getLogger(__name__)


class Publisher(Protocol):
    def publish_batch(self, messages: Sequence[Message]) -> None:
        """Return only when every message is confirmed by the bus; raise otherwise."""


class OutboxRelay:
    def __init__(
        self,
        service: str,
        engine: Engine,
        outbox: Table,
        publisher: Publisher,
        *,
        batch_size: int = 500,
        interval_s: float = 0.2,
        linger_s: float = 0.005,
        housekeeping: Callable[[], object] | None = None,
        housekeeping_every_s: float = 3600,
    ):
        self.service = service
        self._engine = engine
        self._outbox = outbox
        self._publisher = publisher
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._linger_s = linger_s
        self._housekeeping = housekeeping
        self._housekeeping_every_s = housekeeping_every_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def relay_once(self) -> int:
        """Publish one batch; returns how many events left the outbox."""
        t = self._outbox
        query = (
            select(
                t.c.id,
                t.c.event_id,
                t.c.tenant_id,
                t.c.exchange,
                t.c.event_type,
                t.c.body,
                t.c.headers,
                t.c.created_at,
            )
            .where(t.c.published_at.is_(None))
            .order_by(t.c.id)
            .limit(self._batch_size)
        )
        if self._engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        with self._engine.begin() as conn:
            rows = conn.execute(query).all()
            if not rows:
                OUTBOX_LAG.labels(self.service).set(0)
                return 0
            oldest = rows[0].created_at
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            OUTBOX_LAG.labels(self.service).set((datetime.now(UTC) - oldest).total_seconds())
            self._publisher.publish_batch(
                [
                    Message(
                        exchange=r.exchange,
                        routing_key=r.event_type,
                        body=r.body.encode(),
                        message_id=r.event_id,
                        tenant_id=r.tenant_id,
                        headers=json.loads(r.headers),
                    )
                    for r in rows
                ]
            )
            conn.execute(
                update(t).where(t.c.id.in_([r.id for r in rows])).values(published_at=datetime.now(UTC))
            )
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    def drain(self) -> int:
        total = 0
        while n := self.relay_once():
            total += n
        return total

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"{self.service}-outbox-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = self._interval_s
        # Not at start-up (a restart loop would purge on every start): a minute in, then hourly.
        next_housekeeping = time.monotonic() + min(60.0, self._housekeeping_every_s)
        while not self._stop.is_set():
            if self._housekeeping and time.monotonic() >= next_housekeeping:
                next_housekeeping = time.monotonic() + self._housekeeping_every_s
                try:
                    self._housekeeping()
                except Exception:
                    log.exception("%s: housekeeping failed; trying again later", self.service)
            self._wake.clear()  # before reading, so a commit during the read is not missed
            try:
                moved = self.relay_once()
                backoff = self._interval_s
            except Exception:
                OUTBOX_RELAY_ERRORS.labels(self.service).inc()
                log.exception("%s: outbox relay failed; retrying in %.1fs", self.service, backoff)
                moved = 0
                backoff = min(backoff * 2, 10.0)
            if moved < self._batch_size and self._wake.wait(backoff) and self._linger_s:
                # Woken by a commit: let a few more commits land and relay them as one batch
                # (one confirm round trip, one UPDATE) instead of one event at a time.
                time.sleep(self._linger_s)
