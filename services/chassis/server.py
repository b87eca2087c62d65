"""gRPC server bootstrap: chassis interceptors, tracing, health, reflection, graceful stop."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import server_interceptor

from services.chassis.interceptors import ChassisInterceptor
from services.chassis.settings import Settings

log = logging.getLogger(__name__)


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


class GrpcServer:
    def __init__(self, settings: Settings, bindings: Iterable[GrpcBinding], *, max_workers: int = 0):
        max_workers = settings.grpc_workers or max_workers or 8
        self.bindings = list(bindings)
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
            interceptors=[server_interceptor(), ChassisInterceptor(settings.jwt_secret, settings.tenants)],
            options=[("grpc.so_reuseport", 0)],
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        for b in self.bindings:
            refuse_streaming_methods(b.full_name)
            b.add(b.servicer, self.server)
        names = [b.full_name for b in self.bindings]
        reflection.enable_server_reflection(
            [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.port = self.server.add_insecure_port(f"[::]:{settings.grpc_port}")
        if self.port == 0:
            raise RuntimeError(f"cannot listen on gRPC port {settings.grpc_port}")

    def start(self) -> None:
        self.server.start()
        self._set_all(health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace_s: float = 10) -> None:
        # Readiness goes NOT_SERVING first, so load balancers stop sending new calls.
        self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.server.stop(grace_s).wait()

    def _set_all(self, status) -> None:
        self.health.set("", status)
        for b in self.bindings:
            self.health.set(b.full_name, status)


def wait_for_termination(on_stop: Callable[[], None]) -> None:
    """Block until SIGTERM/SIGINT, then run `on_stop` once."""
    done = threading.Event()

    def _signal(signum, _frame):
        log.info("signal %s: shutting down", signum)
        done.set()

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    done.wait()
    on_stop()
