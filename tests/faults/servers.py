"""A PostgreSQL cluster and a RabbitMQ node of the fault suite's own, on spare loopback ports, so
the suite may stop, restart and kill them without touching the machine's shared servers.

Both run as their own system users (we are root): PostgreSQL refuses to run as root, and the
RabbitMQ node shares the `rabbitmq` user's Erlang cookie so `rabbitmqctl -n NODE` can reach it.
A missing binary raises `MissingBinary`: the suite FAILS then, it never skips.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pika
import psycopg


class MissingBinary(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binary(name: str, *candidates: str) -> str:
    for pattern in candidates:
        for path in sorted(glob.glob(pattern), reverse=True):
            if os.access(path, os.X_OK):
                return path
    found = shutil.which(name)
    if found:
        return found
    raise MissingBinary(
        f"{name} not found (looked in {', '.join(candidates) or '-'} and PATH): "
        "install it (apt-get install postgresql rabbitmq-server); the fault suite needs it"
    )


def as_user(user: str) -> list[str]:
    """argv prefix that runs a command as `user` (we are root in CI and here)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise MissingBinary(
            f"system user {user!r} does not exist (its server package is not installed)"
        ) from None
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", user, "--"]
    su = shutil.which("su")
    if su is None:
        raise MissingBinary("neither runuser nor su is available to drop root for the servers")
    raise MissingBinary("runuser is missing (util-linux); su needs a shell command, not supported here")


def give_to(user: str, *paths: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
        for root, dirs, files in os.walk(path):
            os.chown(root, entry.pw_uid, entry.pw_gid)
            for f in files:
                os.chown(os.path.join(root, f), entry.pw_uid, entry.pw_gid)
            for d in dirs:
                os.chown(os.path.join(root, d), entry.pw_uid, entry.pw_gid)


def wait_until(check, timeout_s: float, what: str, interval_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:
            last = exc
        time.sleep(interval_s)
    raise TimeoutError(f"{what} not ready after {timeout_s}s (last error: {last!r})")


class Postgres:
    """`initdb` + `pg_ctl` on a spare port; `restart()` is `pg_ctl restart -m fast` with the
    server kept down for `down_s` in between."""

    def __init__(self, base: Path, log_dir: Path):
        self.bindir = os.path.dirname(
            find_binary("pg_ctl", "/usr/lib/postgresql/*/bin/pg_ctl", "/usr/local/pgsql/bin/pg_ctl")
        )
        self.initdb = os.path.join(self.bindir, "initdb")
        self.pg_ctl = os.path.join(self.bindir, "pg_ctl")
        if not os.access(self.initdb, os.X_OK):
            self.initdb = find_binary("initdb")
        self.run_as = as_user("postgres")
        self.data = base / "pgdata"
        self.sock = base / "pgsock"
        self.log = log_dir / "postgres.log"
        self.port = free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}"
        self.options = (
            f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=300 -c shared_buffers=64MB"
        )

    def _ctl(self, *args: str, timeout_s: float = 60) -> None:
        subprocess.run(
            [*self.run_as, self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *args],
            check=True,
            capture_output=True,
            timeout=timeout_s,
        )

    def start(self) -> None:
        self.sock.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(parents=True, exist_ok=True)
            give_to("postgres", self.data, self.sock)
            if os.geteuid() == 0:
                entry = pwd.getpwnam("postgres")
                os.chown(self.log, entry.pw_uid, entry.pw_gid)
            subprocess.run(
                [
                    *self.run_as,
                    self.initdb,
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        self._ctl("-o", self.options, "start")
        wait_until(self.ready, 30, "PostgreSQL")

    def ready(self) -> bool:
        with psycopg.connect(f"{self.dsn}/postgres", connect_timeout=2) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def start_again(self) -> None:
        self._ctl("-o", self.options, "start")
        wait_until(self.ready, 30, "PostgreSQL")

    def teardown(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._ctl("-m", "immediate", "stop", timeout_s=30)
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():  # pg_ctl failed: kill the postmaster ourselves
            with contextlib.suppress(Exception):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)


class RabbitNode:
    """A RabbitMQ node of its own (`oms-faults-<rand>@localhost`), own ports, mnesia and log dirs,
    no plugins. `stop()` is `rabbitmqctl -n NODE stop`; `start()` boots it again on the same data."""

    def __init__(self, base: Path, log_dir: Path):
        self.server = find_binary(
            "rabbitmq-server",
            "/usr/lib/rabbitmq/bin/rabbitmq-server",
            "/usr/lib/rabbitmq/lib/*/sbin/rabbitmq-server",
        )
        self.ctl_bin = find_binary(
            "rabbitmqctl", "/usr/lib/rabbitmq/bin/rabbitmqctl", "/usr/lib/rabbitmq/lib/*/sbin/rabbitmqctl"
        )
        self.run_as = as_user("rabbitmq")
        self.home = pwd.getpwnam("rabbitmq").pw_dir if os.geteuid() == 0 else os.environ.get("HOME", "/tmp")
        self.node = f"oms-faults-{uuid.uuid4().hex[:6]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.base = base / "rabbitmq"
        self.log_dir = log_dir / "rabbitmq"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._pgid: int | None = None
        self._out = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
        env.update(
            {
                "HOME": self.home,
                "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.log_dir),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
                "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
                # not the machine's /etc/rabbitmq/rabbitmq-env.conf (it names the shared node)
                "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            }
        )
        return env

    def start(self, timeout_s: float = 90) -> None:
        if not (self.base / "rabbitmq.conf").exists():
            self.base.mkdir(parents=True, exist_ok=True)
            (self.base / "mnesia").mkdir(exist_ok=True)
            self.log_dir.mkdir(parents=True, exist_ok=True)
            (self.base / "enabled_plugins").write_text("[].\n")
            (self.base / "rabbitmq.conf").write_text(
                f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
                "loopback_users = none\n"
                "heartbeat = 10\n"
                "log.console = false\n"
            )
            (self.base / "rabbitmq-env.conf").write_text(
                'ERL_EPMD_ADDRESS=127.0.0.1\nexport ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"\n'
            )
            give_to("rabbitmq", self.base, self.log_dir)
        self._out = open(self.log_dir.parent / "rabbitmq-server.out", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*self.run_as, self.server],
            env=self.env(),
            cwd=str(self.base),
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._pgid = self.proc.pid
        wait_until(self.ready, timeout_s, f"RabbitMQ node {self.node}", interval_s=0.3)

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"rabbitmq-server exited with {self.proc.returncode}; see {self.log_dir}")
        params = pika.URLParameters(self.url)
        params.socket_timeout = 2
        params.connection_attempts = 1
        conn = pika.BlockingConnection(params)
        conn.close()
        return True

    def ctl(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.run_as, self.ctl_bin, "-n", self.node, *args],
            env=self.env(),
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )

    def queues(self) -> dict[str, dict[str, int]]:
        """Every queue of the node: {name: {"messages": ready + unacked, "consumers": n}}, whatever
        topology the services declared (retry tiers and all)."""
        out = self.ctl(
            "list_queues", "-q", "name", "messages", "consumers", "--formatter", "json", timeout_s=30
        )
        if out.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl list_queues failed: {out.stderr.decode(errors='replace')[-300:]}"
            )
        return {
            q["name"]: {"messages": int(q["messages"]), "consumers": int(q["consumers"])}
            for q in json.loads(out.stdout or b"[]")
        }

    def stop(self, timeout_s: float = 60) -> None:
        """`rabbitmqctl stop`: the node shuts down cleanly (connections are closed)."""
        self.ctl("stop", timeout_s=timeout_s)
        self._reap(timeout_s)

    def _reap(self, timeout_s: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
        if self._out is not None:
            self._out.close()
            self._out = None

    def teardown(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.ctl("stop", timeout_s=30)
        if self.proc is not None:
            with contextlib.suppress(Exception):
                self._reap(15)
        # the Erlang VM is a grandchild (runuser -> script -> beam) in the group we started
        if self._pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pgid, signal.SIGKILL)
