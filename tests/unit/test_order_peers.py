"""The order service's view of the customer service: a known customer is remembered per
tenant, an unknown one is asked again every time."""

from __future__ import annotations

import grpc
import pytest

from oms.customer.v1 import customer_pb2
from services.chassis.errors import NotFound, Unavailable
from services.chassis.identity import Identity, acting_as
from services.order.adapters.peers import GrpcCustomerDirectory


class CustomerStub:
    """Answers as a stub on a chassis channel does: a peer's failure arrives as a domain error."""

    def __init__(self, known: set[str], down: bool = False):
        self.known, self.down, self.calls = known, down, 0
        self.tier, self.active = customer_pb2.TIER_B, True

    def GetCustomer(self, request):  # the gRPC method name
        self.calls += 1
        if self.down:
            raise Unavailable("customer service (GetCustomer): connection refused")
        if request.customer_id not in self.known:
            raise NotFound(f"customer service (GetCustomer): {request.customer_id} not found")
        customer = customer_pb2.Customer(customer_id=request.customer_id, tier=self.tier, active=self.active)
        return customer_pb2.GetCustomerResponse(customer=customer)


def directory(stub: CustomerStub) -> GrpcCustomerDirectory:
    d = GrpcCustomerDirectory(grpc.insecure_channel("127.0.0.1:1"))
    d._stub = stub
    return d


def as_tenant(tenant: str):
    return acting_as(Identity(tenant, "陈丽", frozenset({"sales"})))


def test_a_known_customer_is_asked_for_once_per_tenant():
    stub = CustomerStub({"c-midea"})
    d = directory(stub)
    with as_tenant("hardware"):
        assert d.exists("c-midea") and d.exists("c-midea")
    assert stub.calls == 1
    with as_tenant("autoparts"):
        assert d.exists("c-midea")
    assert stub.calls == 2


def test_an_unknown_customer_is_asked_for_every_time():
    stub = CustomerStub(set())
    d = directory(stub)
    with as_tenant("hardware"):
        assert not d.exists("c-new")
        stub.known.add("c-new")  # registered a moment later
        assert d.exists("c-new")
    assert stub.calls == 2


def test_a_customer_service_outage_is_unavailable_not_unknown():
    d = directory(CustomerStub({"c-midea"}, down=True))
    with as_tenant("hardware"), pytest.raises(Unavailable):
        d.exists("c-midea")


def test_tier_and_activity_are_remembered_until_the_customer_changes():
    stub = CustomerStub({"c-midea"})
    d = directory(stub)
    with as_tenant("hardware"):
        assert d.tier("c-midea") == "TIER_B" and d.look_up("c-midea").active
        stub.tier, stub.active = customer_pb2.TIER_A, False  # the customer service moved on
        assert d.tier("c-midea") == "TIER_B"  # remembered
        d.forget("hardware", "c-midea")  # one of its events arrived
        assert d.tier("c-midea") == "TIER_A" and not d.look_up("c-midea").active
    assert stub.calls == 2
