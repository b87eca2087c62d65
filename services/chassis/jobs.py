"""Scheduled jobs: a service declares them (name, period, what to run, per tenant or once per
service); the chassis runs each at most once per period across all replicas of the service.

Each (job, tenant) has a lease row in the service's own database. A runner claims a due job
with one guarded UPDATE (`next_run_at <= now` -> `next_run_at = now + period`): of two replicas
asking at the same moment exactly one row update succeeds, on PostgreSQL and on SQLite alike,
and a replica that dies mid-run only delays the job to its next period. Housekeeping runs here
(off the relay thread); the due-date alerts and marketplace pulls of later issues will too.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Table, update
from sqlalchemy.dialects import postgresql, sqlite

from services.chassis.identity import Identity, acting_as

log = logging.getLogger(__name__)
EVERY_TENANT = "*"  # the lease key of a job that runs once per service, not per tenant


@dataclass(frozen=True)
class Job:
    name: str
    every_s: float
    run: Callable[[str], object]  # called with the tenant id (EVERY_TENANT for a service-wide job)
    per_tenant: bool = True
    first_after_s: float = 0.0  # not at start-up: a crash-looping pod would run it on every start


class JobRunner:
    def __init__(
        self,
        service: str,
        engine: Engine,
        leases: Table,
        jobs: Iterable[Job],
        tenants: Iterable[str],
        *,
        holder: str = "",
        tick_s: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.service = service
        self._engine = engine
        self._leases = leases
        self.jobs = list(jobs)
        self._tenants = list(tenants)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._tick_s = tick_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = clock()

    def keys(self, job: Job) -> list[str]:
        return list(self._tenants) if job.per_tenant else [EVERY_TENANT]

    def tick(self, now: datetime | None = None) -> list[tuple[str, str]]:
        """Run every job that is due now and that this runner wins; returns (job, tenant) run."""
        now = now or self._clock()
        ran = []
        for job in self.jobs:
            if now < self._started + timedelta(seconds=job.first_after_s):
                continue
            for key in self.keys(job):
                if self._claim(job, key, now) and self._run_one(job, key):
                    ran.append((job.name, key))
        return ran

    def _run_one(self, job: Job, key: str) -> bool:
        try:
            with acting_as(Identity(key, f"job:{job.name}", frozenset({"service"}))):
                job.run(key)
            return True
        except Exception:
            log.exception("%s: job %s (%s) failed; next period it runs again", self.service, job.name, key)
            return False

    def _claim(self, job: Job, key: str, now: datetime) -> bool:
        t = self._leases
        ins = (postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert)(t)
        with self._engine.begin() as conn:
            conn.execute(
                ins.values(job=job.name, tenant_id=key, next_run_at=now, holder="").on_conflict_do_nothing()
            )
            claimed = conn.execute(
                update(t)
                .where(t.c.job == job.name, t.c.tenant_id == key, t.c.next_run_at <= now)
                .values(next_run_at=now + timedelta(seconds=job.every_s), holder=self.holder, last_run_at=now)
            ).rowcount
        return claimed == 1

    def start(self) -> None:
        if not self.jobs:
            return
        self._thread = threading.Thread(target=self._run, name=f"{self.service}-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self.tick()
            except Exception as exc:  # e.g. the database is restarting: try at the next tick
                log.warning("%s: job runner could not check its jobs: %r", self.service, exc)
