"""Scheduled jobs on real PostgreSQL: two replicas asking at the same moment, exactly one runs a
due job per tenant and period; a failed run does not stop the next period."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, create_engine

from services.chassis.identity import current
from services.chassis.jobs import EVERY_TENANT, Job, JobRunner
from services.chassis.tables import add_chassis_tables

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.fixture
def leases(fresh_database):
    metadata = MetaData()
    add_chassis_tables(metadata)
    engine = create_engine(fresh_database("jobs"), pool_size=10)
    metadata.create_all(engine)
    yield engine, metadata.tables["job_leases"]
    engine.dispose()


def replicas(engine, table, jobs, n=2) -> list[JobRunner]:
    return [
        JobRunner(
            "order", engine, table, jobs, ["hardware", "autoparts"], holder=f"pod-{i}", clock=lambda: T0
        )
        for i in range(n)
    ]


def test_a_due_job_runs_once_per_tenant_across_replicas(leases):
    engine, table = leases
    runs: list[tuple[str, str]] = []
    lock = threading.Lock()

    def alert_check(tenant: str) -> None:
        assert current().tenant_id == tenant  # the job acts for the tenant it runs for
        with lock:
            runs.append(("alerts", tenant))

    jobs = [Job("alerts", every_s=600, run=alert_check)]
    pods = replicas(engine, table, jobs, n=4)
    barrier = threading.Barrier(len(pods))

    def tick(pod: JobRunner, now: datetime) -> None:
        barrier.wait()
        pod.tick(now)

    for now in (T0, T0 + timedelta(seconds=599), T0 + timedelta(seconds=600), T0 + timedelta(seconds=900)):
        threads = [threading.Thread(target=tick, args=(pod, now)) for pod in pods]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # at T0 and at T0+600 s: once per tenant each time; never twice, never at 599 s or 900 s
    assert sorted(runs) == sorted([("alerts", "autoparts"), ("alerts", "hardware")] * 2)


def test_a_service_wide_job_runs_once_and_a_failure_waits_for_the_next_period(leases):
    engine, table = leases
    calls: list[str] = []

    def purge(tenant: str) -> None:
        calls.append(tenant)
        if len(calls) == 1:
            raise ConnectionError("database restarting")

    pods = replicas(engine, table, [Job("housekeeping", every_s=3600, run=purge, per_tenant=False)])
    assert pods[0].tick(T0) == [] and pods[1].tick(T0) == []  # the one run failed
    assert calls == [EVERY_TENANT]
    assert pods[1].tick(T0 + timedelta(seconds=3600)) == [("housekeeping", EVERY_TENANT)]
    assert pods[0].tick(T0 + timedelta(seconds=3601)) == []
