"""Start-up guards, serving and stopping, and broker naming."""

from __future__ import annotations

import signal
import socket
import threading
import time
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc  # health_pb2 registers grpc.health.v1.Health

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from oms.order.v1 import order_pb2  # noqa: F401 - registers oms.order.v1.OrderService
from omsctl.tokens import dev_issuer
from services.chassis.rabbit import consumer_queue
from services.chassis.server import (
    GrpcBinding,
    GrpcServer,
    Termination,
    refuse_streaming_methods,
    wait_for_termination,
)
from services.chassis.settings import PortUnavailable, Settings


def test_unary_services_are_accepted():
    refuse_streaming_methods("oms.order.v1.OrderService")


def test_a_streaming_method_would_bypass_the_interceptor_so_the_service_does_not_start():
    with pytest.raises(RuntimeError, match="Watch"):
        refuse_streaming_methods("grpc.health.v1.Health")


@pytest.mark.parametrize(
    ("release", "queue"),
    [
        ("", "production.events"),
        ("hardware", "hardware.production.events"),
        ("autoparts", "autoparts.production.events"),
    ],
)
def test_each_release_on_a_shared_broker_has_its_own_queue(release, queue):
    assert consumer_queue("production", release) == queue


# --- serving and stopping (a tiny servicer on the real GrpcServer) ---------------------------

TOKEN = (("authorization", f"Bearer {dev_issuer().mint('hardware', 'u', ('sales',))}"),)


class SlowCustomers(customer_pb2_grpc.CustomerServiceServicer):
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.entered = threading.Event()

    def GetCustomer(self, request, context):
        self.entered.set()
        time.sleep(self.seconds)
        customer = customer_pb2.Customer(customer_id=request.customer_id)
        return customer_pb2.GetCustomerResponse(customer=customer)


def serving(servicer, **settings) -> GrpcServer:
    binding = GrpcBinding(
        customer_pb2.DESCRIPTOR.services_by_name["CustomerService"].full_name,
        customer_pb2_grpc.add_CustomerServiceServicer_to_server,
        servicer,
    )
    server = GrpcServer(Settings(service="test", grpc_port=0, **settings), [binding])
    server.start()
    return server


def call_in_background(server: GrpcServer) -> tuple[threading.Thread, dict]:
    outcome: dict = {}
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")

    def run():
        try:
            outcome["reply"] = customer_pb2_grpc.CustomerServiceStub(channel).GetCustomer(
                customer_pb2.GetCustomerRequest(customer_id=str(uuid.uuid4())), metadata=TOKEN, timeout=20
            )
        except grpc.RpcError as exc:
            outcome["error"] = exc.code()
        finally:
            channel.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def health_status(server: GrpcServer) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2).status


def test_the_server_listens_on_this_machine_only_by_default():
    server = serving(SlowCustomers(0))
    try:
        assert server.address == f"127.0.0.1:{server.port}"
    finally:
        server.stop(grace_s=0)


def test_stopping_lets_a_call_in_flight_finish_with_ok():
    servicer = SlowCustomers(1.0)
    server = serving(servicer)
    thread, outcome = call_in_background(server)
    assert servicer.entered.wait(5)
    server.stop(grace_s=10)
    thread.join(10)
    assert "reply" in outcome, outcome


def test_a_call_longer_than_the_grace_is_cancelled_and_stopping_is_bounded():
    servicer = SlowCustomers(2.0)
    server = serving(servicer)
    thread, outcome = call_in_background(server)
    assert servicer.entered.wait(5)
    began = time.monotonic()
    server.stop(grace_s=0.3)
    assert time.monotonic() - began < 1.5
    thread.join(10)
    assert outcome.get("error") in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE), outcome


def test_a_busy_port_names_its_variable():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(PortUnavailable, match=f"OMS_GRPC_PORT={port}.*in use"):
            GrpcServer(Settings(service="test", grpc_port=port), [])


def test_reuse_port_is_off_unless_asked_for_even_in_production():
    from services.chassis.settings import from_env

    env = {"OMS_ENV": "production", "OMS_DB_URL": "postgresql://db/x", "OMS_AMQP_URL": "amqp://mq/oms-hw"}
    env |= {"OMS_JWKS_FILE": "/etc/oms/jwks/jwks.json", "OMS_BIND_HOST": "0.0.0.0"}
    assert from_env("order", env).reuse_port is False
    assert from_env("order", env | {"OMS_REUSE_PORT": "1"}).reuse_port is True


def test_processes_of_one_service_share_its_port_when_reuse_port_is_on():
    """OMS_REUSE_PORT=1: a second process of the service listens on the same port and the kernel
    spreads connections; off (the default), the second is told the port is busy."""
    first = GrpcServer(Settings(service="test", grpc_port=0, reuse_port=True), [])
    try:
        second = GrpcServer(Settings(service="test", grpc_port=first.port, reuse_port=True), [])
        assert second.port == first.port
        second.server.stop(0)
        with pytest.raises(PortUnavailable, match="in use"):
            GrpcServer(Settings(service="test", grpc_port=first.port, reuse_port=False), [])
    finally:
        first.server.stop(0)


def test_a_dead_consumer_makes_the_service_not_serving_and_the_process_exit_non_zero():
    from services.chassis.main import EXIT_FATAL, consumer_stopped

    server = serving(SlowCustomers(0))
    termination = Termination()
    on_fatal = consumer_stopped("production", server, termination)
    assert health_status(server) == health_pb2.HealthCheckResponse.SERVING
    try:
        raise ConnectionError("channel closed by broker")
    except ConnectionError as exc:
        on_fatal(exc)
    assert health_status(server) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert termination.requested and termination.exit_code == EXIT_FATAL != 0
    assert "channel closed by broker" in termination.reason

    stopped = []
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        code = wait_for_termination(lambda: stopped.append(server.stop(grace_s=0)), termination)
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    assert code == EXIT_FATAL and stopped


def test_a_fatal_failure_is_not_hidden_by_a_signal_before_or_after_it():
    signalled_first = Termination()
    signalled_first.request("SIGTERM")
    signalled_first.request("consumer stopped", exit_code=1)
    assert signalled_first.exit_code == 1
    fatal_first = Termination()
    fatal_first.request("consumer stopped", exit_code=1)
    fatal_first.request("SIGTERM")
    assert (fatal_first.exit_code, fatal_first.reason) == (1, "consumer stopped")
