"""The outbox relay: moves committed events from a service's own database to the bus.

Rows are read in id order, published with confirms, and only then marked published, in one
transaction. On PostgreSQL, `FOR UPDATE SKIP LOCKED` lets several replicas relay side by side.
A crash after publishing and before marking republishes the batch: consumers are idempotent.

A message the broker refuses (a nack, a channel it closes over that message, a message that
cannot be encoded) is counted against its row; after `max_attempts` the row is *parked*: kept,
with its reason, counted in metrics, and no longer in the way of the rows behind it. A broker
that cannot be reached is nobody's fault but its own: rows wait, the relay backs off.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import BigInteger, Engine, Table, any_, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql

from services.chassis.db import connector
from services.chassis.events import Message
from services.chassis.metrics import (
    OUTBOX_LAG,
    OUTBOX_PARKED,
    OUTBOX_PARKED_NOW,
    OUTBOX_PUBLISHED,
    OUTBOX_RELAY_ERRORS,
)

log = logging.getLogger(__name__)
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")


class Publisher(Protocol):
    def publish_batch(self, messages: Sequence[Message]) -> dict[int, str] | None:
        """Return only when every message is settled by the bus: {index: reason} for those it
        refused (None or {} when it took them all); raise when nothing can be said."""


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
        # Woken by a commit, the relay waits this long for more commits to publish together: at
        # hundreds of creates a second, one pass per ~6 events instead of per 1-2 (each pass is a
        # SELECT, a confirm round trip, an UPDATE and a commit); 20 ms on a 1 s delivery aim.
        linger_s: float = 0.02,
        max_backoff_s: float = 3.0,
        max_attempts: int = 8,
    ):
        self.service = service
        self._engine = engine
        self._outbox = outbox
        self._publisher = publisher
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._linger_s = linger_s
        self._max_backoff_s = max_backoff_s
        self._max_attempts = max_attempts
        # One statement for every batch: on PostgreSQL the ids ride as one array parameter (an
        # IN list of 500 is rendered and converted again for each batch); elsewhere an IN list.
        if engine.dialect.name == "postgresql":
            cond = outbox.c.id == any_(bindparam("ids", type_=postgresql.ARRAY(BigInteger)))
        else:
            cond = outbox.c.id.in_(bindparam("ids", expanding=True))
        self._mark_published = update(outbox).where(cond).values(published_at=bindparam("now"))
        self.refused_last = 0  # messages the broker refused in the last pass
        self._careful = 0  # rows still to relay one at a time, after the broker refused a batch whole
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._read = connector(engine, read_only=True)
        # Computed when Prometheus scrapes, never cached: a relay blocked inside a publish must
        # still show its backlog growing.
        OUTBOX_LAG.labels(service).set_function(self.oldest_unpublished_age)
        OUTBOX_PARKED_NOW.labels(service).set_function(self.parked_count)

    def wake(self) -> None:
        self._wake.set()

    def _pending(self):
        t = self._outbox
        return (t.c.published_at.is_(None), t.c.parked_at.is_(None))

    def relay_once(self) -> int:
        """Publish one batch; returns how many rows it settled (published or parked)."""
        t = self._outbox
        size = 1 if self._careful else self._batch_size
        query = (
            select(
                t.c.id,
                t.c.event_id,
                t.c.tenant_id,
                t.c.exchange,
                t.c.event_type,
                t.c.body,
                t.c.headers,
                t.c.attempts,
            )
            .where(*self._pending())
            .order_by(t.c.id)
            .limit(size)
        )
        if self._engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        with self._engine.begin() as conn:
            if self._engine.dialect.name == "postgresql":
                # Marking rows published need not wait for the disk: if a crash loses the mark,
                # the events are published again and consumers' inboxes drop the copies.
                conn.execute(_ASYNC_COMMIT)
            rows = conn.execute(query).all()
            if not rows:
                self._careful = 0
                self.refused_last = 0
                return 0
            messages = [self._message(r) for r in rows]
            try:
                refused = self._publisher.publish_batch(messages) or {}
            except Exception as exc:
                if getattr(exc, "isolate", False):
                    # The broker refused the batch as a whole: find the message it objects to.
                    self._careful = len(rows)
                raise
            now = datetime.now(UTC)
            sent = [r.id for i, r in enumerate(rows) if i not in refused]
            if sent:
                conn.execute(self._mark_published, {"ids": sent, "now": now})
            for i, reason in refused.items():
                self._refused(conn, rows[i], reason, now)
        if self._careful:
            self._careful = max(self._careful - len(rows), 0)
        self.refused_last = len(refused)
        if sent:
            OUTBOX_PUBLISHED.labels(self.service).inc(len(sent))
        return len(rows)

    def _message(self, row) -> Message:
        return Message(
            exchange=row.exchange,
            routing_key=row.event_type,
            body=row.body.encode(),
            message_id=row.event_id,
            tenant_id=row.tenant_id,
            headers=json.loads(row.headers),
        )

    def _refused(self, conn, row, reason: str, now: datetime) -> None:
        t = self._outbox
        attempts = row.attempts + 1
        parked = attempts >= self._max_attempts
        conn.execute(
            update(t)
            .where(t.c.id == row.id)
            .values(attempts=attempts, last_error=reason[:500], parked_at=now if parked else None)
        )
        if parked:
            OUTBOX_PARKED.labels(self.service).inc()
            log.error(
                "%s: event %s (%s) parked after %d refused publishes: %s",
                self.service,
                row.event_id,
                row.event_type,
                attempts,
                reason,
            )
        else:
            log.warning(
                "%s: broker refused event %s (attempt %d): %s", self.service, row.event_id, attempts, reason
            )

    def drain(self) -> int:
        total = 0
        while n := self.relay_once():
            total += n
        return total

    # Scrape-time figures
    def oldest_unpublished_age(self) -> float:
        t = self._outbox
        oldest = self._scrape(select(func.min(t.c.created_at)).where(*self._pending()))
        if oldest is None:
            return 0.0
        if isinstance(oldest, float):
            return oldest  # NaN: the database is away
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return max((datetime.now(UTC) - oldest).total_seconds(), 0.0)

    def parked_count(self) -> float:
        t = self._outbox
        return float(self._scrape(select(func.count()).where(t.c.parked_at.is_not(None))) or 0)

    def _scrape(self, query):
        """One short read for a metric; NaN when the database is away (the relay-error counter
        says why) rather than a failed scrape."""
        try:
            with self._read() as conn:
                if self._engine.dialect.name == "postgresql":
                    conn.execute(text("SET LOCAL statement_timeout = 2000"))
                return conn.execute(query).scalar()
        except Exception:
            return math.nan

    # The relay thread
    def _backoff(self, failures: int) -> float:
        return min(self._interval_s * 2**failures, self._max_backoff_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"{self.service}-outbox-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._wake.clear()  # before reading, so a commit during the read is not missed
            try:
                moved = self.relay_once()
            except Exception as exc:
                failures += 1
                OUTBOX_RELAY_ERRORS.labels(self.service).inc()
                delay = self._backoff(failures)
                # One line per failure; the traceback once per outage, not forty times a second.
                log.warning(
                    "%s: outbox relay failed (%d in a row): %s; retrying in %.1fs",
                    self.service,
                    failures,
                    exc,
                    delay,
                    exc_info=failures == 1,
                )
                # Commits do not cut a back-off short: only stopping does.
                self._stop.wait(delay)
                continue
            if self.refused_last:
                # Refused messages were counted against their rows; give the broker time before
                # asking again (a full queue drains, a policy is fixed) rather than spending
                # their attempts in a second.
                failures += 1
                self._stop.wait(self._backoff(failures))
                continue
            if failures:
                log.info("%s: outbox relay recovered after %d failed attempts", self.service, failures)
                failures = 0
            if moved >= (1 if self._careful else self._batch_size) or self._careful:
                continue
            if moved == 0:
                keepalive = getattr(self._publisher, "keepalive", None)
                if keepalive is not None:
                    keepalive()
            if self._wake.wait(self._interval_s) and self._linger_s:
                # Woken by a commit: let a few more commits land and relay them as one batch
                # (one confirm round trip, one UPDATE) instead of one event at a time.
                time.sleep(self._linger_s)


@dataclass(frozen=True)
class ParkedEvent:
    event_id: str
    event_type: str
    parked_at: datetime
    attempts: int
    last_error: str


def list_parked(engine: Engine, outbox: Table, limit: int = 500) -> list[ParkedEvent]:
    t = outbox
    query = (
        select(t.c.event_id, t.c.event_type, t.c.parked_at, t.c.attempts, t.c.last_error)
        .where(t.c.parked_at.is_not(None), t.c.published_at.is_(None))
        .order_by(t.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            ParkedEvent(r.event_id, r.event_type, r.parked_at, r.attempts, r.last_error or "")
            for r in conn.execute(query)
        ]


def release_parked(engine: Engine, outbox: Table, event_ids: list[str] | None = None) -> int:
    """Give parked events (all, or those named) a fresh set of attempts; returns how many."""
    t = outbox
    query = update(t).where(t.c.parked_at.is_not(None), t.c.published_at.is_(None))
    if event_ids is not None:
        query = query.where(t.c.event_id.in_(event_ids))
    with engine.begin() as conn:
        return conn.execute(query.values(parked_at=None, attempts=0)).rowcount
