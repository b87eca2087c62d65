"""`python -m services` (the embedded stack) as a real child process, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_serving(proc: subprocess.Popen, addr: str, log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(addr) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            except grpc.RpcError:
                pass
            assert time.monotonic() < deadline, f"{addr} did not become healthy:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)


@dataclass
class Process:
    proc: subprocess.Popen
    addr: str
    data: Path
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout_s: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@contextmanager
def running(
    data: Path, argv: list[str] | None = None, env: dict[str, str] | None = None
) -> Iterator[Process]:
    """Start `argv` (default: the embedded stack) on a free port with its data in `data`, wait
    until health says SERVING, stop it with SIGTERM afterwards."""
    port = free_port()
    full_env = dict(os.environ, OMS_DATA_DIR=str(data), OMS_GRPC_PORT=str(port), OMS_HTTP_PORT="0")
    for key in (
        "OMS_ENV",
        "OMS_BIND_HOST",
        "OMS_JWKS_FILE",
        "OMS_JWKS_URL",
        "OMS_METRICS_PORT",
        "OMS_AMQP_URL",
        "OMS_WMS_URL",  # the stack starts its own WMS simulator
    ):
        full_env.pop(key, None)
    full_env.update(env or {})
    log = data / "process.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv or [sys.executable, "-m", "services"],
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    process = Process(proc, f"127.0.0.1:{port}", data, log)
    try:
        wait_serving(proc, process.addr, log)
        yield process
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
