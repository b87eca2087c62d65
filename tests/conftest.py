"""Shared fixtures: the real PostgreSQL and RabbitMQ on this machine.

They are required, not optional: a missing server FAILS the test with the command that starts
it (SQLite and the in-process bus are the embedded default, never a stand-in in tests).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator

import psycopg
import pytest

PG_DSN = os.environ.get("OMS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432")
AMQP_BASE = os.environ.get("OMS_TEST_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
START_PG = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_RABBIT = "rabbitmq-server -detached"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres() -> str:
    if not _reachable("127.0.0.1", 5432):
        pytest.fail(f"PostgreSQL is not reachable on 127.0.0.1:5432; start it with: {START_PG}")
    return PG_DSN


@pytest.fixture(scope="session")
def rabbitmq() -> str:
    if not _reachable("127.0.0.1", 5672):
        pytest.fail(f"RabbitMQ is not reachable on 127.0.0.1:5672; start it with: {START_RABBIT}")
    return AMQP_BASE


def create_database(dsn: str, name: str) -> str:
    with psycopg.connect(f"{dsn}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{dsn.replace('postgresql://', 'postgresql+psycopg://')}/{name}"


def drop_database(dsn: str, name: str) -> None:
    with psycopg.connect(f"{dsn}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_database(postgres: str) -> Iterator:
    """Factory: a new, empty PostgreSQL database per call, dropped after the test."""
    made: list[str] = []

    def make(label: str = "db") -> str:
        name = f"oms_it_{label}_{uuid.uuid4().hex[:8]}"
        made.append(name)
        return create_database(postgres, name)

    yield make
    for name in made:
        drop_database(postgres, name)


@pytest.fixture(scope="session")
def vhost(rabbitmq: str) -> Iterator[str]:
    """A RabbitMQ virtual host of its own for this test session (so leftovers of other runs
    cannot reach our queues); the default vhost where rabbitmqctl is not available."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        yield "/"
        return
    name = f"oms-test-{uuid.uuid4().hex[:8]}"
    subprocess.run([ctl, "-q", "add_vhost", name], check=True, capture_output=True)
    subprocess.run(
        [ctl, "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True, capture_output=True
    )
    yield name
    subprocess.run([ctl, "-q", "delete_vhost", name], capture_output=True)


@pytest.fixture
def fresh_vhost(rabbitmq: str) -> Iterator:
    """Factory: an AMQP URL on a new, empty vhost (deleted after the test), for tests that must
    not meet queues or messages another test left in the session's vhost."""
    ctl = shutil.which("rabbitmqctl")
    made: list[str] = []

    def make(label: str = "vh") -> str:
        from urllib.parse import quote

        if ctl is None:
            pytest.fail("rabbitmqctl is needed to create a vhost; install rabbitmq-server")
        name = f"oms-test-{label}-{uuid.uuid4().hex[:8]}"
        subprocess.run([ctl, "-q", "add_vhost", name], check=True, capture_output=True)
        subprocess.run(
            [ctl, "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
        )
        made.append(name)
        return f"{rabbitmq}/{quote(name, safe='')}"

    yield make
    for name in made:
        subprocess.run([ctl, "-q", "delete_vhost", name], capture_output=True)


@pytest.fixture(scope="session")
def amqp_url(rabbitmq: str, vhost: str) -> str:
    from urllib.parse import quote

    return f"{rabbitmq}/{quote(vhost, safe='')}"


@pytest.fixture
def wms_simulator() -> Iterator:
    """A fresh WMS simulator (services/wms_simulator) on a spare loopback port, stock in memory:
    `.url`, `.set_faults(latency_ms=, error_rate=, down=, hang=)`, `.offline()` / `.online()`
    (connections refused), stopped after the test."""
    from services.wms_simulator import start_in_thread

    handle = start_in_thread(port=0)
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def spans():
    """An OpenTelemetry SDK provider for this test process, recording finished spans in memory."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter
