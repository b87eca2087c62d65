"""The distributed stack on this machine: every service its own process on PostgreSQL (one
database each) and RabbitMQ, notify's consumer under `nameko run`.

    python -m services.stack up      # `make run-distributed`; Ctrl-C stops every process

Tests and benchmarks use `DistributedStack` directly, with their own database prefix and vhost.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO
from urllib.parse import quote

import grpc
import pika
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.catalog import DISTRIBUTED_PORTS, NAMES
from services.chassis.consumer import Subscription
from services.chassis.rabbit import connect, queue_depth
from services.chassis.tenants import load_tenants
from services.marketplace_simulator import dev as marketplace_dev
from services.notify.app import nameko_queue

ROOT = Path(__file__).resolve().parents[1]
NAMEKO_QUEUE = nameko_queue(
    "",
    Subscription(
        "production", "work_order_created", lambda _event, _uow: None, "tell_workshop_lead_of_work_order"
    ),
)
WORKER = "notify-worker"  # the nameko process's key in `DistributedStack.processes`
EDGE = "edge"  # the HTTP/JSON API's process key
EDGE_PORT = 8080
WMS = "wms-simulator"  # the WMS simulator's key, when no plant WMS is named (OMS_WMS_URL)
WMS_PORT = 50057
MARKETPLACE = "marketplace-simulator"  # when no marketplace gateway is named (OMS_MARKETPLACE_URL)
MARKETPLACE_PORT = 50058


class StackStopping(RuntimeError):
    """Raised out of a wait when the stack was asked to stop (SIGTERM/Ctrl-C during start-up)."""


class DistributedStack:
    def __init__(
        self,
        *,
        pg_dsn: str = "postgresql://postgres@127.0.0.1:5432",
        db_prefix: str = "oms",
        amqp_base: str = "amqp://guest:guest@127.0.0.1:5672",
        vhost: str = "/",
        port_offset: int = 0,
        log_dir: Path | None = None,
        seed: bool = True,
        extra_env: dict[str, str] | None = None,
        replicas: dict[str, int] | None = None,
    ):
        self.pg_dsn = pg_dsn.rstrip("/")
        self.db_prefix = db_prefix
        self.amqp_url = f"{amqp_base}/{quote(vhost, safe='')}"
        self.ports = {name: port + port_offset for name, port in DISTRIBUTED_PORTS.items()}
        self.metrics_ports = {
            name: 9100 + i + port_offset for i, name in enumerate((*NAMES, "notify-worker", EDGE))
        }
        self.log_dir = log_dir or ROOT / "var" / "stack"
        self.wms_port = WMS_PORT + port_offset
        self.http_port = EDGE_PORT + port_offset
        # A plant's WMS named in the environment replaces the simulator.
        self.external_wms = (extra_env or {}).get("OMS_WMS_URL") or os.environ.get("OMS_WMS_URL", "")
        self.marketplace_port = MARKETPLACE_PORT + port_offset
        self.external_marketplace = (extra_env or {}).get("OMS_MARKETPLACE_URL") or os.environ.get(
            "OMS_MARKETPLACE_URL", ""
        )
        self.seed = seed
        self.extra_env = extra_env or {}
        # Services run as several processes on one port (SO_REUSEPORT), as pods behind one address:
        # {"order": 2} starts "order" and "order-2".
        self.replicas = {name: n for name, n in (replicas or {}).items() if n > 1}
        unknown = set(self.replicas) - set(NAMES)
        if unknown:
            raise ValueError(f"replicas of unknown services: {', '.join(sorted(unknown))}")
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self.stopping = threading.Event()  # set by a signal handler: waits give up, `down` follows

    def db_url(self, service: str) -> str:
        return f"{self.pg_dsn.replace('postgresql://', 'postgresql+psycopg://')}/{self.db_prefix}_{service}"

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    @property
    def wms_url(self) -> str:
        return self.external_wms or f"http://127.0.0.1:{self.wms_port}"

    @property
    def marketplace_url(self) -> str:
        return self.external_marketplace or f"http://127.0.0.1:{self.marketplace_port}"

    def create_databases(self, drop: bool = False) -> None:
        with psycopg.connect(f"{self.pg_dsn}/postgres", autocommit=True) as conn:
            for name in NAMES:
                db = f"{self.db_prefix}_{name}"
                if drop:
                    conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{db}"')

    def drop_databases(self) -> None:
        with psycopg.connect(f"{self.pg_dsn}/postgres", autocommit=True) as conn:
            for name in NAMES:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_prefix}_{name}" WITH (FORCE)')

    def env_for(self, service: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "OMS_SERVICE": service,
                "OMS_GRPC_PORT": str(self.ports[service]),
                "OMS_METRICS_PORT": str(self.metrics_ports[service]),
                "OMS_DB_URL": self.db_url(service),
                "OMS_AMQP_URL": self.amqp_url,
                "OMS_SEED_DEMO": "1" if self.seed else "0",
                "OMS_RELAY_INTERVAL_S": "0.2",
                "OMS_WMS_URL": self.wms_url,
                "OMS_MARKETPLACE_URL": self.marketplace_url,
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
            }
        )
        env.update({f"OMS_{peer.upper()}_ADDR": self.address(peer) for peer in NAMES})
        if not self.external_marketplace:  # the simulator's development credentials for each shop
            marketplace_dev.export_credentials(load_tenants(tuple(_tenant_ids(env))).values(), env)
        if service in self.replicas:
            env["OMS_REUSE_PORT"] = "1"
        env.update(self.extra_env)
        return env

    def replica_keys(self, service: str) -> list[str]:
        """Process keys of a service: "order", then "order-2", "order-3", ... for its replicas."""
        return [service] + [f"{service}-{i}" for i in range(2, self.replicas.get(service, 1) + 1)]

    def _spawn_service(self, key: str) -> None:
        service, _, index = key.partition("-")
        env = self.env_for(service)
        if index:  # a replica: same gRPC port, a metrics port of its own
            env["OMS_METRICS_PORT"] = str(self.metrics_ports[service] + 100 * (int(index) - 1))
        self._spawn(key, [sys.executable, "-m", f"services.{service}", "serve"], env)

    def _spawn(self, key: str, argv: list[str], env: dict[str, str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        old = self._logs.pop(key, None)
        if old is not None:
            old.close()
        log = self._logs[key] = open(self.log_dir / f"{key}.log", "ab")  # noqa: SIM115 - closed in down()
        # Each child leads its own process group (session), so a signal reaches it and anything it
        # started, and a Ctrl-C in the terminal reaches only this supervisor, which then stops them.
        self.processes[key] = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def _worker_argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "nameko",
            "run",
            "--config",
            "services/notify/nameko.yaml",
            "services.notify.worker",
        ]

    def _worker_env(self) -> dict[str, str]:
        env = self.env_for("notify")
        env["OMS_METRICS_PORT"] = str(self.metrics_ports[WORKER])
        return env

    def stop(self, name: str, timeout_s: float = 15) -> None:
        """Stop one service process (SIGTERM, as Kubernetes does); SIGKILL if it outstays `timeout_s`."""
        proc = self.processes.pop(name)
        _terminate_all({name: proc}, timeout_s)

    def kill(self, name: str) -> int:
        """SIGKILL one process (a crash, an OOM kill): no handler runs, nothing is drained.
        `name` is a service or "notify-worker". Returns the pid that was killed."""
        proc = self.processes.pop(name)
        _signal_group(proc, signal.SIGKILL)
        proc.wait(10)
        return proc.pid

    def start(self, name: str, timeout_s: float = 60) -> None:
        """Start one stopped service process again and wait until it is healthy; "notify-worker"
        starts the nameko worker again and waits until it consumes its queue."""
        if name == WORKER:
            self.start_worker(timeout_s)
            return
        if name == WMS:
            self.start_wms(timeout_s)
            return
        if name == MARKETPLACE:
            self.start_marketplace(timeout_s)
            return
        if name in self.processes and self.processes[name].poll() is None:
            raise RuntimeError(f"{name} is already running (pid {self.processes[name].pid})")
        self._spawn_service(name)
        self.wait_healthy(timeout_s, names=(name.partition("-")[0],))

    restart = start  # after `kill` or `stop`, as a kubelet restarts a crashed container

    def start_worker(self, timeout_s: float = 60) -> None:
        """Start notify's nameko worker and wait until it consumes its queue."""
        if WORKER in self.processes and self.processes[WORKER].poll() is None:
            raise RuntimeError(f"{WORKER} is already running (pid {self.processes[WORKER].pid})")
        self._spawn(WORKER, self._worker_argv(), self._worker_env())
        self.wait_for_consumer(NAMEKO_QUEUE, timeout_s)

    def start_wms(self, timeout_s: float = 30) -> None:
        """Start the WMS simulator (its stock in the log folder, kept across restarts) and wait
        until it answers; nothing when a plant's WMS is named."""
        if self.external_wms:
            return
        if WMS in self.processes and self.processes[WMS].poll() is None:
            raise RuntimeError(f"{WMS} is already running (pid {self.processes[WMS].pid})")
        argv = [sys.executable, "-m", "services.wms_simulator", "--port", str(self.wms_port)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        self._spawn(WMS, [*argv, "--db", str(self.log_dir / "wms.db")], env)
        deadline = time.monotonic() + timeout_s
        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(f"{self.wms_url}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{WMS} not answering after {timeout_s}s; see {self.log_dir}/{WMS}.log")
            time.sleep(0.1)

    def start_marketplace(self, timeout_s: float = 30) -> None:
        """Start the marketplace simulator with the tenants' shops; nothing when a gateway is named."""
        if self.external_marketplace:
            return
        env = self.env_for("ingest")
        argv = [sys.executable, "-m", "services.marketplace_simulator", "--port", str(self.marketplace_port)]
        self._spawn(MARKETPLACE, [*argv, "--tenants", ",".join(_tenant_ids(env))], env)
        self._wait_http(MARKETPLACE, f"{self.marketplace_url}/healthz", timeout_s)

    def _wait_http(self, key: str, url: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{key} not answering after {timeout_s}s; see {self.log_dir}/{key}.log")
            time.sleep(0.1)

    def up(self, timeout_s: float = 60) -> None:
        self.create_databases()
        self.start_marketplace()
        self.start_wms()  # before inventory, which seeds the demo materials into it
        for name in NAMES:
            for key in self.replica_keys(name):
                self._spawn_service(key)
        self.wait_healthy(timeout_s)
        self._spawn(WORKER, self._worker_argv(), self._worker_env())
        self.start_edge(timeout_s)
        self.wait_for_queue(NAMEKO_QUEUE, timeout_s)

    def start_edge(self, timeout_s: float = 60) -> None:
        """The HTTP/JSON API in front of the services (no database of its own yet)."""
        env = dict(os.environ)
        env.update({f"OMS_{peer.upper()}_ADDR": self.address(peer) for peer in NAMES})
        env.update(
            OMS_SERVICE=EDGE,
            OMS_HTTP_PORT=str(self.http_port),
            OMS_METRICS_PORT=str(self.metrics_ports[EDGE]),
            PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
        )
        env.update(self.extra_env)
        self._spawn(EDGE, [sys.executable, "-m", "services.edge"], env)
        deadline = time.monotonic() + timeout_s
        while not _http_ok(f"http://127.0.0.1:{self.http_port}/healthz"):
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"edge not answering after {timeout_s}s; see {self.log_dir}/{EDGE}.log")
            time.sleep(0.1)

    def wait_healthy(self, timeout_s: float, names: tuple[str, ...] = NAMES) -> None:
        deadline = time.monotonic() + timeout_s
        for name in names:
            with grpc.insecure_channel(self.address(name)) as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                while True:
                    self._check_alive()
                    try:
                        if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                            break
                    except grpc.RpcError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"{name} not healthy after {timeout_s}s; see {self.log_dir}/{name}.log"
                        )
                    time.sleep(0.2)

    def wait_for_queue(self, queue: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while queue_depth(self.amqp_url, queue) is None:
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"queue {queue} not declared after {timeout_s}s; see {self.log_dir}")
            time.sleep(0.3)

    def consumers_of(self, queue: str) -> int | None:
        """How many consumers read `queue` now (None: no such queue, or the broker is away)."""
        try:
            conn = connect(self.amqp_url, "oms-stack-check")
        except pika.exceptions.AMQPError:
            return None
        try:
            return conn.channel().queue_declare(queue, passive=True).method.consumer_count
        except pika.exceptions.AMQPError:
            return None
        finally:
            if conn.is_open:
                conn.close()

    def wait_for_consumer(self, queue: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.consumers_of(queue):
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"nobody consumes {queue} after {timeout_s}s; see {self.log_dir}")
            time.sleep(0.3)

    def _check_alive(self) -> None:
        if self.stopping.is_set():
            raise StackStopping("the stack is stopping")
        for key, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{key} exited with {proc.returncode}; see {self.log_dir}/{key}.log")

    def down(self, timeout_s: float = 15) -> None:
        """SIGTERM every child's process group, wait (bounded) for all of them, SIGKILL stragglers."""
        _terminate_all(self.processes, timeout_s)
        self.processes.clear()
        for log in self._logs.values():
            log.close()
        self._logs.clear()


def _tenant_ids(env: dict[str, str]) -> list[str]:
    return [t.strip() for t in env.get("OMS_TENANTS", "hardware,autoparts").split(",") if t.strip()]


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


def free_port_offset(candidates: range, *, replicas: bool = False) -> int:
    """The first port offset whose gRPC and metrics ports (a second replica's metrics ports too,
    if asked) are all free now. Stacks started by tests and benchmarks take one, so a port another
    program happens to hold (even a client socket's ephemeral port) does not stop a service."""
    for offset in candidates:
        grpc_ports = [
            port + offset for port in (*DISTRIBUTED_PORTS.values(), WMS_PORT, MARKETPLACE_PORT, EDGE_PORT)
        ]
        metrics = [
            9100 + offset + i + r for i in range(len(NAMES) + 2) for r in ((0, 100) if replicas else (0,))
        ]
        if all(_port_is_free(port) for port in grpc_ports + metrics):
            return offset
    raise RuntimeError(f"no free port block for a distributed stack at offsets {list(candidates)}")


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _signal_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    """Signal the child's whole process group (it leads one: start_new_session)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:  # not ours to signal as a group; the child itself still is
        proc.send_signal(sig)


def _terminate_all(processes: dict[str, subprocess.Popen], timeout_s: float) -> list[str]:
    """SIGTERM each group, wait for all until one shared deadline, then SIGKILL what is left.
    Returns the keys that had to be killed."""
    for proc in processes.values():
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    killed = []
    for key, proc in processes.items():
        try:
            proc.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            killed.append(key)
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        # the group may outlive its leader (a grandchild): make sure nothing of it is left
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    return killed


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.stack")
    parser.add_argument(
        "command", choices=["up", "env"], help="up: start and supervise; env: print addresses"
    )
    parser.add_argument("--pg", default=os.environ.get("OMS_PG_DSN", "postgresql://postgres@127.0.0.1:5432"))
    parser.add_argument(
        "--amqp", default=os.environ.get("OMS_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
    )
    parser.add_argument("--vhost", default="/", help="RabbitMQ virtual host (default /)")
    parser.add_argument("--db-prefix", default="oms", help="databases are <prefix>_<service> (default oms)")
    parser.add_argument(
        "--port-offset", type=int, default=0, help="added to every gRPC and metrics port (default 0)"
    )
    parser.add_argument("--log-dir", type=Path, default=None, help="default var/stack")
    args = parser.parse_args()
    stack = DistributedStack(
        pg_dsn=args.pg,
        amqp_base=args.amqp,
        vhost=args.vhost,
        db_prefix=args.db_prefix,
        port_offset=args.port_offset,
        log_dir=args.log_dir,
    )
    if args.command == "env":
        for name in NAMES:
            print(f"export OMS_{name.upper()}_ADDR={stack.address(name)}")
        return

    # The handler only raises a flag: whatever the main thread is doing (starting a process,
    # waiting for health, supervising) finishes its step and then `down` runs, exactly once.
    def request_stop(signum, _frame) -> None:
        stack.stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    code = 0
    try:
        stack.up()
        print("Zhongshu OMS distributed stack is up (PostgreSQL databases oms_<service>, RabbitMQ, nameko):")
        for name in NAMES:
            print(f"  {name:<11} grpc {stack.address(name)}   metrics :{stack.metrics_ports[name]}")
        print(f"  edge        http://127.0.0.1:{stack.http_port}   (HTTP/JSON API; /openapi.json)")
        wms = "simulator" if WMS in stack.processes else "OMS_WMS_URL"
        print(f"  WMS         {stack.wms_url}   ({wms})")
        print(f"  logs in {stack.log_dir}/")
        offset = f" --port-offset {args.port_offset}" if args.port_offset else ""
        print(f"Try:  source <(.venv/bin/python -m services.stack env{offset}) && .venv/bin/omsctl health")
        print("Ctrl-C stops every process.", flush=True)
        while not stack.stopping.wait(1):
            stack._check_alive()
    except StackStopping:
        pass
    except Exception as exc:  # a child that died, a server that is down: say so, no traceback
        print(f"stack: {exc}; stopping every process", file=sys.stderr, flush=True)
        code = 1
    finally:
        stack.down()
    print("stack: every process stopped", flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
