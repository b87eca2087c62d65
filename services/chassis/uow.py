"""Unit of work: one transaction in which aggregate changes, the events they recorded (outbox)
and, for consumers, the processed-event mark (inbox) commit together or not at all."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, Self, TypeVar

from sqlalchemy import Connection, Executable, MetaData, Table, insert
from sqlalchemy.dialects import postgresql, sqlite

from services.chassis import identity
from services.chassis.events import DomainEvent, EventCodec
from services.chassis.telemetry import current_trace_headers


class RecordsEvents(Protocol):
    events: list[DomainEvent]


U = TypeVar("U", bound="UnitOfWork", covariant=True)


class UowFactory(Protocol[U]):
    """What handlers are given: `uow()` opens a unit of work for a business transaction,
    `uow(read_only=True)` one for reads (it never commits)."""

    def __call__(self, read_only: bool = False) -> U: ...


class UnitOfWork:
    """Services subclass this and add their repositories in `_open_repositories`."""

    connection: Connection

    def __init__(
        self,
        connect: Callable[[], Connection],
        metadata: MetaData,
        codec: EventCodec,
        on_commit: Callable[[], None] = lambda: None,
        *,
        read_only: bool = False,
    ):
        self.read_only = read_only
        self._connect = connect
        self._outbox = metadata.tables["outbox"]
        self._inbox = metadata.tables["inbox"]
        self._versions = metadata.tables["applied_versions"]
        self._codec = codec
        self._on_commit = on_commit

    def __enter__(self) -> Self:
        # SQLAlchemy 2 "commit as you go": the transaction begins at the first statement.
        self.connection = self._connect()
        self._seen: list[RecordsEvents] = []
        self._events: list[DomainEvent] = []
        self._traces: dict[int, dict[str, str]] = {}  # id(event) -> trace context it was made in
        self._wrote_events = False  # by write_events_now, before commit
        self._open_repositories()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.connection.rollback()
        self.connection.close()

    def _open_repositories(self) -> None:
        """Hook: create repositories bound to `self.connection`."""

    def track(self, aggregate: RecordsEvents) -> None:
        """Repositories call this for every aggregate they hand out or add."""
        self._seen.append(aggregate)

    def record(self, event: DomainEvent) -> None:
        """For events that belong to no aggregate (e.g. from a consumer)."""
        self._events.append(event)

    def capture_trace(self) -> None:
        """Remember the current trace context for the events recorded so far: a consumer that
        handles several events in one transaction calls this inside each event's span, so each
        event it causes carries its own cause's trace, not whatever is current at commit."""
        headers = current_trace_headers()
        for event in [*self._events, *(e for a in self._seen for e in a.events)]:
            self._traces.setdefault(id(event), headers)

    def write_events_now(self) -> None:
        """Write the events recorded so far to the outbox now rather than at commit (they commit
        or roll back with the transaction all the same): a handler that takes a hot row's lock
        last (inventory's guarded UPDATE on a material) writes its events first, so that only
        the commit follows the lock."""
        if self._take_events():
            self._wrote_events = True

    def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("commit in a read-only unit of work: open it with read_only=False")
        wrote = self._take_events() or self._wrote_events
        self._wrote_events = False
        self.connection.commit()
        if wrote:
            self._on_commit()  # the relay is woken

    def _take_events(self) -> bool:
        """Move every event recorded so far (the unit's own and its aggregates') to the outbox."""
        events = list(self._events)
        for aggregate in self._seen:
            events.extend(aggregate.events)
            aggregate.events.clear()
        self._events.clear()
        if events:
            self._write_outbox(events)
        return bool(events)

    def rollback(self) -> None:
        self.connection.rollback()

    def _write_outbox(self, events: list[DomainEvent]) -> None:
        tenant = identity.current().tenant_id
        headers = current_trace_headers()
        now = datetime.now(UTC)
        rows = []
        for event in events:
            msg = self._codec.encode(event, tenant, self._traces.get(id(event), headers))
            rows.append(
                dict(
                    event_id=msg.message_id,
                    tenant_id=tenant,
                    exchange=msg.exchange,
                    event_type=msg.routing_key,
                    body=msg.body.decode(),
                    headers=json.dumps(msg.headers),
                    created_at=now,
                )
            )
        self.connection.execute(insert(self._outbox), rows)

    # inbox: consumers' idempotency
    def claim(self, consumer: str, event_id: str) -> bool:
        """Mark the event processed in this transaction, first thing: False if it already is (one
        statement instead of a look-up and an insert; a concurrent delivery of the same event
        waits on the row and then finds it). Rolling back releases the claim."""
        stmt = _claim_statement(self.connection.dialect.name, self._inbox)
        params = {"consumer": consumer, "event_id": event_id, "processed_at": datetime.now(UTC)}
        return self.connection.execute(stmt, params).first() is not None

    # applied versions: consumers that apply an aggregate's state, newest version wins
    def apply_version(self, consumer: str, aggregate_id: str, version: int) -> bool:
        """Record `version` as applied unless a newer or equal one is (False then): one guarded
        upsert, so two replicas applying two versions at once cannot both win."""
        stmt = _apply_version_statement(self.connection.dialect.name, self._versions)
        params = {
            "consumer": consumer,
            "tenant_id": identity.current().tenant_id,
            "aggregate_id": aggregate_id,
            "version": version,
            "applied_at": datetime.now(UTC),
        }
        return self.connection.execute(stmt, params).first() is not None


# Built once per dialect and table: every consumed event runs both (statement cache hits).
@functools.cache
def _claim_statement(dialect: str, inbox: Table) -> Executable:
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(inbox)
    return ins.on_conflict_do_nothing(index_elements=["consumer", "event_id"]).returning(inbox.c.event_id)


@functools.cache
def _apply_version_statement(dialect: str, versions: Table) -> Executable:
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(versions)
    return ins.on_conflict_do_update(
        index_elements=["consumer", "tenant_id", "aggregate_id"],
        set_={"version": ins.excluded.version, "applied_at": ins.excluded.applied_at},
        where=versions.c.version < ins.excluded.version,
    ).returning(versions.c.version)
