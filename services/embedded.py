"""The embedded stack: all six services in one process, on one gRPC port, each with its own
SQLite file, joined by the in-process bus. Same code as the distributed stack."""

from __future__ import annotations

import dataclasses
import logging

from services.catalog import NAMES, definitions
from services.chassis.inprocess_bus import InProcessBus
from services.chassis.runtime import ServiceRuntime
from services.chassis.server import GrpcServer
from services.chassis.settings import Settings

log = logging.getLogger(__name__)


class EmbeddedStack:
    def __init__(self, settings: Settings, *, seed: bool = True):
        self.settings = settings
        self.bus = InProcessBus()
        peers = {name: f"127.0.0.1:{settings.grpc_port}" for name in NAMES}
        self.runtimes = [
            ServiceRuntime(d, dataclasses.replace(settings, service=d.name, db_url="", peers=peers), self.bus)
            for d in definitions()
        ]
        for rt in self.runtimes:
            rt.migrate()
        if seed:
            for rt in self.runtimes:
                rt.seed()
        # One pool serves all six services, and a call may wait on a nested call to the same
        # server (ingest -> order -> customer): the pool must outnumber such chains in flight.
        self.server = GrpcServer(
            settings,
            [b for rt in self.runtimes for b in rt.wiring.bindings],
            max_workers=32,
        )

    @property
    def port(self) -> int:
        return self.server.port

    def runtime(self, name: str) -> ServiceRuntime:
        return next(rt for rt in self.runtimes if rt.name == name)

    def start(self) -> None:
        for rt in self.runtimes:
            if rt.wiring.subscriptions:
                self.bus.subscribe(rt.consumer)
        self.server.start()
        for rt in self.runtimes:
            rt.start()

    def stop(self) -> None:
        self.server.stop(grace_s=2)
        for rt in self.runtimes:
            rt.stop()
        self.bus.stop()
