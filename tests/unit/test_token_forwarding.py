"""Calls between services carry the caller's own token: the real ingest service (its runtime,
gRPC server and order client) takes a phone order, and the order service behind the real
interceptor sees the sales person who called ingest, with the very token they sent, not one
re-signed on the way. Outside a request (an event consumer) a peer call presents the service
token the issuer minted; with none configured it is refused before anything is sent."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import uuid
from collections.abc import Iterator

import grpc
import pytest
from google.type import date_pb2

from oms.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from oms.order.v1 import order_pb2, order_pb2_grpc
from services.chassis import identity
from services.chassis.client import channel_to
from services.chassis.errors import Unauthenticated
from services.chassis.identity import Identity, acting_as
from services.chassis.inprocess_bus import InProcessBus
from services.chassis.runtime import ServiceRuntime
from services.chassis.server import GrpcBinding, GrpcServer
from services.chassis.settings import Settings
from services.ingest.app import definition as ingest
from tests.unit.keys import TestIssuer, write_jwks


class RecordingOrders(order_pb2_grpc.OrderServiceServicer):
    """The order service as far as this test needs it: who called, with what token."""

    def __init__(self) -> None:
        self.seen: list[tuple[Identity, str, str]] = []

    def CreateOrder(self, request, context):
        sent = dict(context.invocation_metadata())["authorization"]
        self.seen.append((identity.current(), identity.current_token(), sent))
        return order_pb2.CreateOrderResponse(
            order=order_pb2.Order(order_id=str(uuid.uuid4()), order_no="HW-20261125-0001")
        )


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer("forwarding-test")


@pytest.fixture
def settings(tmp_path, issuer) -> Settings:
    service_tokens = tmp_path / "service-tokens.json"
    service_tokens.write_text(json.dumps({"hardware": issuer.mint("hardware", "svc:oms", ["service"])}))
    return Settings(
        service="test",
        grpc_port=0,
        tenants=("hardware",),
        data_dir=str(tmp_path),
        jwks_file=str(write_jwks(tmp_path / "jwks.json", issuer)),
        service_token_file=str(service_tokens),
    )


@pytest.fixture
def orders(settings) -> Iterator[tuple[RecordingOrders, str]]:
    recording = RecordingOrders()
    name = order_pb2.DESCRIPTOR.services_by_name["OrderService"].full_name
    server = GrpcServer(
        dataclasses.replace(settings, service="order"),
        [GrpcBinding(name, order_pb2_grpc.add_OrderServiceServicer_to_server, recording)],
    )
    server.start()
    yield recording, f"127.0.0.1:{server.port}"
    server.stop(0)


def test_a_phone_order_reaches_the_order_service_with_the_sales_persons_own_token(settings, orders, issuer):
    recording, order_addr = orders
    ingest_settings = dataclasses.replace(
        settings, service="ingest", peers={"order": order_addr, "customer": order_addr}
    )
    runtime = ServiceRuntime(ingest, ingest_settings, InProcessBus())
    runtime.migrate()
    server = GrpcServer(ingest_settings, runtime.wiring.bindings)
    server.start()
    token = issuer.mint("hardware", "陈丽", ["sales"])
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            reply = ingest_pb2_grpc.IngestServiceStub(channel).SubmitPhoneOrder(
                ingest_pb2.SubmitPhoneOrderRequest(
                    idempotency_key=f"phone-{uuid.uuid4()}",
                    customer_id=str(uuid.uuid4()),
                    due_date=date_pb2.Date(year=2026, month=12, day=20),
                    lines=[order_pb2.OrderLine(product_model="HB-2040", quantity=5, workshop="stamping-1")],
                ),
                metadata=[("authorization", f"Bearer {token}")],
                timeout=20,
            )
    finally:
        server.stop(0)
        runtime.stop()

    assert reply.order_no == "HW-20261125-0001"
    [(caller, forwarded, sent)] = recording.seen
    assert caller == Identity("hardware", "陈丽", frozenset({"sales"}))
    assert forwarded == token and sent == f"Bearer {token}"  # the original token, not a new one


def test_outside_a_request_a_peer_call_presents_the_service_token(settings, orders):
    recording, order_addr = orders
    consumer = Identity("hardware", "svc:production", frozenset({"service"}))  # as EventConsumer acts
    with channel_to(order_addr, settings.service_token_file) as channel, acting_as(consumer):
        order_pb2_grpc.OrderServiceStub(channel).CreateOrder(
            order_pb2.CreateOrderRequest(
                customer_id=str(uuid.uuid4()),
                channel=order_pb2.CHANNEL_DIRECT,
                due_date=date_pb2.Date(year=2026, month=12, day=20),
                lines=[order_pb2.OrderLine(product_model="HB-2040", quantity=5, workshop="stamping-1")],
            ),
            timeout=20,
        )

    [(caller, forwarded, _)] = recording.seen
    assert caller == Identity("hardware", "svc:oms", frozenset({"service"}))
    assert forwarded == json.loads(pathlib.Path(settings.service_token_file).read_text())["hardware"]


def test_outside_a_request_without_a_service_token_nothing_is_sent(orders):
    recording, order_addr = orders
    consumer = Identity("hardware", "svc:production", frozenset({"service"}))
    with (
        channel_to(order_addr, "") as channel,
        acting_as(consumer),
        pytest.raises(Unauthenticated, match="OMS_SERVICE_TOKEN_FILE"),
    ):
        order_pb2_grpc.OrderServiceStub(channel).GetOrder(
            order_pb2.GetOrderRequest(order_id=str(uuid.uuid4())), timeout=20
        )
    assert recording.seen == []
