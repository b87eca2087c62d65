"""How a service is assembled and run. Each service declares a `ServiceDefinition`; the chassis
builds its database, unit of work, outbox relay, consumers and gRPC bindings from it, either
alone (`python -m services.<name> serve`) or beside the others in the embedded stack."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message as ProtoMessage
from sqlalchemy import Engine, MetaData

from services.chassis.client import channel_to
from services.chassis.consumer import EventConsumer, Subscription
from services.chassis.db import connector, make_engine
from services.chassis.events import EventCodec
from services.chassis.housekeeping import purge_expired
from services.chassis.identity import Identity, acting_as
from services.chassis.jobs import Job, JobRunner
from services.chassis.migrations import upgrade
from services.chassis.numbering import NumberBlocks
from services.chassis.outbox import OutboxRelay, Publisher
from services.chassis.server import GrpcBinding
from services.chassis.settings import Settings
from services.chassis.tenants import Tenant, load_tenants
from services.chassis.uow import UnitOfWork, UowFactory

log = logging.getLogger(__name__)


@dataclass
class Wiring:
    """What a service's composition root hands the chassis."""

    bindings: list[GrpcBinding]
    subscriptions: list[Subscription] = field(default_factory=list)
    seed: Callable[[Tenant], None] | None = None  # demo data for one tenant; must be idempotent
    jobs: list[Job] = field(default_factory=list)  # scheduled work (services/chassis/jobs.py)


@dataclass
class ServiceContext:
    settings: Settings
    tenants: dict[str, Tenant]
    uow: UowFactory[Any]  # uow() for writes, uow(read_only=True) for reads
    numbers: NumberBlocks  # running numbers per tenant (order numbers), reserved outside transactions
    _channels: dict[str, grpc.Channel] = field(default_factory=dict)

    def channel(self, peer: str) -> grpc.Channel:
        """A channel to another service, created on first use (never at import time)."""
        if peer not in self._channels:
            self._channels[peer] = channel_to(self.settings.peer(peer), self.settings.service_token_file)
        return self._channels[peer]

    def tenant(self, tenant_id: str) -> Tenant:
        return self.tenants[tenant_id]


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    metadata: MetaData
    migrations_dir: Path
    contracts: Mapping[str, type[ProtoMessage]]
    unit_of_work: type[UnitOfWork]
    wire: Callable[[ServiceContext], Wiring]
    # notify's consumers run under nameko in distributed mode, not on the chassis consumer;
    # external_queue names the queue that consumer reads a subscription from (release, subscription)
    consumers_run_elsewhere: bool = False
    external_queue: Callable[[str, Subscription], str] | None = None


def unit_of_work_factory(
    definition: ServiceDefinition, engine: Engine, on_commit: Callable[[], None] = lambda: None
) -> UowFactory[Any]:
    """uow() for a business transaction, uow(read_only=True) for reads (never commit; on SQLite
    they do not take the write lock)."""
    connect = connector(engine)
    connect_read_only = connector(engine, read_only=True)
    codec = EventCodec(definition.name, definition.contracts)

    def uow(read_only: bool = False) -> UnitOfWork:
        return definition.unit_of_work(
            connect_read_only if read_only else connect,
            definition.metadata,
            codec,
            on_commit=on_commit,
            read_only=read_only,
        )

    return uow


class ServiceRuntime:
    def __init__(self, definition: ServiceDefinition, settings: Settings, publisher: Publisher):
        self.definition = definition
        self.settings = settings
        self.engine = make_engine(settings.sqlalchemy_url)
        self.relay = OutboxRelay(
            definition.name,
            self.engine,
            definition.metadata.tables["outbox"],
            publisher,
            interval_s=settings.relay_interval_s,
        )
        uow = unit_of_work_factory(definition, self.engine, on_commit=self.relay.wake)
        self.context = ServiceContext(
            settings=settings,
            tenants=load_tenants(settings.tenants),
            uow=uow,
            numbers=NumberBlocks(self.engine, definition.metadata.tables["number_sequences"]),
        )
        self.wiring = definition.wire(self.context)
        self.consumer = EventConsumer(definition.name, self.wiring.subscriptions, uow, settings.tenants)
        housekeeping = Job(
            "housekeeping",
            every_s=3600,
            run=lambda _tenant: purge_expired(self.engine, definition.metadata, settings.retention),
            per_tenant=False,
            first_after_s=60,  # not at start-up: a crash-looping pod would purge on every start
        )
        self.jobs = JobRunner(
            definition.name,
            self.engine,
            definition.metadata.tables["job_leases"],
            [housekeeping, *self.wiring.jobs],
            settings.tenants,
        )
        self._relaying = False

    @property
    def name(self) -> str:
        return self.definition.name

    def migrate(self) -> None:
        upgrade(self.definition.migrations_dir, self.engine)

    def seed(self) -> None:
        if self.wiring.seed is None:
            return
        for tenant in self.context.tenants.values():
            with acting_as(Identity(tenant.tenant_id, "seed", frozenset({"admin"}))):
                self.wiring.seed(tenant)

    @property
    def publishes_events(self) -> bool:
        return bool(self.definition.contracts)

    def start(self) -> None:
        # A service that publishes no events runs no relay (an idle one polls its outbox, and on
        # SQLite each poll takes the write lock).
        if self.publishes_events:
            self.relay.start()
            self._relaying = True
        self.jobs.start()

    def stop(self) -> None:
        """Stop the relay, then (if it was running) one last relay pass, so events committed by
        the last calls leave now rather than at the next start; then close the database."""
        self.jobs.stop()
        self.relay.stop()
        if self._relaying:
            self._relaying = False
            try:
                moved = self.relay.relay_once()
                if moved:
                    log.info("%s: final relay pass sent %d event(s)", self.name, moved)
            except Exception as exc:
                log.warning("%s: final relay pass failed (%r); events stay in the outbox", self.name, exc)
        self.engine.dispose()
