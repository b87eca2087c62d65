"""gRPC server bootstrap: chassis interceptors, tracing, health, reflection, graceful stop."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import server_interceptor

from services.chassis.interceptors import ChassisInterceptor, token_verifier
from services.chassis.settings import PortUnavailable, Settings, grpc_address

log = logging.getLogger(__name__)
HEALTH = health_pb2.HealthCheckResponse


@dataclass(frozen=True)
class GrpcBinding:
    """One servicer to host: `add(servicer, server)` is the generated add_XServicer_to_server."""

    full_name: str
    add: Callable[[object, grpc.Server], None]
    servicer: object


def refuse_streaming_methods(full_name: str) -> None:
    """The chassis interceptor authenticates and validates unary calls; a streaming method would
    pass it unchecked, so a service declaring one does not start (until the chassis handles it)."""
    service = descriptor_pool.Default().FindServiceByName(full_name)
    streaming = [m.name for m in service.methods if m.client_streaming or m.server_streaming]
    if streaming:
        raise RuntimeError(f"{full_name}: streaming methods {streaming} are not supported by the chassis")


def bind_problem(host: str, port: int, *, reuse_port: bool = False) -> str | None:
    """Why a TCP server could not listen on host:port ("Address already in use", …), or None.

    Asked before gRPC binds, so a busy port is reported in one line instead of gRPC core's log.
    SO_REUSEADDR as gRPC sets it: a port left in TIME_WAIT by a restart is not reported busy."""
    host = host.strip("[]")
    wildcard = host in ("", "::", "0.0.0.0", "*")
    try:
        if wildcard:
            candidates = [(socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")]
        else:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            candidates = list(dict.fromkeys((family, str(addr[0])) for family, _, _, _, addr in infos))
    except OSError as exc:
        return exc.strerror or str(exc)
    unavailable: list[OSError] = []  # an address family this host does not have (IPv6 off)
    for family, address in candidates:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:  # a sibling process of this service may hold it: sharing is the point
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6 and wildcard:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                s.bind((address, port))
        except OSError as exc:
            if exc.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                unavailable.append(exc)
                continue
            return exc.strerror or str(exc)
        if wildcard:
            return None  # the dual-stack wildcard covers IPv4 too
    if len(unavailable) == len(candidates):
        return unavailable[0].strerror or str(unavailable[0])
    return None


MAX_MESSAGE_BYTES = 12 * 1024 * 1024


class GrpcServer:
    """A gRPC server with the chassis interceptors, health and reflection.

    Listens on construction (`settings.bind_host:settings.grpc_port` unless host/port are given),
    so a busy port stops start-up before anything else is done; servicers may be added with
    `add()` until `start()`."""

    def __init__(
        self,
        settings: Settings,
        bindings: Iterable[GrpcBinding] = (),
        *,
        max_workers: int = 0,
        host: str | None = None,
        port: int | None = None,
        port_variable: str = "OMS_GRPC_PORT",
        name: str = "grpc",
    ):
        max_workers = settings.grpc_workers or max_workers or 8
        host = settings.bind_host if host is None else host
        port = settings.grpc_port if port is None else port
        self.bindings: list[GrpcBinding] = []
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name),
            interceptors=[
                server_interceptor(),
                ChassisInterceptor(token_verifier(settings), settings.tenants),
            ],
            options=[
                ("grpc.so_reuseport", int(settings.reuse_port)),
                # Connections are recycled every few minutes (gracefully, calls in flight finish),
                # so clients re-resolve the address and new pods of a scaled-out service get calls.
                ("grpc.max_connection_age_ms", 300_000),
                ("grpc.max_connection_age_grace_ms", 30_000),
                # The largest request a contract admits (an agent's 10 MB spreadsheet, a 5 MB
                # contract scan) with room for its envelope: larger ones are RESOURCE_EXHAUSTED
                # before any handler runs; within it, the contract's own limits answer
                # INVALID_ARGUMENT naming the field. (gRPC's default is 4 MiB.)
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        wanted = grpc_address(host, port)
        problem = bind_problem(host, port, reuse_port=settings.reuse_port) if port else None
        if problem is None:
            try:
                self.port = self.server.add_insecure_port(wanted)
            except RuntimeError:
                self.port = 0
            problem = None if self.port else "gRPC could not bind it"
        if problem is not None:
            raise PortUnavailable(
                f"cannot listen for gRPC on {wanted} ({port_variable}={port}, "
                f"OMS_BIND_HOST={host}): {problem}"
            )
        self.address = grpc_address(host, self.port)  # where it listens (the port chosen, if 0)
        self.add(bindings)

    def add(self, bindings: Iterable[GrpcBinding]) -> None:
        for b in bindings:
            refuse_streaming_methods(b.full_name)
            b.add(b.servicer, self.server)
            self.bindings.append(b)

    def start(self) -> None:
        names = [b.full_name for b in self.bindings]
        reflection.enable_server_reflection(
            [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.server.start()
        self.set_serving(True)

    def set_serving(self, serving: bool) -> None:
        status = HEALTH.SERVING if serving else HEALTH.NOT_SERVING
        self.health.set("", status)
        for b in self.bindings:
            self.health.set(b.full_name, status)

    def stop(self, grace_s: float = 10, drain_delay_s: float = 0) -> None:
        """Readiness goes NOT_SERVING first and calls are still served for `drain_delay_s`, so
        load balancers and clients move away; then new calls are refused, and calls in flight
        get up to `grace_s` to finish before they are cancelled."""
        self.set_serving(False)
        if drain_delay_s > 0:
            log.info("not serving; draining for %.1f s before refusing new calls", drain_delay_s)
            time.sleep(drain_delay_s)
        self.server.stop(grace_s).wait()


class Termination:
    """Why the process is ending: a signal (exit status 0) or a fatal failure of a part that
    cannot recover by itself (non-zero, so a supervisor such as Kubernetes restarts it).
    Thread-safe; the first fatal reason wins."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._lock = threading.Lock()
        self.exit_code = 0
        self.reason = ""

    def request(self, reason: str, exit_code: int = 0) -> None:
        with self._lock:
            if not self._done.is_set() or (exit_code and not self.exit_code):
                self.reason, self.exit_code = reason, exit_code
            self._done.set()

    @property
    def requested(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT end the process gracefully; a second one while stopping ends it now."""

        def _signal(signum, _frame):
            name = signal.Signals(signum).name
            if self.requested:
                log.warning("%s while stopping: exiting now, without waiting", name)
                os._exit(128 + signum)
            log.info("%s: shutting down", name)
            self.request(name)

        signal.signal(signal.SIGTERM, _signal)
        signal.signal(signal.SIGINT, _signal)


def wait_for_termination(on_stop: Callable[[], None], termination: Termination | None = None) -> int:
    """Block until SIGTERM/SIGINT (or a fatal failure reported to `termination`), run `on_stop`
    once, and return the exit status the process should end with."""
    termination = termination or Termination()
    termination.install_signal_handlers()
    while not termination.wait(1.0):  # a timeout keeps the main thread responsive to signals
        pass
    if termination.exit_code:
        log.error("stopping after a fatal failure: %s", termination.reason)
    on_stop()
    return termination.exit_code
