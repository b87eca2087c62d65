"""Calls between services through chassis channels, against real gRPC servers: the first
caller's deadline bounds the whole chain, idempotent reads are retried by gRPC's own policy when
a peer is briefly UNAVAILABLE (writes are not), and a peer's failure arrives once translated."""

from __future__ import annotations

import time
import uuid
from concurrent import futures

import grpc
import pytest

from oms.customer.v1 import customer_pb2, customer_pb2_grpc
from oms.order.v1 import order_pb2, order_pb2_grpc
from services.chassis.client import channel_to
from services.chassis.errors import InvalidArgument, Unavailable
from services.chassis.identity import Identity, KeySet, TokenVerifier, acting_as
from services.chassis.interceptors import ChassisInterceptor
from tests.unit.keys import TestIssuer, write_jwks

CUSTOMER = str(uuid.uuid4())


class Peer:
    """A raw gRPC server playing a peer service: records what each call saw, answers per plan."""

    def __init__(self, plan: dict[str, list]):
        self.plan = plan  # rpc -> answers in turn: a StatusCode to abort with, a float to sleep
        self.calls: dict[str, list[float | None]] = {}
        handlers = {
            "oms.customer.v1.CustomerService": {
                "GetCustomer": self._answer("GetCustomer", customer_pb2.GetCustomerResponse)
            },
            "oms.order.v1.OrderService": {
                "CreateOrder": self._answer("CreateOrder", order_pb2.CreateOrderResponse)
            },
        }
        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        for service, methods in handlers.items():
            self.server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(service, methods)])
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    def _answer(self, rpc: str, reply_cls):
        def handle(request: bytes, context):
            self.calls.setdefault(rpc, []).append(context.time_remaining())
            plan = self.plan.get(rpc, [])
            step = plan.pop(0) if plan else None
            if isinstance(step, grpc.StatusCode):
                context.abort(step, f"planned {step.name}")
            if isinstance(step, float):
                time.sleep(step)
            return reply_cls().SerializeToString()

        return grpc.unary_unary_rpc_method_handler(handle)


@pytest.fixture
def issuer():
    return TestIssuer("peer-calls")


def as_sales(issuer):
    token = issuer.mint("hardware", "陈丽", ["sales"])
    return acting_as(Identity("hardware", "陈丽", frozenset({"sales"})), token)


def test_the_first_callers_deadline_bounds_the_whole_chain(issuer, tmp_path):
    slow = Peer({"GetCustomer": [3.0]})  # the customer service takes 3 s
    middle = grpc.server(
        futures.ThreadPoolExecutor(4),
        interceptors=[
            ChassisInterceptor(
                TokenVerifier(KeySet(str(write_jwks(tmp_path / "j.json", issuer)))), ["hardware"]
            )
        ],
    )

    class Order(customer_pb2_grpc.CustomerServiceServicer):
        """Stands for a service that asks a peer while serving a call."""

        def __init__(self):
            self.peer = customer_pb2_grpc.CustomerServiceStub(channel_to(slow.address))

        def GetCustomer(self, request, context):
            self.peer.GetCustomer(request)  # no timeout given: it inherits the caller's
            return customer_pb2.GetCustomerResponse()

    customer_pb2_grpc.add_CustomerServiceServicer_to_server(Order(), middle)
    port = middle.add_insecure_port("127.0.0.1:0")
    middle.start()
    token = issuer.mint("hardware", "陈丽", ["sales"])
    started = time.monotonic()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch, pytest.raises(grpc.RpcError) as caught:
        customer_pb2_grpc.CustomerServiceStub(ch).GetCustomer(
            customer_pb2.GetCustomerRequest(customer_id=CUSTOMER),
            metadata=[("authorization", f"Bearer {token}")],
            timeout=0.6,
        )
    took = time.monotonic() - started
    middle.stop(0)
    slow.server.stop(0)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert took < 1.5  # not the 5 s a fixed per-hop timeout gave, nor the peer's 3 s
    (remaining,) = slow.calls["GetCustomer"]
    assert remaining is not None and remaining <= 0.6  # the peer was told the caller's deadline


def test_an_idempotent_read_is_retried_when_the_peer_is_briefly_unavailable(issuer):
    peer = Peer({"GetCustomer": [grpc.StatusCode.UNAVAILABLE]})
    stub = customer_pb2_grpc.CustomerServiceStub(channel_to(peer.address))
    with as_sales(issuer):
        stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=CUSTOMER))
    peer.server.stop(0)
    assert len(peer.calls["GetCustomer"]) == 2


def test_a_write_is_not_retried_by_the_channel_and_arrives_as_a_domain_error(issuer):
    peer = Peer({"CreateOrder": [grpc.StatusCode.UNAVAILABLE]})
    stub = order_pb2_grpc.OrderServiceStub(channel_to(peer.address))
    with as_sales(issuer), pytest.raises(Unavailable, match=r"order service \(CreateOrder\)"):
        stub.CreateOrder(order_pb2.CreateOrderRequest())
    peer.server.stop(0)
    assert len(peer.calls["CreateOrder"]) == 1


def test_a_peers_field_violations_arrive_translated_with_their_fields(issuer):
    from google.protobuf import any_pb2
    from google.rpc import code_pb2, error_details_pb2, status_pb2
    from grpc_status import rpc_status

    def refuse(request: bytes, context):
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field="lines[0].colour", description="紫色")
                ]
            )
        )
        context.abort_with_status(
            rpc_status.to_status(
                status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="bad", details=[detail])
            )
        )

    server = grpc.server(futures.ThreadPoolExecutor(2))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "oms.order.v1.OrderService", {"CreateOrder": grpc.unary_unary_rpc_method_handler(refuse)}
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    stub = order_pb2_grpc.OrderServiceStub(channel_to(f"127.0.0.1:{port}"))
    with as_sales(issuer), pytest.raises(InvalidArgument) as caught:
        stub.CreateOrder(order_pb2.CreateOrderRequest())
    server.stop(0)
    assert [v.field for v in caught.value.violations] == ["lines[0].colour"]


def test_a_call_made_with_no_time_left_is_not_sent(issuer):
    from services.chassis import deadlines
    from services.chassis.errors import DeadlineExceeded

    peer = Peer({})
    stub = customer_pb2_grpc.CustomerServiceStub(channel_to(peer.address))
    with as_sales(issuer), deadlines.serving_until(0.0), pytest.raises(DeadlineExceeded):
        stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=CUSTOMER))
    peer.server.stop(0)
    assert peer.calls == {}


def test_calls_spread_over_every_address_the_name_resolves_to(issuer):
    """A headless Service resolves to each pod: the channel balances over all of them (round_robin)
    instead of pinning every call to the first (gRPC's default)."""
    pods = [Peer({}), Peer({})]
    target = "ipv4:" + ",".join(p.address for p in pods)  # what DNS answers for a headless Service
    stub = customer_pb2_grpc.CustomerServiceStub(channel_to(target))
    with as_sales(issuer):
        for _ in range(20):
            stub.GetCustomer(customer_pb2.GetCustomerRequest(customer_id=CUSTOMER))
    for p in pods:
        p.server.stop(0)
    # pick_first would give [20, 0]; round_robin alternates once both connections are up
    assert all(len(p.calls.get("GetCustomer", [])) >= 7 for p in pods), [p.calls for p in pods]
