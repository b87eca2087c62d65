"""The embedded stack: all seven services in one process, each with its own SQLite file, joined by
the in-process bus. Same code as the distributed stack.

Clients reach every service on one public port. The services call each other the way they do in
distributed mode, over gRPC, but on a loopback port of each callee's own, served by that
service's own worker pool. A nested call (ingest -> order -> customer) therefore never waits for a
worker of the pool its caller is holding: there are no cycles among the services, so a burst can
only queue, never deadlock. (With one pool for everything, ~30 simultaneous phone orders filled
it with ingest handlers waiting for order calls queued behind them.)
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

from services.catalog import NAMES, definitions
from services.chassis.inprocess_bus import InProcessBus
from services.chassis.runtime import ServiceRuntime
from services.chassis.server import GrpcServer
from services.chassis.settings import LOOPBACK, Settings
from services.chassis.tenants import load_tenants
from services.edge.app import Edge
from services.edge.server import EdgeServer
from services.edge.web import tenant_choices
from services.marketplace_simulator import dev as marketplace_dev
from services.marketplace_simulator.server import SimulatorHandle as MarketplaceHandle
from services.marketplace_simulator.server import start_in_thread as start_marketplace
from services.wms_simulator import SimulatorHandle, start_in_thread

log = logging.getLogger(__name__)

# Threads of the public port's pool. Its handlers never wait on it (nested calls go to the
# internal ports), and handlers are GIL-bound: more threads would only contend.
PUBLIC_WORKERS = 16


class EmbeddedStack:
    def __init__(self, settings: Settings, *, seed: bool = True):
        self.settings = settings
        self.bus = InProcessBus()
        # The public port first: if it is taken, start-up stops before any database is touched.
        self.server = GrpcServer(settings, max_workers=PUBLIC_WORKERS, name="grpc")
        # No plant WMS named (OMS_WMS_URL): the simulator stands in for it, its stock in the data dir.
        self.wms: SimulatorHandle | None = None
        if not settings.wms_url:
            load_tenants(settings.tenants)  # a broken tenant file stops start-up before any file is made
            Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
            self.wms = start_in_thread(0, str(Path(settings.data_dir) / "wms.db"))
            settings = self.settings = dataclasses.replace(settings, wms_url=self.wms.url)
        # No marketplace gateway named (OMS_MARKETPLACE_URL): the tenants' shops are pulled from
        # the marketplace simulator, with development credentials.
        self.marketplace: MarketplaceHandle | None = None
        if not settings.marketplace_url:
            tenants = load_tenants(settings.tenants).values()
            self.marketplace = start_marketplace(0, shops=marketplace_dev.tenant_shops(tenants))
            marketplace_dev.export_credentials(tenants, os.environ)
            if seed:  # a few orders of each kind in the shops, for the first pull to find
                marketplace_dev.seed_demo_orders(self.marketplace, tenants)
            settings = self.settings = dataclasses.replace(settings, marketplace_url=self.marketplace.url)
        # Each service's own port and pool, for calls from the other services (never exposed:
        # loopback, an ephemeral port). Pool size as a distributed service process has.
        self.internal = {
            name: GrpcServer(settings, host=LOOPBACK, port=0, name=f"grpc-{name}") for name in NAMES
        }
        peers = {name: f"{LOOPBACK}:{server.port}" for name, server in self.internal.items()}
        self.runtimes = [
            ServiceRuntime(d, dataclasses.replace(settings, service=d.name, db_url="", peers=peers), self.bus)
            for d in definitions()
        ]
        for rt in self.runtimes:
            rt.migrate()
        for rt in self.runtimes:
            self.internal[rt.name].add(rt.wiring.bindings)
            self.server.add(rt.wiring.bindings)
        self._seed = seed
        # The HTTP/JSON API: the edge forwards to the public port, as a client would.
        self.edge = EdgeServer(
            Edge(
                dict.fromkeys(NAMES, f"{LOOPBACK}:{self.server.port}"),
                secure_cookies=settings.cookie_secure,
                tenants=tenant_choices(settings.tenants),
            ),
            settings.bind_host,
            settings.http_port,
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
        for server in self.internal.values():
            server.start()
        if self._seed:  # on the internal ports: a seed may ask another service (identity: customers)
            for rt in self.runtimes:
                rt.seed()
        self.server.start()
        for rt in self.runtimes:
            rt.start()
        self.edge.start()

    @property
    def http_port(self) -> int:
        return self.edge.port

    def stop(self) -> None:
        """Public port NOT_SERVING, drain, refuse new calls and let calls in flight finish
        (bounded); only then the internal ports their nested calls use; then a last relay pass
        per service, and the bus delivers what it holds."""
        s = self.settings
        self.edge.begin_stop()  # HTTP calls in flight still reach the public port while it drains
        self.server.stop(grace_s=s.shutdown_grace_s, drain_delay_s=s.drain_delay_s)
        self.edge.stop(s.shutdown_grace_s)
        for server in self.internal.values():
            server.stop(grace_s=s.shutdown_grace_s)
        for rt in self.runtimes:
            rt.stop()
        self.bus.stop()
        if self.wms is not None:
            self.wms.stop()
        if self.marketplace is not None:
            self.marketplace.stop()
