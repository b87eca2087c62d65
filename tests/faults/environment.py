"""The fault suite's world: a PostgreSQL cluster and a RabbitMQ node of its own on spare ports,
the distributed stack on them (port offset 2000; e2e uses 1000), torn down whatever happens."""

from __future__ import annotations

import atexit
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from services.catalog import NAMES
from services.stack import DistributedStack, free_port_offset
from tests.faults.client import CarefulClient, Journal
from tests.faults.report import OUT_DIR, FaultReport
from tests.faults.servers import Postgres, RabbitNode

# The first free block from 2000 (e2e uses 1000, the benchmarks 3000 and up): a CI run once met
# 52054 held by something else at the suite's start.
PORT_OFFSETS = range(2000, 3000, 100)
BUDGET_S = 480  # the whole suite stays under 10 minutes: long waits shrink when time runs short


@dataclass
class FaultEnv:
    pg: Postgres
    rabbit: RabbitNode
    stack: DistributedStack
    log_dir: Path
    customer_id: str = ""
    journal: Journal = field(default_factory=Journal)
    poison_markers: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)

    @property
    def addresses(self) -> dict[str, str]:
        return {name: self.stack.address(name) for name in NAMES}

    @property
    def amqp_url(self) -> str:
        return self.stack.amqp_url

    def remaining_s(self) -> float:
        return BUDGET_S - (time.monotonic() - self.started)

    def bound(self, wanted_s: float, reserve_s: float = 60) -> float:
        """`wanted_s`, or less when the suite's budget runs short (never below 10 s)."""
        return max(10.0, min(wanted_s, self.remaining_s() - reserve_s))


@contextmanager
def fault_environment(report: FaultReport) -> Iterator[FaultEnv]:
    log_dir = OUT_DIR / "logs"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    base = Path(tempfile.mkdtemp(prefix="oms-faults-"))
    base.chmod(0o755)  # the postgres and rabbitmq users work under it
    pg = Postgres(base, log_dir)
    rabbit = RabbitNode(base, log_dir)
    stack = DistributedStack(
        pg_dsn=pg.dsn,
        db_prefix="oms_faults",
        amqp_base=rabbit.url,
        vhost="/",
        port_offset=(port_offset := free_port_offset(PORT_OFFSETS)),
        log_dir=log_dir / "stack",
    )
    done = threading.Event()

    def teardown() -> None:
        if done.is_set():
            return
        done.set()
        for step in (stack.down, rabbit.teardown, pg.teardown):
            try:
                step()
            except Exception as exc:  # every step runs, whatever the one before did
                print(f"faults teardown: {step.__qualname__} failed: {exc!r}")
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(teardown)
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):  # CI's timeout: tear down instead of leaving servers behind
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        t0 = time.monotonic()
        errors: list[BaseException] = []
        boot = threading.Thread(target=lambda: _capture(rabbit.start, errors), name="rabbit-boot")
        boot.start()  # the broker boots (~10 s) while PostgreSQL is initialised
        try:
            pg.start()
        finally:
            boot.join()
        if errors:
            raise errors[0]
        servers_s = time.monotonic() - t0
        stack.create_databases(drop=True)
        stack.up()
        fenv = FaultEnv(pg, rabbit, stack, log_dir)
        client = CarefulClient(fenv.addresses, Journal())
        fenv.customer_id = client.seeded_customer()
        client.close()
        report.context = [
            f"Own servers: PostgreSQL {pg.dsn} (data in {pg.data}), RabbitMQ node {rabbit.node} on "
            f"127.0.0.1:{rabbit.port}; ready in {servers_s:.1f} s. Distributed stack (port offset "
            f"{port_offset}) up in {time.monotonic() - t0 - servers_s:.1f} s; its logs in "
            f"`{log_dir.relative_to(OUT_DIR.parents[1])}/stack/`.",
        ]
        yield fenv
    finally:
        teardown()
        signal.signal(signal.SIGTERM, previous)


def _capture(fn, errors: list[BaseException]) -> None:
    try:
        fn()
    except BaseException as exc:  # re-raised in the main thread
        errors.append(exc)
