"""The distributed stack on this machine: every service its own process on PostgreSQL (one
database each) and RabbitMQ, notify's consumer under `nameko run`.

    python -m services.stack up      # `make run-distributed`; Ctrl-C stops every process

Tests and benchmarks use `DistributedStack` directly, with their own database prefix and vhost.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.catalog import DISTRIBUTED_PORTS, NAMES
from services.chassis.consumer import Subscription
from services.chassis.rabbit import queue_depth
from services.notify.app import nameko_queue

ROOT = Path(__file__).resolve().parents[1]
NAMEKO_QUEUE = nameko_queue("", Subscription("production", "work_order_created", lambda _event, _uow: None))


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
    ):
        self.pg_dsn = pg_dsn.rstrip("/")
        self.db_prefix = db_prefix
        self.amqp_url = f"{amqp_base}/{quote(vhost, safe='')}"
        self.ports = {name: port + port_offset for name, port in DISTRIBUTED_PORTS.items()}
        self.metrics_ports = {
            name: 9100 + i + port_offset for i, name in enumerate((*NAMES, "notify-worker"))
        }
        self.log_dir = log_dir or ROOT / "var" / "stack"
        self.seed = seed
        self.extra_env = extra_env or {}
        self.processes: dict[str, subprocess.Popen] = {}

    def db_url(self, service: str) -> str:
        return f"{self.pg_dsn.replace('postgresql://', 'postgresql+psycopg://')}/{self.db_prefix}_{service}"

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

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
                "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
            }
        )
        env.update({f"OMS_{peer.upper()}_ADDR": self.address(peer) for peer in NAMES})
        env.update(self.extra_env)
        return env

    def _spawn(self, key: str, argv: list[str], env: dict[str, str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{key}.log", "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.processes[key] = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self, name: str, timeout_s: float = 15) -> None:
        """Stop one service process (SIGTERM, as Kubernetes does)."""
        proc = self.processes.pop(name)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout_s)

    def start(self, name: str, timeout_s: float = 60) -> None:
        """Start one stopped service process again and wait until it is healthy."""
        self._spawn(name, [sys.executable, "-m", f"services.{name}", "serve"], self.env_for(name))
        self.wait_healthy(timeout_s, names=(name,))

    def up(self, timeout_s: float = 60) -> None:
        self.create_databases()
        for name in NAMES:
            self._spawn(name, [sys.executable, "-m", f"services.{name}", "serve"], self.env_for(name))
        self.wait_healthy(timeout_s)
        worker_env = self.env_for("notify")
        worker_env["OMS_METRICS_PORT"] = str(self.metrics_ports["notify-worker"])
        self._spawn(
            "notify-worker",
            [
                sys.executable,
                "-m",
                "nameko",
                "run",
                "--config",
                "services/notify/nameko.yaml",
                "services.notify.worker",
            ],
            worker_env,
        )
        self.wait_for_queue(NAMEKO_QUEUE, timeout_s)

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

    def _check_alive(self) -> None:
        for key, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{key} exited with {proc.returncode}; see {self.log_dir}/{key}.log")

    def down(self, timeout_s: float = 15) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.processes.values():
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.stack")
    parser.add_argument(
        "command", choices=["up", "env"], help="up: start and supervise; env: print addresses"
    )
    parser.add_argument("--pg", default=os.environ.get("OMS_PG_DSN", "postgresql://postgres@127.0.0.1:5432"))
    parser.add_argument(
        "--amqp", default=os.environ.get("OMS_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
    )
    args = parser.parse_args()
    stack = DistributedStack(pg_dsn=args.pg, amqp_base=args.amqp)
    if args.command == "env":
        for name in NAMES:
            print(f"export OMS_{name.upper()}_ADDR={stack.address(name)}")
        return
    stack.up()
    print("Zhongshu OMS distributed stack is up (PostgreSQL databases oms_<service>, RabbitMQ, nameko):")
    for name in NAMES:
        print(f"  {name:<11} grpc {stack.address(name)}   metrics :{stack.metrics_ports[name]}")
    print(f"  logs in {stack.log_dir}/")
    print("Try:  source <(.venv/bin/python -m services.stack env) && .venv/bin/omsctl health")
    print("Ctrl-C stops every process.", flush=True)
    try:
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while True:
            time.sleep(1)
            stack._check_alive()
    except KeyboardInterrupt:
        pass
    finally:
        stack.down()


if __name__ == "__main__":
    main()
