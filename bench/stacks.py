"""What the cases run against, started by the suite itself: the embedded stack as its own process,
the distributed stack on the machine's PostgreSQL and RabbitMQ, fresh databases and vhosts.

Servers always run in processes of their own, so the client never competes with them for the GIL
and a server's peak RSS is its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.catalog import NAMES
from services.stack import DistributedStack
from services.stack import free_port_offset as stack_free_port_offset

ROOT = Path(__file__).resolve().parents[1]
PG_DSN = os.environ.get("OMS_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432")
AMQP_BASE = os.environ.get("OMS_BENCH_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
PORT_OFFSETS = range(3000, 4000, 200)  # clear of `make run-distributed` (0), e2e (1000), faults (2000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_offset() -> int:
    """An offset whose ports (replicas' included) are all free now: another bench on this machine
    (the test suite's quick one, say) must not make a service fail to bind."""
    return stack_free_port_offset(PORT_OFFSETS, replicas=True)


def wait_serving(address: str, proc: subprocess.Popen | None = None, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"server at {address} exited with {proc.returncode}")
            with contextlib.suppress(grpc.RpcError):
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{address} not serving after {timeout_s}s")
            time.sleep(0.2)


def bench_tenant_dir() -> Path:
    """The shipped tenant files with a warehouse that never runs dry: the flow and ramp cases
    approve thousands of orders, and a shortage refusal would measure the demo stock, not OMS.
    Only the WMS simulator's starting stock ([[demo.materials]] on_hand) differs, and marketplace
    shops wait a day between scheduled pulls (the ingest case pulls when it measures)."""
    out = Path(tempfile.gettempdir()) / f"oms-bench-tenants-{os.getpid()}"
    out.mkdir(exist_ok=True)
    for source in (ROOT / "tenants").glob("*.toml"):
        lines, in_materials = [], False
        for line in source.read_text(encoding="utf-8").splitlines():
            if line.startswith("["):
                in_materials = line.strip() == "[[demo.materials]]"
            elif in_materials and line.startswith("on_hand"):
                line = "on_hand = 1000000000"
            elif line.startswith("pull_every_s"):  # shops: pulled when a case says, not on a schedule
                line = "pull_every_s = 86400.0"
            lines.append(line)
        (out / source.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def python_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["OMS_TENANT_DIR"] = str(bench_tenant_dir())
    env.pop("OMS_WMS_URL", None)  # each stack its own simulator
    env.update(extra)
    return env


def start_bare(module: str, payload: bytes) -> tuple[subprocess.Popen, int]:
    """A baseline server (`python -m <module> PORT < payload`) on a free port, once it says ready."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, str(port)],
        cwd=ROOT,
        env=python_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(payload)
    proc.stdin.close()
    if proc.stdout.readline().strip() != b"ready":
        raise RuntimeError(f"{module} did not start")
    return proc, port


class EmbeddedProcess:
    """`python -m services` on SQLite files in a temporary folder, metrics and tracing on."""

    def __init__(self, work_dir: Path):
        self.data = work_dir / "embedded"
        self.data.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        self.http_url = f"http://127.0.0.1:{free_port()}"  # the edge's HTTP/JSON API
        env = python_env(
            OMS_DATA_DIR=str(self.data),
            OMS_GRPC_PORT=str(port),
            OMS_HTTP_PORT=self.http_url.rsplit(":", 1)[1],
            OMS_METRICS_PORT=str(free_port()),
            OMS_LOG_LEVEL="WARNING",
        )
        self._log = open(self.data / "stack.log", "wb")  # noqa: SIM115 - the child's stdout while it runs
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services"], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_serving(self.address, self.proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def addresses(self) -> dict[str, str]:
        return dict.fromkeys(NAMES, self.address)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@contextlib.contextmanager
def fresh_vhost() -> Iterator[str]:
    """A RabbitMQ vhost of our own, deleted afterwards (so no queue of another run is bound)."""
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    name = f"oms-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run([ctl, "-q", "add_vhost", name], check=True, capture_output=True)
    subprocess.run(
        [ctl, "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True, capture_output=True
    )
    try:
        yield f"{AMQP_BASE}/{quote(name, safe='')}"
    finally:
        subprocess.run([ctl, "-q", "delete_vhost", name], capture_output=True, check=False)


@contextlib.contextmanager
def fresh_database(label: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (SQLAlchemy URL), dropped afterwards."""
    name = f"oms_bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_DSN}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_DSN.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    finally:
        with psycopg.connect(f"{PG_DSN}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Distributed:
    """The six services as processes on PostgreSQL (fresh databases) and RabbitMQ (fresh vhost)."""

    def __init__(self, work_dir: Path, replicas: dict[str, int] | None = None):
        self._exit = contextlib.ExitStack()
        amqp_url = self._exit.enter_context(fresh_vhost())
        vhost = amqp_url.rsplit("/", 1)[1]
        self.stack = DistributedStack(
            pg_dsn=PG_DSN,
            db_prefix=f"oms_bench_{uuid.uuid4().hex[:6]}",
            amqp_base=AMQP_BASE,
            vhost=vhost.replace("%2F", "/"),
            port_offset=free_port_offset(),
            log_dir=work_dir / "distributed",
            extra_env={"OMS_LOG_LEVEL": "WARNING", "OMS_TENANT_DIR": str(bench_tenant_dir())},
            replicas=replicas,  # {"order": 2}: two order processes on one port (SO_REUSEPORT)
        )
        self.stack.create_databases(drop=True)
        self._exit.callback(self.stack.drop_databases)
        self._exit.callback(self.stack.down)
        try:
            self.stack.up()
        except BaseException:
            self._exit.close()
            raise

    def addresses(self) -> dict[str, str]:
        return {name: self.stack.address(name) for name in NAMES}

    def pid(self, service: str) -> int:
        return self.stack.processes[service].pid

    def pids(self) -> dict[str, int]:
        """{process key: pid}: each service, "notify-worker", and replicas as "order-2"..."""
        return {key: proc.pid for key, proc in self.stack.processes.items()}

    def wait_listening(self, service: str, processes: int, timeout_s: float = 30) -> None:
        """Wait until `processes` sockets listen on the service's port: a health check answered
        by one replica says nothing of the others, and a connection made before a replica listens
        can never land on it."""
        port = f":{self.stack.ports[service]:04X} "
        deadline = time.monotonic() + timeout_s
        while True:
            tables = (Path("/proc/net/tcp").read_text(), Path("/proc/net/tcp6").read_text())
            # fields: sl local_address rem_address st ...; st 0A = LISTEN
            listening = sum(
                1
                for table in tables
                for line in table.splitlines()[1:]
                if (f := line.split()) and (f[1] + " ").endswith(port) and f[3] == "0A"
            )
            if listening >= processes:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{listening} of {processes} {service} processes listen after {timeout_s}s"
                )
            time.sleep(0.2)

    def database(self, service: str) -> str:
        return f"{self.stack.db_prefix}_{service}"

    def backend_pids(self, *services: str) -> list[int]:
        """PostgreSQL backends connected now to these services' databases (every service's if none)."""
        names = [self.database(s) for s in services or NAMES]
        with psycopg.connect(f"{PG_DSN}/postgres", autocommit=True) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s)", (names,))
            return [pid for (pid,) in rows]

    def stop(self) -> None:
        self._exit.close()


class Environment:
    """Stacks shared by the cases of one run, started on first use and stopped at the end."""

    def __init__(self) -> None:
        self.work_dir = Path(tempfile.mkdtemp(prefix="oms-bench-"))
        self._embedded: EmbeddedProcess | None = None
        self._distributed: Distributed | None = None

    def embedded(self) -> EmbeddedProcess:
        if self._embedded is None:
            self._embedded = EmbeddedProcess(self.work_dir)
        return self._embedded

    def distributed(self) -> Distributed:
        if self._distributed is None:
            self._distributed = Distributed(self.work_dir)
        return self._distributed

    def stop_shared(self) -> None:
        """Stop the shared stacks (a case that starts its own wants the machine quiet); the next
        `embedded()` or `distributed()` starts a fresh one."""
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None
        if self._distributed is not None:
            self._distributed.stop()
            self._distributed = None

    def close(self) -> None:
        self.stop_shared()
        if not os.environ.get("OMS_BENCH_KEEP"):  # keep the stacks' logs to read after a run
            shutil.rmtree(self.work_dir, ignore_errors=True)
