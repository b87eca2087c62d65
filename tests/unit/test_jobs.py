"""Scheduled jobs on SQLite (the embedded stack), and which background work a service runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import MetaData, create_engine

from services.chassis.jobs import Job, JobRunner
from services.chassis.tables import add_chassis_tables

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_jobs_wait_for_their_first_period_and_then_run_once_per_period(tmp_path):
    metadata = MetaData()
    add_chassis_tables(metadata)
    engine = create_engine(f"sqlite:///{tmp_path}/jobs.db")
    metadata.create_all(engine)
    runs: list[str] = []
    job = Job("pull-jd", every_s=60, run=runs.append, first_after_s=30)
    a = JobRunner("ingest", engine, metadata.tables["job_leases"], [job], ["hardware"], clock=lambda: T0)
    b = JobRunner("ingest", engine, metadata.tables["job_leases"], [job], ["hardware"], clock=lambda: T0)

    assert a.tick(T0 + timedelta(seconds=10)) == []  # not at start-up
    assert a.tick(T0 + timedelta(seconds=30)) == [("pull-jd", "hardware")]
    assert b.tick(T0 + timedelta(seconds=31)) == []
    assert b.tick(T0 + timedelta(seconds=90)) == [("pull-jd", "hardware")]
    assert runs == ["hardware", "hardware"]
    engine.dispose()


def test_a_service_that_publishes_no_events_runs_no_relay(tmp_path, monkeypatch):
    from services.chassis.inprocess_bus import InProcessBus
    from services.chassis.runtime import ServiceRuntime
    from services.chassis.settings import from_env
    from services.customer.app import definition as customer
    from services.notify.app import definition as notify

    monkeypatch.setenv("OMS_DATA_DIR", str(tmp_path))
    started = {}
    for definition in (notify, customer):
        runtime = ServiceRuntime(definition, from_env(definition.name), InProcessBus())
        runtime.migrate()
        runtime.start()
        started[definition.name] = runtime.relay._thread is not None
        runtime.stop()
    assert started == {"notify": False, "customer": True}
